"""A read-only connection to the views through the DB-API driver alone (stdlib ``sqlite3``, or
``psycopg``), for the read-only commands' quick start (``plain_reads.py``).

SQLAlchemy is the read side's toolkit, but importing it (and building the tables' metadata) takes
longer than ``show`` or ``report`` needs for its whole answer. This module opens the same database
the view engine would (``database.create_view_engine``: the URL's file, or its server and
``?schema=`` search path), reads in one read-only transaction (one snapshot, no write lock, a write
refused), and turns the drivers' values into what the views' column types give through SQLAlchemy
(``plain_schema.COLUMNS``: aware UTC datetimes, decoded JSON, booleans).

The views may be in a database of their own (``BATTERYTRACE_VIEWS_DATABASE_URL``): then the views
are read from that one, and the store's head, which says whether they hold every stored event,
from the event store's (``store_head``), on a connection of its own.

Only the plain URL forms are handled; any other (a driver name, a query option, a host list) gives
None and the caller takes the SQLAlchemy path, which parses it or says what is wrong with it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from batterytrace.store import SCHEMA_NAME, StoreUnavailable

SQLITE_BUSY_SECONDS = 30  # as the view engine waits for a lock
POSTGRES_CONNECT_SECONDS = 5
POSTGRES_ROWS_PER_FETCH = 1000  # a server-side cursor's batch: a long report never sits in memory


@dataclass(frozen=True)
class Target:
    """Where the views are: a SQLite file, or a PostgreSQL database (and schema)."""

    dialect: str  # "sqlite" or "postgresql"
    path: str | None = None
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    dbname: str = ""
    schema: str | None = None


def target_of(database_url: str) -> Target | None:
    """The database a plain URL names, as ``store.eventsourcing_env`` reads it (checked against it
    by tests/unit/test_plain_db.py); None for any form this reader leaves to SQLAlchemy."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in ("sqlite", "postgresql") or "#" in rest:
        return None
    if scheme == "sqlite":
        if "?" in rest or not rest.startswith("/") or rest == "/" or rest == "/:memory:":
            return None
        path = unquote(rest[1:])
        return Target("sqlite", path=path) if Path(path).is_file() else None
    parts = urlsplit(database_url)
    netloc = parts.netloc
    if netloc.count("@") > 1 or "[" in netloc or "," in netloc:
        return None
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key != "schema" for key, _ in query) or len(query) > 1:
        return None
    schema = query[0][1] if query else None
    database = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    if not database or "/" in database or (schema is not None and not SCHEMA_NAME.fullmatch(schema)):
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return Target(
        "postgresql",
        host=parts.hostname or "127.0.0.1",
        port=port or 5432,
        user=unquote(parts.username) if parts.username else "postgres",
        password=unquote(parts.password) if parts.password else "",
        dbname=database,
        schema=schema or None,
    )


class PlainConnection:
    """One read-only transaction on the views, with the driver's values decoded as the tables'
    column types decode them. Driver failures surface as ``driver_errors``."""

    def __init__(self, target: Target) -> None:
        self.dialect = target.dialect
        if target.dialect == "sqlite":
            self.driver_errors: tuple[type[Exception], ...] = (sqlite3.Error,)
            uri = Path(target.path or "").resolve().as_uri() + "?mode=rw"  # never creates a file
            self._connection: Any = sqlite3.connect(
                uri, uri=True, timeout=SQLITE_BUSY_SECONDS, isolation_level=None
            )
            self._connection.execute("PRAGMA query_only = ON")
            self._connection.execute("BEGIN DEFERRED")  # one snapshot; WAL readers take no lock
            return
        import psycopg

        self.driver_errors = (psycopg.Error,)
        options = f"-c search_path={target.schema}" if target.schema else None
        self._connection = psycopg.connect(
            host=target.host,
            port=target.port,
            user=target.user,
            password=target.password or None,
            dbname=target.dbname,
            connect_timeout=POSTGRES_CONNECT_SECONDS,
            options=options,
        )
        self._connection.read_only = True  # BEGIN READ ONLY at the first statement

    def close(self) -> None:
        """End the read transaction and the connection; a failure here loses nothing (nothing
        was written), so it is not raised over the answer or the error that came first."""
        with suppress(*self.driver_errors):
            try:
                self._connection.rollback()
            finally:
                self._connection.close()

    def bind(self, value: Any) -> Any:
        """A parameter as the view tables' types write it: a time as UTC (naive text on SQLite)."""
        if not isinstance(value, datetime):
            return value
        value = value.astimezone(UTC)
        if self.dialect == "sqlite":  # SQLAlchemy's SQLite DATETIME text, compared as text
            return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value

    def rows(
        self, sql: str, params: Sequence[Any], kinds: Sequence[tuple[str, str]], *, stream: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The rows of ``sql`` (``?`` placeholders) as dicts keyed and decoded by ``kinds`` (the
        selected columns' names and kinds, in order). ``stream``: fetched in batches from a
        server-side cursor on PostgreSQL (SQLite's cursor steps through the rows anyway)."""
        bound = [self.bind(p) for p in params]
        if self.dialect == "sqlite":
            cursor = self._connection.execute(sql, bound)
        else:
            cursor = self._connection.cursor(name="plain_read") if stream else self._connection.cursor()
            if stream:
                cursor.itersize = POSTGRES_ROWS_PER_FETCH
            cursor.execute(sql.replace("?", "%s"), bound)
        try:
            for values in cursor:
                yield {
                    name: self._decode(kind, value) for (name, kind), value in zip(kinds, values, strict=True)
                }
        finally:
            cursor.close()

    def scalar(self, sql: str) -> Any:
        return next(iter(self._connection.execute(sql).fetchone() or (None,)))

    def _decode(self, kind: str, value: Any) -> Any:
        if value is None or kind == "plain":
            return value
        if kind == "time":
            if self.dialect == "sqlite":  # naive UTC text
                return datetime.fromisoformat(value).replace(tzinfo=UTC)
            return value.astimezone(UTC)
        if kind == "json":  # psycopg decodes json itself
            return json.loads(value) if self.dialect == "sqlite" else value
        return bool(value)


def store_head(store_url: str) -> int | None:
    """The event store's newest notification id, read through the driver alone from the store's
    own database (when the views are elsewhere); None when this reader cannot tell (a URL form it
    leaves alone, no store yet, a driver failure): the caller then takes the SQLAlchemy path."""
    from batterytrace.projections.freshness import _STORE_HEAD

    connection = plain_connection(store_url)
    if connection is None:
        return None
    try:
        return int(connection.scalar(_STORE_HEAD[connection.dialect]) or 0)
    except connection.driver_errors:
        return None
    finally:
        connection.close()


def failed(error: Exception) -> StoreUnavailable:
    """A driver failure in the middle of an answer, said as the SQLAlchemy path says it
    (``cli/main.py``: "the database failed: <its first line>")."""
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return StoreUnavailable(f"the database failed: {first}")


def plain_connection(database_url: str) -> PlainConnection | None:
    """A driver connection to ``database_url``; None when this reader cannot open it (a URL
    form it leaves alone, the driver's own failure, no driver): the caller then takes the
    SQLAlchemy path, which says what is wrong."""
    target = target_of(database_url)
    if target is None:
        return None
    try:
        return PlainConnection(target)
    except Exception:  # whatever the driver raises: the full path reports it properly
        return None
