"""One process's writers take turns on a SQLite event store (``application.WriteTurns``), so that
a thread waiting to write wakes when the one before it commits instead of sleeping in SQLite's
busy handler; on PostgreSQL they do not wait for each other."""

from __future__ import annotations

import threading

import pytest

from batterytrace.store import StoreUnavailable
from batterytrace.trace import application
from batterytrace.trace.application import BatteryTrace
from tests.utils.cast import register_cast


def _register_in_thread(app: BatteryTrace) -> tuple[threading.Thread, list[BaseException]]:
    failures: list[BaseException] = []

    def register() -> None:
        try:
            register_cast(app)
        except BaseException as error:  # handed to the test
            failures.append(error)

    thread = threading.Thread(target=register)
    thread.start()
    return thread, failures


ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@ON_SQLITE
def test_a_write_on_sqlite_waits_for_the_turn_and_records_after_it(app: BatteryTrace) -> None:
    with app._write_turns:
        thread, failures = _register_in_thread(app)
        thread.join(timeout=0.5)
        assert thread.is_alive(), "a second writer ran while the turn was held"
        assert app.recorder.max_notification_id() in (None, 0)
    thread.join(timeout=30)
    assert not thread.is_alive() and not failures, failures
    assert app.recorder.max_notification_id() > 0


@ON_SQLITE
def test_a_write_that_waits_too_long_is_refused_and_records_nothing(
    app: BatteryTrace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(application, "TURN_WAIT_SECONDS", 0.2)
    with app._write_turns:
        thread, failures = _register_in_thread(app)
        thread.join(timeout=30)
    assert len(failures) == 1 and isinstance(failures[0], StoreUnavailable), failures
    assert "busy" in str(failures[0]) and "retry" in str(failures[0])
    assert app.recorder.max_notification_id() in (None, 0)


@ON_POSTGRES
def test_writers_on_postgres_do_not_take_turns(app: BatteryTrace) -> None:
    with app._write_turns:
        thread, failures = _register_in_thread(app)
        thread.join(timeout=30)
        assert not thread.is_alive() and not failures, failures
    assert app.recorder.max_notification_id() > 0
