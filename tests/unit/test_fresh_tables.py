"""The set-wise rebuild's own conversion of times for SQLite gives SQLAlchemy's text exactly:
the views compare stored times as text, so a row written by a rebuild and one written by the
follower must hold the same characters for the same moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from batterytrace.projections.fresh_tables import sqlite_utc_text
from batterytrace.projections.tables import UTCDateTime

SQLALCHEMY = UTCDateTime()._cached_bind_processor(sqlite.dialect())

moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
)


@given(moments)
def test_times_are_written_as_sqlalchemy_writes_them(moment: datetime) -> None:
    assert SQLALCHEMY is not None
    assert sqlite_utc_text(moment) == SQLALCHEMY(moment)


def test_whole_seconds_keep_their_microseconds_and_zones_become_utc() -> None:
    china = timezone(timedelta(hours=8))
    assert sqlite_utc_text(datetime(2024, 3, 1, 8, 0, tzinfo=china)) == "2024-03-01 00:00:00.000000"
    assert sqlite_utc_text(datetime(999, 1, 5, 12, 0, 0, 5, tzinfo=UTC)) == "0999-01-05 12:00:00.000005"


def test_a_column_the_rows_leave_out_takes_its_default_as_an_insert_would() -> None:
    from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select

    from batterytrace.projections.fresh_tables import _as_tuples, insert_tuples

    engine = create_engine("sqlite://")
    metadata = MetaData()
    table = Table(
        "t",
        metadata,
        Column("code", String, primary_key=True),
        Column("count", Integer, nullable=False, default=0),
        Column("note", String),
    )
    metadata.create_all(engine)
    with engine.begin() as connection:
        rows = [{"code": "a"}, {"code": "b", "count": 3}]
        insert_tuples(connection, table, _as_tuples(connection.dialect, table, rows))
        assert sorted(connection.execute(select(table)).all()) == [("a", 0, None), ("b", 3, None)]
