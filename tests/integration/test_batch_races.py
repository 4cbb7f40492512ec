"""A batch that loses a race to another writer on one of its batteries stores nothing, and a
batch's request id answers its replay even across that race; on SQLite and PostgreSQL.

The race is made certain, not likely: the other writer (a second application on the same store,
as another service process would be) hands one of the batteries over right after the batch has
read them and before it saves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Collect, Deliver, HandOver, Install, Reporting, Retire
from batterytrace.events.errors import ConcurrentWrite
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.batches import Batch, BatchRefused
from batterytrace.trace.settings import Settings
from tests.utils.cast import NationalCast


def at(month: int, day: int) -> datetime:
    return datetime(2025, month, day, 10, tzinfo=CHINA_STANDARD_TIME)


def collected(app: BatteryTrace, cast: NationalCast, serial: int) -> str:
    code = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", at(1, 15).date(), serial)
    spec = ProductionSpec(code=code, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110)
    app.produce(actor_id=cast.manufacturer, spec=spec)
    steps = [
        Deliver(actor_id=cast.manufacturer, code=code, receiver_id=cast.vehicle_maker),
        Install(actor_id=cast.vehicle_maker, code=code, vin="LSVAU2180N2183294"),
        Retire(actor_id=cast.vehicle_maker, code=code, reason="capacity below 80%"),
        Collect(actor_id=cast.outlet_operator, code=code, collection_point_id=cast.collection_point),
    ]
    for month, step in enumerate(steps, start=2):
        app.execute(type(step)(**{**step.__dict__, "reporting": Reporting(occurred_at=at(month, 1))}))
    return code


def hand_over(cast: NationalCast, code: str, request_id: str | None = None) -> HandOver:
    return HandOver(
        actor_id=cast.outlet_operator,
        code=code,
        receiver_id=cast.recycler,
        activity="recycling",
        reporting=Reporting(request_id=request_id),
    )


@pytest.fixture
def other(database_url: str) -> Iterator[BatteryTrace]:
    """Another writer on the same store."""
    application = BatteryTrace(Settings(database_url=database_url))
    yield application
    application.close()


def race_once(app: BatteryTrace, monkeypatch: pytest.MonkeyPatch, write: Callable[[], object]) -> None:
    """After the batch's first read of its batteries, ``write()`` runs once (the other writer)."""
    read = app.load_together
    pending = [write]

    def read_then_race(*stream_ids: str) -> dict:
        found = read(*stream_ids)
        while pending:
            pending.pop()()
        return found

    monkeypatch.setattr(app, "load_together", read_then_race)


def last_events(app: BatteryTrace, codes: list[str]) -> list[str]:
    return [type(app.history(code)[-1]).__name__ for code in codes]


def test_a_batch_that_lost_a_race_stores_nothing(
    app: BatteryTrace, cast: NationalCast, other: BatteryTrace, monkeypatch: pytest.MonkeyPatch
) -> None:
    packs = [collected(app, cast, serial) for serial in (801, 802, 803)]
    race_once(app, monkeypatch, lambda: other.execute(hand_over(cast, packs[1])))
    batch = Batch(
        actor_id=cast.outlet_operator,
        collection_point_id=cast.collection_point,
        commands=tuple(hand_over(cast, pack) for pack in packs),
    )
    with pytest.raises(ConcurrentWrite):
        app.execute_batch(batch)
    assert last_events(app, packs) == ["Collected", "HandedOver", "Collected"]
    assert [type(e).__name__ for e in app.history(packs[1])].count("HandedOver") == 1


def test_a_batch_with_a_request_id_that_lost_a_race_is_read_again_and_refused_in_words(
    app: BatteryTrace, cast: NationalCast, other: BatteryTrace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a request id the batch is retried once, as a single command is: the battery the other
    request (same outlet, another id) handed over is then refused as just done, nothing stored."""
    packs = [collected(app, cast, serial) for serial in (811, 812)]
    race_once(app, monkeypatch, lambda: other.execute(hand_over(cast, packs[0], "the-other-request")))
    batch = Batch(
        actor_id=cast.outlet_operator,
        collection_point_id=cast.collection_point,
        commands=tuple(hand_over(cast, pack, "batch-811") for pack in packs),
    )
    with pytest.raises(BatchRefused) as refused:
        app.execute_batch(batch)
    verdicts = [(o.verdict, o.error and o.error.message_key) for o in refused.value.outcomes]
    assert verdicts == [("refused", "battery.wrong_state.just_done"), ("not_stored", None)]
    assert last_events(app, packs) == ["HandedOver", "Collected"]

    monkeypatch.undo()
    again = app.execute_batch(
        Batch(
            actor_id=cast.outlet_operator,
            collection_point_id=cast.collection_point,
            commands=(hand_over(cast, packs[1], "batch-811"),),
        )
    )
    assert [o.verdict for o in again.outcomes] == ["recorded"]
