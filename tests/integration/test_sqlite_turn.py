"""Writers of one SQLite file taking turns on a lock file beside it (``sqlite_turn.py``): the next
writer starts as soon as the one before it is done, a turn never turns into an error, and the
service's saves and the view follower's transactions share the one lock file of their database."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import batterytrace.projections.fresh_tables as fresh_module
from batterytrace.projections.fresh_tables import FreshTables
from batterytrace.projections.runner import ViewRunner
from batterytrace.projections.tables import ledger_edge, lifecycle_events
from batterytrace.sqlite_turn import SQLiteTurn, lock_path
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.unit.test_rebuild_writes import timeline_row


def test_a_second_writer_waits_for_the_first_and_starts_as_soon_as_it_is_done(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    first, second = SQLiteTurn(database), SQLiteTurn(database)
    started: list[float] = []

    def wait_then_write() -> None:
        with second as had:
            started.append(time.monotonic())
            assert had

    with first as had:
        assert had
        waiter = threading.Thread(target=wait_then_write)
        waiter.start()
        time.sleep(0.1)
        assert started == []  # still waiting for the first
        released = time.monotonic()
    waiter.join(5)
    assert started and started[0] - released < 0.05
    first.close()
    second.close()


def test_a_turn_not_had_within_its_wait_lets_the_writer_go_on_without_it(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    holder, late = SQLiteTurn(database), SQLiteTurn(database, wait_seconds=0.05)
    with holder:
        began = time.monotonic()
        with late as had:
            assert had is False
        assert 0.04 <= time.monotonic() - began < 1
    with late as had:  # free again
        assert had is True
    holder.close()
    late.close()


def test_threads_sharing_a_turn_take_it_one_at_a_time(tmp_path: Path) -> None:
    turn = SQLiteTurn(tmp_path / "store.db")
    inside = 0
    most = 0
    lock = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(20):
            with turn:
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.001)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most == 1
    turn.close()


def test_closing_gives_the_turn_up(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    holder, other = SQLiteTurn(database), SQLiteTurn(database, wait_seconds=0.05)
    holder.__enter__()
    holder.close()  # a writer that ends while holding its turn
    with other as had:
        assert had is True
    other.close()


def test_no_turns_off_sqlite_or_where_the_lock_file_cannot_be_made(tmp_path: Path) -> None:
    with SQLiteTurn(None) as had:
        assert had is False
    (tmp_path / "store.db-writers.lock").mkdir()  # in the lock file's place: cannot be opened
    with SQLiteTurn(tmp_path / "store.db") as had:
        assert had is False


def test_a_relative_and_an_absolute_name_of_one_file_share_its_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert lock_path("store.db") == lock_path(tmp_path / "store.db")
    assert lock_path("store.db").name == "store.db-writers.lock"


def test_the_service_and_the_view_follower_on_one_file_take_turns_on_one_lock(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}")
    service = BatteryTrace(settings)
    runner = ViewRunner(service)
    try:
        assert service._write_turns._turn.path == runner._turn.path == lock_path(tmp_path / "store.db")
        saved = threading.Event()

        def save() -> None:
            with service._write_turns:
                saved.set()

        with runner._turn:  # the follower writing: the service's save waits for it
            saver = threading.Thread(target=save)
            saver.start()
            assert not saved.wait(0.1)
        assert saved.wait(5)
        saver.join(5)
    finally:
        runner.engine.dispose()
        service.close()


def test_views_in_a_file_of_their_own_do_not_take_the_store_files_turn(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        views_database_url=f"sqlite:///{tmp_path / 'views.db'}",
    )
    service = BatteryTrace(settings)
    runner = ViewRunner(service)
    try:
        assert runner._turn.path == lock_path(tmp_path / "views.db")
        assert service._write_turns._turn.path == lock_path(tmp_path / "store.db")
    finally:
        runner.engine.dispose()
        service.close()


def test_a_rebuilds_two_processes_write_the_fresh_tables_in_turns_each_its_own(tmp_path: Path) -> None:
    """A rebuild's fresh tables are written in turn with the file's other writers; its forked
    second process (``parallel_fold``) takes a turn of its own: the lock file inherited across
    the fork would let both processes write at once, each then meeting SQLite's busy handler."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}")
    service = BatteryTrace(settings)
    runner = ViewRunner(service)
    fresh = FreshTables(runner.engine, [ledger_edge])
    fresh.create()
    try:
        fresh.write_tuples(ledger_edge, [(0, b"parent")])  # this process's turn, opened
        child = multiprocessing.get_context("fork").Process(target=_write_in_a_turn_of_its_own, args=(fresh,))
        with fresh._turns[1]:  # type: ignore[index]  # this process writing: the child waits
            child.start()
            child.join(0.3)
            assert child.is_alive(), "the forked process wrote while the other held the turn"
        child.join(10)
        assert child.exitcode == 0
        with runner.engine.connect() as connection:
            written = connection.execute(select(fresh.fresh["ledger_edge"].c.level)).scalars().all()
        assert sorted(written) == [0, 1]
    finally:
        fresh.drop()
        runner.engine.dispose()
        service.close()


def _write_in_a_turn_of_its_own(fresh: FreshTables) -> None:
    """In the forked process: write, then exit 3 if the turn taken was the parent's."""
    fresh.write_tuples(ledger_edge, [(1, b"child")])
    raise SystemExit(0 if fresh._turns is not None and fresh._turns[0] == os.getpid() else 3)


def test_a_rebuilds_rows_are_made_ready_before_its_write_turn_and_inserted_within_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Converting rows for the driver (times as text, JSON as text) needs no lock: done inside
    the turn, it kept the rebuild's other process waiting (``FreshTables.write``)."""
    service = BatteryTrace(Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}"))
    runner = ViewRunner(service)
    fresh = FreshTables(runner.engine, [lifecycle_events])
    fresh.create()
    turn_held: dict[str, list[bool]] = {"converting": [], "inserting": []}

    def noting(step: str, real: Any) -> Any:
        def step_noted(*args: Any) -> Any:
            turn = fresh._turns[1] if fresh._turns is not None else None
            turn_held[step].append(turn is not None and turn._held)
            return real(*args)

        return step_noted

    monkeypatch.setattr(fresh_module, "_as_tuples", noting("converting", fresh_module._as_tuples))
    monkeypatch.setattr(fresh_module, "insert_tuples", noting("inserting", fresh_module.insert_tuples))
    try:
        fresh.write(lifecycle_events, [timeline_row(version=1)])
        fresh.write(lifecycle_events, [timeline_row(version=2), timeline_row(version=3)])
        assert turn_held == {"converting": [False, False], "inserting": [True, True]}
        with runner.engine.connect() as connection:
            table = fresh.fresh["lifecycle_events"]
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 3
    finally:
        fresh.drop()
        runner.engine.dispose()
        service.close()
