"""Every exported EPCIS event names the ledger leaf logged for it, on SQLite and PostgreSQL.

The leaf in the document (``bt:ledgerLeaf``: index and SHA-256) is the one the ledger holds for
that event (``ledger_leaves``: its index and hash) and the one recomputed from the stored
event's canonical record; the whole store's export and one battery's document agree; an event
the ledger has not logged yet (the view behind, or never built) is exported without the field,
and the documents stay valid EPCIS 2.0.1 that JSON-LD expands without dropping a value. Capture
ignores the field: a document with leaves records the same events elsewhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pyld import jsonld
from sqlalchemy import text

from batterytrace.events.battery import ProductionSpec
from batterytrace.events.epcis_mapping import LEDGER_LEAF
from batterytrace.projections.ledger_config import LedgerConfig
from batterytrace.projections.ledger_view import LedgerView
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.epcis.capture import capture
from batterytrace.trace.epcis.document import document_chunks, store_master_data
from batterytrace.trace.epcis.identifiers import Identifiers
from batterytrace.trace.epcis.source import battery_events, logged_events
from batterytrace.trace.ledger.leaf_hashes import LeafReader, leaves_by_notification, leaves_by_stream
from batterytrace.trace.ledger.reading import stream_records
from batterytrace.trace.settings import Settings
from tests.utils.cast import NationalCast, register_cast
from tests.utils.epcis import (
    compact_values,
    context_loader,
    expanded_values,
    export,
    schema_errors,
    without_times_of_recording,
)
from tests.utils.views import VariedStore, battery_code, varied_store


@pytest.fixture
def logged(app: BatteryTrace, cast: NationalCast) -> Iterator[tuple[ViewRunner, VariedStore]]:
    """The varied store with the ledger caught up (unsigned: no key)."""
    store = varied_store(app, cast)
    runner = ViewRunner(app, views={"ledger": LedgerView(LedgerConfig(None))}, batch_size=50)
    runner.catch_up()
    yield runner, store
    runner.engine.dispose()


def _held_by_ledger(runner: ViewRunner, code: str, version: int) -> tuple[int, str]:
    """The leaf index and hash (hex) the ledger's tables hold for one event, read in plain SQL."""
    with runner.engine.connect() as connection:
        row = connection.execute(
            text("SELECT idx, hash FROM ledger_leaves WHERE aggregate = :code AND version = :version"),
            {"code": code, "version": version},
        ).one()
    return int(row.idx), bytes(row.hash).hex()


def _events_of(app: BatteryTrace, codes: list[str] | tuple[str, ...] = ()) -> list[Any]:
    return [positioned.seen.event for positioned in logged_events(app, None, codes=codes)]


def test_each_event_names_the_leaf_the_ledger_holds_and_the_record_gives(
    app: BatteryTrace, logged: tuple[ViewRunner, VariedStore]
) -> None:
    runner, store = logged
    document = export(app)
    exported = document["epcisBody"]["eventList"]
    events = _events_of(app)
    assert len(exported) == len(events) > 50
    recomputed = {
        (code, version): leaf.hex()
        for code in store.codes
        for version, _record, leaf in stream_records(list(app.events.get(code)))
    }
    for event, stored in zip(exported, events, strict=True):
        key = (str(stored.originator_id), stored.originator_version)
        index, sha256 = _held_by_ledger(runner, *key)
        assert event[LEDGER_LEAF] == {"bt:index": index, "bt:sha256": sha256}, key
        assert sha256 == recomputed[key], key
    assert len({event[LEDGER_LEAF]["bt:index"] for event in exported}) == len(exported)
    assert schema_errors(document) == []
    expanded = jsonld.expand(document, {"documentLoader": context_loader})
    assert expanded_values(expanded) == compact_values(document)


def test_one_batterys_document_names_the_same_leaves(
    app: BatteryTrace, logged: tuple[ViewRunner, VariedStore]
) -> None:
    _runner, store = logged
    ids = Identifiers(app.settings.public_url)
    whole = {e["eventID"]: e[LEDGER_LEAF] for e in export(app)["epcisBody"]["eventList"]}
    chunks = document_chunks(
        ids,
        battery_events(app, store.pack, None),
        master_data=store_master_data(app, ids),
        created=datetime.now(UTC),
    )
    alone = json.loads("".join(chunks))["epcisBody"]["eventList"]
    assert len(alone) == len(app.history(store.pack))
    assert {e["eventID"]: e[LEDGER_LEAF] for e in alone} == {e["eventID"]: whole[e["eventID"]] for e in alone}


def test_an_event_not_logged_yet_is_exported_without_a_leaf(
    app: BatteryTrace, cast: NationalCast, logged: tuple[ViewRunner, VariedStore]
) -> None:
    runner, store = logged
    late = battery_code("P", 77)
    app.produce(
        actor_id=cast.manufacturer,
        spec=ProductionSpec(
            code=late, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110
        ),
    )
    document = export(app, [store.pack, late])
    events = document["epcisBody"]["eventList"]
    assert [LEDGER_LEAF in e for e in events] == [True] * (len(events) - 1) + [False]
    assert schema_errors(document) == []
    runner.catch_up()  # logged now: the next export names it
    assert LEDGER_LEAF in export(app, [late])["epcisBody"]["eventList"][0]


def test_a_store_whose_ledger_was_never_built_exports_without_leaves(
    app: BatteryTrace, cast: NationalCast
) -> None:
    store = varied_store(app, cast)
    document = export(app, [store.pack])
    assert document["epcisBody"]["eventList"] and not any(
        LEDGER_LEAF in e for e in document["epcisBody"]["eventList"]
    )


def test_the_reader_answers_by_stream_and_by_notification_in_chunks(
    app: BatteryTrace, logged: tuple[ViewRunner, VariedStore]
) -> None:
    """More keys than one IN list holds, some of them never logged: those are left out."""
    runner, _store = logged
    positions = list(logged_events(app, None))
    by_position = {
        p.position: (str(p.seen.event.originator_id), p.seen.event.originator_version) for p in positions
    }
    with runner.engine.connect() as connection:
        streams = leaves_by_stream(connection, [*by_position.values(), ("NO-SUCH-STREAM", 1)])
        notifications = leaves_by_notification(connection, [*by_position, 10**9, *range(1, 700)])
    assert ("NO-SUCH-STREAM", 1) not in streams and 10**9 not in notifications
    for position, key in by_position.items():
        assert notifications[position] == streams[key]
        assert (streams[key].index, streams[key].sha256) == _held_by_ledger(runner, *key)
    reader = LeafReader(runner.engine)
    assert reader.by_stream(list(by_position.values())[:3]) == {
        key: streams[key] for key in list(by_position.values())[:3]
    }


def test_capture_ignores_the_leaves_and_records_the_same_events(
    app: BatteryTrace, logged: tuple[ViewRunner, VariedStore], tmp_path: Any
) -> None:
    _runner, store = logged
    first = export(app, [store.non_compliant])
    assert all(LEDGER_LEAF in e for e in first["epcisBody"]["eventList"])
    other = BatteryTrace(Settings(database_url=f"sqlite:///{tmp_path / 'other.db'}"))
    try:
        register_cast(other)
        capture(other, first, caller=None)
        again = export(other, [store.non_compliant])
    finally:
        other.close()
    assert not any(LEDGER_LEAF in e for e in again["epcisBody"]["eventList"])  # not logged there yet
    assert without_times_of_recording(again) == without_times_of_recording(first)
