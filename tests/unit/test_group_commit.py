"""Writes that wait while another is being saved are saved together (``GroupCommit``), and each
writer still gets exactly its own outcome: its recordings in order, its own conflict, the group's
failure, or a refusal when it waited too long, with nothing of it saved later."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import IntegrityError, OperationalError

from batterytrace.store import StoreUnavailable
from batterytrace.trace.group_commit import GroupCommit


class FakeStore:
    """Transactions as lists of events; the first one can be held open so that others queue."""

    def __init__(self) -> None:
        self.transactions: list[list[Any]] = []
        self.hold = threading.Event()
        self.holding = threading.Event()
        self.held_once = False
        self.refuse: Callable[[list[Any]], BaseException | None] = lambda events: None

    def save_together(self, events: list[Any]) -> list[Any]:
        if not self.held_once:
            self.held_once = True
            self.holding.set()
            assert self.hold.wait(5)
        error = self.refuse(events)
        if error is not None:
            raise error
        self.transactions.append(list(events))
        return [f"recorded {event}" for event in events]


def saving(group: GroupCommit, events: list[Any], outcomes: dict[str, Any]) -> threading.Thread:
    def run() -> None:
        try:
            outcomes[events[0]] = group.save(events)
        except BaseException as error:
            outcomes[events[0]] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def queued_behind_a_held_save(
    store: FakeStore, group: GroupCommit, writes: list[list[Any]]
) -> tuple[dict[str, Any], list[threading.Thread]]:
    """The first write is being saved (held); the others queue behind it."""
    outcomes: dict[str, Any] = {}
    threads = [saving(group, writes[0], outcomes)]
    assert store.holding.wait(5)
    threads += [saving(group, write, outcomes) for write in writes[1:]]
    while len(group._queue) < len(writes) - 1:  # every other write has queued
        time.sleep(0.001)
    return outcomes, threads


def finish(store: FakeStore, threads: list[threading.Thread]) -> None:
    store.hold.set()
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive()


def test_writes_that_queue_during_a_save_are_saved_in_one_transaction_each_with_its_own_recordings() -> None:
    store = FakeStore()
    group = GroupCommit(store.save_together, wait_seconds=5)
    writes = [["a1"], ["b1", "b2"], ["c1"], ["d1", "d2", "d3"]]

    outcomes, threads = queued_behind_a_held_save(store, group, writes)
    finish(store, threads)

    assert store.transactions == [["a1"], ["b1", "b2", "c1", "d1", "d2", "d3"]]
    for write in writes:
        assert outcomes[write[0]] == [f"recorded {event}" for event in write]


def test_a_conflict_in_a_group_is_refused_to_the_write_that_lost_the_race_alone() -> None:
    store = FakeStore()
    store.refuse = lambda events: IntegrityError("version taken") if "b1" in events else None
    group = GroupCommit(store.save_together, wait_seconds=5)

    outcomes, threads = queued_behind_a_held_save(store, group, [["a1"], ["b1"], ["c1"], ["d1"]])
    finish(store, threads)

    assert isinstance(outcomes["b1"], IntegrityError)
    assert store.transactions == [["a1"], ["c1"], ["d1"]]  # the group, then each alone
    assert outcomes["c1"] == ["recorded c1"] and outcomes["d1"] == ["recorded d1"]


def test_a_store_failure_is_every_members_and_records_nothing() -> None:
    store = FakeStore()
    group = GroupCommit(store.save_together, wait_seconds=5)
    outcomes, threads = queued_behind_a_held_save(store, group, [["a1"], ["b1"], ["c1"]])
    store.refuse = lambda events: OperationalError("database is locked") if len(events) > 1 else None
    finish(store, threads)

    assert store.transactions == [["a1"]]
    for key in ("b1", "c1"):
        assert isinstance(outcomes[key], OperationalError) and "locked" in str(outcomes[key])
    assert outcomes["b1"] is not outcomes["c1"]  # each thread raises an object of its own


def test_a_write_that_waits_too_long_is_refused_and_never_saved_later() -> None:
    store = FakeStore()
    group = GroupCommit(store.save_together, wait_seconds=0.2)
    outcomes: dict[str, Any] = {}
    first = saving(group, ["a1"], outcomes)
    assert store.holding.wait(5)
    late = saving(group, ["b1"], outcomes)
    late.join(5)

    assert isinstance(outcomes["b1"], StoreUnavailable)
    assert "nothing was recorded" in str(outcomes["b1"])
    finish(store, [first])
    assert store.transactions == [["a1"]] and outcomes["a1"] == ["recorded a1"]
    assert group.save(["c1"]) == ["recorded c1"]  # the next write leads as usual
    assert store.transactions == [["a1"], ["c1"]]


def test_many_writers_at_once_each_get_their_own_events_back() -> None:
    store = FakeStore()
    store.held_once = True  # nothing held: writers come and go freely
    group = GroupCommit(store.save_together, wait_seconds=5)
    outcomes: dict[str, Any] = {}
    threads = [saving(group, [f"w{i}-1", f"w{i}-2"], outcomes) for i in range(40)]
    for thread in threads:
        thread.join(5)

    assert outcomes == {f"w{i}-1": [f"recorded w{i}-1", f"recorded w{i}-2"] for i in range(40)}
    assert sorted(event for transaction in store.transactions for event in transaction) == sorted(
        f"w{i}-{n}" for i in range(40) for n in (1, 2)
    )


def test_a_write_alone_is_saved_at_once_even_with_no_time_to_wait() -> None:
    store = FakeStore()
    store.held_once = True
    assert GroupCommit(store.save_together, wait_seconds=0).save(["a1"]) == ["recorded a1"]
