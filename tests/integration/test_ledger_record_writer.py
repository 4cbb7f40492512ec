"""The fast record writer against the reference ``record_of`` on real stored events, on SQLite and
PostgreSQL: every event of the varied store (one battery at every stage) and of a demo store,
decoded both by the library's mapper and by the rebuild's decoder, chained as the ledger chains
them, gives the same bytes and leaf hashes."""

from __future__ import annotations

from typing import Any

import pytest

from batterytrace.events.ledger_record import record_of
from batterytrace.events.ledger_record_writer import record_and_leaf
from batterytrace.projections.stored_decoding import fast_decoder
from batterytrace.trace.application import BatteryTrace
from tests.utils.views import demo_store, varied_store


@pytest.mark.parametrize("store", ["varied", "demo"])
def test_every_stored_event_gives_the_reference_record(app: BatteryTrace, store: str, request: Any) -> None:
    if store == "varied":
        varied_store(app, request.getfixturevalue("cast"))
    else:
        demo_store(app, batteries=60)
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    decode = fast_decoder(app.mapper)
    chain: dict[str, bytes] = {}
    kinds = set()
    for notification in notifications:
        for event in (app.mapper.to_domain_event(notification), decode(notification)):
            prev = chain.get(str(event.originator_id))
            expected = record_of(event, prev)
            assert record_and_leaf(event, prev) == (
                expected.aggregate,
                expected.version,
                expected.record,
                expected.leaf,
            ), notification.topic
        chain[expected.aggregate] = expected.leaf
        kinds.add(type(event).__qualname__)
    assert len(notifications) > 80 and len(kinds) >= 15, kinds
