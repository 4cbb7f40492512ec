"""The read side's connection to the same database as the events (SQLAlchemy).

Views live beside the event store so that one setting, ``BATTERYTRACE_DATABASE_URL``, names both,
and a backup of the database is a backup of everything. Only two dialect differences matter here:
how an upsert is spelt, and how a SQLite transaction takes its write lock early.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import NullPool

from batterytrace.trace.settings import parse_database_url


def create_view_engine(database_url: str) -> Engine:
    """An engine on the event store's database; PostgreSQL schemas (``?schema=``) are honoured
    through the search path, so the views sit in the same schema as the events."""
    url = parse_database_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url.set(drivername="sqlite+pysqlite"),
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=NullPool,
        )
        _take_sqlite_write_lock_at_begin(engine)
        return engine
    schema = url.query.get("schema")
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if isinstance(schema, str) and schema:
        connect_args["options"] = f"-c search_path={schema}"
    return create_engine(
        url.set(drivername="postgresql+psycopg").difference_update_query(["schema"]),
        connect_args=connect_args,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
    )


def _take_sqlite_write_lock_at_begin(engine: Engine) -> None:
    """pysqlite defers BEGIN until the first write, so two view runners could both read a
    position and only then collide; BEGIN IMMEDIATE makes the second one wait instead."""

    @event.listens_for(engine, "connect")
    def _disable_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def upsert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Iterable[str],
    add: Iterable[str] = (),
) -> None:
    """Insert rows, or on a key collision update them: columns in ``add`` are incremented by
    the new value (counters), every other column is replaced."""
    if not rows:
        return
    key = tuple(key)
    add = set(add)
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    updates = {
        column.name: (
            table.c[column.name] + statement.excluded[column.name]
            if column.name in add
            else statement.excluded[column.name]
        )
        for column in table.columns
        if column.name not in key and column.name in rows[0]
    }
    if updates:
        statement = statement.on_conflict_do_update(index_elements=list(key), set_=updates)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))
    connection.execute(statement, list(rows))
