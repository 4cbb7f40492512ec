"""The read side's connection to the views' database (SQLAlchemy).

By default the views live beside the event store, so that one setting,
``BATTERYTRACE_DATABASE_URL``, names both, and a backup of the database is a backup of everything.
``BATTERYTRACE_VIEWS_DATABASE_URL`` moves them (with their positions, the ledger's tables and when
API keys were last used) to a database of their own, another SQLite file, another PostgreSQL schema
or server, so that view workers and report queries load that server and not the store's.

Exactly once still holds across two databases, for the same reason as in one: a view's rows and
its position commit in one transaction of the views' database, with a compare-and-set on the
position (``runner.py``). The event store is only read, never written, by the read side, and what
it is read for cannot change under it: stored events are immutable and a notification id names
the same event forever (ids only grow; the library numbers them in commit order). So re-reading
"the events after position p" after a crash, a kill or on another worker gives the very events
the lost transaction would have applied, and no transaction has to span both databases. What two
databases cannot give is one snapshot of both: the store's head and the views' positions are read
one after the other, which only ever makes the views look further behind than they are (a head
read later is newer), never ahead.

Only three dialect differences matter here: how an upsert is spelt, how a SQLite transaction takes
its write lock early, and how a read-only transaction (``read_session``) avoids taking it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.pool import NullPool

from batterytrace.projections.event_source import ViewSettings
from batterytrace.store import (
    ConfigurationError,
    NotSQLite,
    _create_schema,
    describe_database,
    direct_connection,
    eventsourcing_env,
    parse_database_url,
    postgres_schema,
    wal_mode,
)

STORE_SETTING = "BATTERYTRACE_DATABASE_URL"
VIEWS_SETTING = "BATTERYTRACE_VIEWS_DATABASE_URL"
VIEWS_SETUP_LOCK_KEY = 7_117_003  # pg_advisory_lock key for creating the views' schema


def open_view_engine(settings: ViewSettings) -> Engine:
    """An engine on the views' database of ``settings``: the event store's (checked when the
    store was opened), or one of their own, checked here first (``prepare_views_database``)."""
    views_url = getattr(settings, "views_database_url", "") or settings.database_url
    if views_url == settings.database_url:
        return create_view_engine(views_url)
    prepare_views_database(views_url)
    return create_view_engine(views_url, setting=VIEWS_SETTING)


@contextmanager
def naming(setting: str) -> Iterator[None]:
    """The store adapter's URL messages name ``BATTERYTRACE_DATABASE_URL``; for a URL from
    another variable they name that one."""
    try:
        yield
    except ConfigurationError as error:
        if setting == STORE_SETTING:
            raise
        raise type(error)(error.message.replace(STORE_SETTING, setting)) from None


def create_view_engine(database_url: str, *, setting: str = STORE_SETTING) -> Engine:
    """An engine on the views' database; PostgreSQL schemas (``?schema=``) are honoured through
    the search path, so the views sit in the URL's schema (by default the events' one).
    ``setting``: the variable the URL came from, which a malformed URL's message names."""
    with naming(setting):
        url = parse_database_url(database_url)
        schema = postgres_schema(url) if url.get_backend_name() == "postgresql" else None
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url.set(drivername="sqlite+pysqlite"),
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=NullPool,
        )
        _take_sqlite_write_lock_at_begin(engine)
        return engine
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


def prepare_views_database(views_url: str) -> None:
    """Check the views' own database before its engine is made, so that a wrong or unreachable
    ``BATTERYTRACE_VIEWS_DATABASE_URL`` gives one line naming that setting (not a pool's time-out or
    a failure inside the first view query), and create its ``?schema=`` if it does not exist yet.

    The store's checks of a URL (``store.eventsourcing_env``) apply as they are: the views are
    written like the events, so the same URL forms work; their messages name the views' setting."""
    with naming(VIEWS_SETTING):
        env = eventsourcing_env(views_url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        _check_sqlite_file(env["SQLITE_DBNAME"])
        return
    import psycopg

    try:
        connection = direct_connection(env)
    except psycopg.Error as error:
        raise ConfigurationError(
            f"cannot open the views database at {describe_database(views_url)}: {_first_line(error)}; "
            f"check {VIEWS_SETTING} and that its database server is running"
        ) from None
    try:
        schema = env.get("POSTGRES_SCHEMA")
        if schema:  # under a lock: workers starting together would race to create it
            connection.execute("SELECT pg_advisory_lock(%s)", (VIEWS_SETUP_LOCK_KEY,))
            _create_schema(connection, schema, views_url)
    finally:
        connection.close()  # ends the session, which releases the lock


def _check_sqlite_file(path: str) -> None:
    """A views file that exists must be a SQLite database (a new name makes a new file)."""
    import sqlite3

    try:
        wal_mode(path)
    except NotSQLite:
        raise ConfigurationError(
            f"{path!r} is not a SQLite database; point {VIEWS_SETTING} at the views' .db "
            "file, or at a new file name to create one"
        ) from None
    except sqlite3.Error as error:
        raise ConfigurationError(
            f"cannot open the views database {path!r}: {_first_line(error)}; check {VIEWS_SETTING}"
        ) from None


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


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
    statement = _upsert_statement(
        connection.dialect.name, table, tuple(key), frozenset(add), frozenset(rows[0])
    )
    connection.execute(statement, list(rows))


@functools.lru_cache(maxsize=256)
def _upsert_statement(
    dialect_name: str, table: Table, key: tuple[str, ...], add: frozenset[str], columns: frozenset[str]
) -> Any:
    """The upsert statement of ``upsert``, built once per table, key and set of columns.

    Why: building it (an ``excluded`` column per updated column) and working out its cache key
    cost ~480 µs a call on SQLite against ~45 µs to run it for one row (27 columns, measured
    2026-11-29); the view follower upserts about ten times a batch, all of it inside the write
    transaction the scans wait for on SQLite. A statement is immutable, and SQLAlchemy keeps its
    cache key with it, so the one built here serves every later batch."""
    # Imported here: the PostgreSQL dialect module is slow to import and a SQLite store never needs it.
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table)
    updates = {
        column.name: (
            table.c[column.name] + statement.excluded[column.name]
            if column.name in add
            else statement.excluded[column.name]
        )
        for column in table.columns
        if column.name not in key and column.name in columns
    }
    if updates:
        return statement.on_conflict_do_update(index_elements=list(key), set_=updates)
    return statement.on_conflict_do_nothing(index_elements=list(key))
