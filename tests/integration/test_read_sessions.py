"""Read sessions on the views (``database.read_session``), on both stores: what reports, lists and
streamed exports read through.

- While a reader holds its session open (a CSV export a slow client downloads), a writer can
  take the database's write lock at once (SQLite: a read session takes no lock), and a view
  follower applies new events.
- A write through a read session is refused (a read session never holds a lock a writer waits
  for), and a write connection opened afterwards writes as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from batterytrace.projections.database import read_session
from batterytrace.projections.runner import ViewRunner
from batterytrace.projections.tables import positions
from batterytrace.trace.application import BatteryTrace
from tests.utils.cast import NationalCast, credit_code


@pytest.fixture
def runner(app: BatteryTrace, cast: NationalCast) -> Iterator[ViewRunner]:
    views = ViewRunner(app)
    views.catch_up()
    yield views
    views.engine.dispose()


def test_while_a_report_is_being_read_the_views_take_in_new_events(
    app: BatteryTrace, cast: NationalCast, runner: ViewRunner
) -> None:
    late_joiner = credit_code("91110000MA0000009")
    with read_session(runner.engine) as reader:
        before = dict(reader.execute(select(positions.c.view, positions.c.position)).all())
        app.register_participant(
            actor_id=cast.regulator, credit_code=late_joiner, name="Late", roles=["recycler"]
        )
        assert runner.catch_up() > 0  # the follower's write transaction is not held up

    assert runner.position("lifecycle") == runner.head() > before["lifecycle"]


def test_sqlite_writers_get_the_write_lock_at_once_while_a_reader_reads(runner: ViewRunner) -> None:
    if runner.engine.dialect.name != "sqlite":
        pytest.skip("the database-wide write lock is SQLite's")
    path = runner.engine.url.database
    with read_session(runner.engine) as reader:
        reader.execute(select(positions)).all()  # the reader's transaction is open
        writer = sqlite3.connect(path, timeout=0.5, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")  # "database is locked" if the reader held the lock
            writer.execute("ROLLBACK")
        finally:
            writer.close()


def test_a_write_through_a_read_session_is_refused_and_later_writes_go_on(runner: ViewRunner) -> None:
    with read_session(runner.engine) as reader, pytest.raises(DBAPIError, match=r"(?i)read.only|readonly"):
        reader.execute(update(positions).where(positions.c.view == "network").values(position=0))

    with runner.engine.begin() as writer:
        moved = writer.execute(update(positions).where(positions.c.view == "network").values(position=0))
    assert moved.rowcount == 1
