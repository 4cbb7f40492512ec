"""Concurrent writes of one application saved together (``trace/group_commit.py``), on both
stores: writes that queue while another is being saved are stored in one transaction, each
answered with its own notification; two of them racing for one battery still end as they would
alone: one recorded, the other refused as a conflict, and nothing else of the group lost."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime
from typing import Any

from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Deliver, Reporting
from batterytrace.events.errors import ConcurrentWrite
from batterytrace.trace.application import BatteryTrace
from tests.utils.cast import NationalCast

WRITES = 8


def produced(app: BatteryTrace, cast: NationalCast, count: int) -> list[str]:
    codes = [
        make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), n) for n in range(1, count + 1)
    ]
    for code in codes:
        app.produce(
            actor_id=cast.manufacturer,
            spec=ProductionSpec(
                code=code, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110
            ),
        )
    return codes


def delivery(cast: NationalCast, code: str) -> Deliver:
    return Deliver(
        actor_id=cast.manufacturer,
        code=code,
        receiver_id=cast.vehicle_maker,
        reporting=Reporting(occurred_at=datetime(2024, 7, 25)),
    )


class HeldFirstSave:
    """The application's first grouped save waits until the test lets it go, so that the writes
    started meanwhile queue behind it; every transaction's events are counted."""

    def __init__(self, app: BatteryTrace) -> None:
        self.group = app._group_commit
        self.real = self.group._save_together
        self.release = threading.Event()
        self.started = threading.Event()
        self.transactions: list[int] = []
        self.group._save_together = self._save  # type: ignore[method-assign]

    def _save(self, events: list[Any]) -> list[Any]:
        if not self.started.is_set():
            self.started.set()
            assert self.release.wait(30)
        recordings = self.real(events)
        self.transactions.append(len(events))
        return recordings

    def queued(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while len(self.group._queue) < count:
            assert time.monotonic() < deadline, "the writes did not queue"
            time.sleep(0.005)


def in_threads(work: list[Any]) -> tuple[list[threading.Thread], dict[int, Any]]:
    outcomes: dict[int, Any] = {}

    def run(index: int, act: Any) -> None:
        try:
            outcomes[index] = act()
        except BaseException as error:  # the test reads it
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i, act)) for i, act in enumerate(work)]
    return threads, outcomes


def test_writes_that_queue_are_stored_in_one_transaction_each_with_its_own_notification(
    app: BatteryTrace, cast: NationalCast
) -> None:
    codes = produced(app, cast, WRITES + 1)
    held = HeldFirstSave(app)
    threads, outcomes = in_threads([lambda c=code: app.execute(delivery(cast, c)) for code in codes])
    threads[0].start()
    assert held.started.wait(30)
    for thread in threads[1:]:
        thread.start()
    held.queued(WRITES)
    held.release.set()
    for thread in threads:
        thread.join(30)

    assert held.transactions == [1, WRITES]  # the held one, then every write that queued behind it
    notifications = sorted(outcome.notification_id for outcome in outcomes.values())
    assert len(set(notifications)) == WRITES + 1
    for code in codes:
        assert app.battery(code).holder_id == cast.vehicle_maker


def test_two_writes_racing_for_one_battery_in_a_group_end_as_they_would_alone(
    app: BatteryTrace, cast: NationalCast
) -> None:
    first, raced, other = produced(app, cast, 3)
    held = HeldFirstSave(app)
    # two deliveries of one battery, built on the same version (no request id: no retry)
    work = [lambda: app.execute(delivery(cast, first))]
    work += [lambda: app.execute(delivery(cast, raced)) for _ in range(2)]
    work += [lambda: app.execute(delivery(cast, other))]
    threads, outcomes = in_threads(work)
    threads[0].start()
    assert held.started.wait(30)
    for thread in threads[1:]:
        thread.start()
    held.queued(3)
    held.release.set()
    for thread in threads:
        thread.join(30)

    refused = [o for o in outcomes.values() if isinstance(o, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], ConcurrentWrite), outcomes
    assert raced in str(refused[0])
    assert held.transactions[:1] == [1] and sum(held.transactions) == 3  # the group failed: then each alone
    for code in (first, raced, other):
        assert app.battery(code).holder_id == cast.vehicle_maker
    assert app.battery(raced).version == 2  # produced, delivered once
