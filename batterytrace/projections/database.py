"""The read side's connection to the same database as the events (SQLAlchemy).

Views live beside the event store so that one setting, ``BATTERYTRACE_DATABASE_URL``, names both,
and a backup of the database is a backup of everything. Only three dialect differences matter
here: how an upsert is spelt, how a SQLite transaction takes its write lock early, and how a
read-only transaction (``read_session``) avoids taking it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.pool import NullPool

from batterytrace.store import parse_database_url, postgres_schema


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
    schema = postgres_schema(url)
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if schema:
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
        if connection.get_execution_options().get(READ_ONLY):
            # A reader (read_session): no write lock; query_only refuses a write by mistake. The
            # flag stays on this SQLite connection, which NullPool closes when it is given back.
            connection.exec_driver_sql("PRAGMA query_only = ON")
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


READ_ONLY = "batterytrace_read_only"  # the execution option read_session sets


@contextmanager
def read_session(engine: Engine) -> Iterator[Connection]:
    """A connection that only reads, for as long as its reader needs (a streamed export may take
    minutes while the client downloads).

    On SQLite a write transaction begins IMMEDIATE (above), which takes the database's write lock:
    held for a whole export it would stop the event store and the view follower. A read session's
    transaction begins DEFERRED instead: in WAL mode it reads one snapshot and takes no lock, so
    writers go on. On PostgreSQL it is a READ ONLY transaction. On both a write through it is
    refused, so a read session can never hold a lock a writer waits for."""
    with engine.connect() as connection:
        options: dict[str, Any] = {READ_ONLY: True}
        if connection.dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        connection.execution_options(**options)
        yield connection


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
    # Imported here: the PostgreSQL dialect module is slow to import and a SQLite store never needs it.
    from sqlalchemy.dialects import postgresql, sqlite

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
