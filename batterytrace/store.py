"""The event store's database, as both the service and the read side reach it.

``BATTERYTRACE_DATABASE_URL`` names one database for the events and the views. The event store is
the ``eventsourcing`` library's SQLite or PostgreSQL recorder, configured by environment keys
(``PERSISTENCE_MODULE``, ``SQLITE_DBNAME``, ``POSTGRES_HOST`` …); this module turns the one URL a
user writes into those keys, serialises a store's first opening, and names the store's failures.

Why here, at the top of the package and not in ``trace``: the read side (``projections``) opens
the same database and raises the same errors, and the layers README draws forbid it to import the
service. So the adapter sits below both, beside the domain; inside the functions that need them it
imports SQLAlchemy's URL parser and the database drivers (so the settings load without them), and
nothing of ``trace``, ``cli`` or a web framework. The settings object (``trace/settings.py``) only
reads the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batterytrace.events.errors import DomainError

if TYPE_CHECKING:  # SQLAlchemy loads when a URL is parsed, not with the settings (quick CLI reads)
    from sqlalchemy.engine import URL


class ConfigurationError(DomainError):
    """A setting that cannot work; the message says which and how to fix it."""

    kind = "configuration-error"


class InvalidSetting(ConfigurationError):
    """A setting written wrongly (not a store that failed): a usage error, exit status 2."""

    exit_status = 2


class StoreUnavailable(ConfigurationError):
    """The database stopped answering (server down, lock held too long); retry later."""

    kind = "store-unavailable"


@contextmanager
def postgres_setup_lock(database_url: str) -> Iterator[None]:
    """Connect once, directly, and hold a session advisory lock while the event store creates its
    tables.

    The direct connection lets the server's own reason (no such database, password refused,
    connection refused) reach the user instead of a connection pool's time-out. The lock matters
    when several processes start at once (workers of one server, a CLI beside the service): their
    concurrent ``CREATE TABLE IF NOT EXISTS`` would otherwise race in PostgreSQL's catalogue and
    fail with "tuple concurrently updated".
    """
    import psycopg

    env = eventsourcing_env(database_url)
    try:
        connection = direct_connection(env)
    except psycopg.Error as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigurationError(
            f"cannot open the event store at {describe_database(database_url)}: {reason}; check "
            "BATTERYTRACE_DATABASE_URL and that the database server is running"
        ) from None
    try:
        connection.execute("SELECT pg_advisory_lock(%s)", (STORE_SETUP_LOCK_KEY,))
        if "POSTGRES_SCHEMA" in env:  # under the lock: two first starts would race to create it
            _create_schema(connection, env["POSTGRES_SCHEMA"], database_url)
        yield
    finally:
        connection.close()  # ends the session, which releases the lock


POOL_SIZE_SETTING = "BATTERYTRACE_POSTGRES_POOL_SIZE"
DEFAULT_POOL_SIZE = 5


def pool_size() -> int:
    """Connections each process keeps open to the event store (the library's pool opens them at
    start), from ``BATTERYTRACE_POSTGRES_POOL_SIZE`` (default 5, 1 to 100). Many processes on one
    server (service workers, view workers, CLI runs) must stay under PostgreSQL's
    ``max_connections`` (100 by default): 32 processes of 5 would not."""
    text = os.environ.get(POOL_SIZE_SETTING, "").strip()
    if not text:
        return DEFAULT_POOL_SIZE
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise InvalidSetting(f"{POOL_SIZE_SETTING}={text!r} must be a whole number from 1 to 100")
    return int(text)


def direct_connection(env: dict[str, str]) -> Any:
    """One autocommit psycopg connection to the server of a URL's ``eventsourcing_env``, outside
    any pool, so that the server's own refusal reaches the caller (5 s to connect at most)."""
    import psycopg

    return psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None,
        dbname=env["POSTGRES_DBNAME"],
        connect_timeout=5,
        autocommit=True,
    )


def _create_schema(connection: Any, schema: str, database_url: str) -> None:
    """Create the ``?schema=`` of the URL if it does not exist yet (the library creates its tables
    there, but not the schema itself). The name was checked by ``postgres_schema``."""
    import psycopg
    from psycopg import sql

    # Looked up first: CREATE SCHEMA needs the CREATE privilege on the database even when the
    # schema exists, which a production user that only owns its schema does not have.
    found = connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    if found:
        return
    try:
        connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    except psycopg.Error as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigurationError(
            f"cannot create the schema {schema!r} at {describe_database(database_url)}: {reason}; create "
            "it, or let the database user create schemas (GRANT CREATE ON DATABASE …)"
        ) from None


@contextmanager
def sqlite_setup_lock(database_url: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the SQLite file's folder while the event store opens it.

    Opening a new SQLite store switches the file to WAL and creates the tables; several openers
    at once (``serve --workers 2`` on a fresh file, a CLI beside the service) race in that switch,
    which SQLite answers with "database is locked" at once, not after its busy timeout. Where
    ``fcntl`` does not exist (Windows) openers are not serialised."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux or macOS
        yield
        return
    path = Path(eventsourcing_env(database_url)["SQLITE_DBNAME"])
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        _switch_to_wal(path)
        yield
    finally:
        os.close(folder)  # releases the lock


def _switch_to_wal(path: Path) -> None:
    """Put the file in WAL mode (as the library would) with a busy timeout, so that the library
    finds it done; its own switch runs without one."""
    import sqlite3

    try:
        wal_mode(path)
    except NotSQLite:
        raise ConfigurationError(
            f"{str(path)!r} is not a SQLite database; point BATTERYTRACE_DATABASE_URL at a "
            "batterytrace .db file, or at a new file name to create one"
        ) from None
    except sqlite3.Error:
        pass  # unreadable, read-only, locked …: the library's own open says what is wrong


class NotSQLite(Exception):
    """The file exists and is something else than a SQLite database."""


def wal_mode(path: str | Path) -> None:
    """Open ``path`` (made if absent) with a 30 s busy timeout and put it in WAL mode; the event
    store and a views database of its own both do so before anything else opens them.
    ``NotSQLite`` for a file that is no database; the driver's ``sqlite3.Error`` otherwise."""
    import sqlite3

    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error):
            raise NotSQLite(str(path)) from None
        raise
    finally:
        connection.close()


def store_setup_lock(database_url: str) -> AbstractContextManager[None]:
    """The lock that serialises opening the event store of ``database_url`` (see the two above)."""
    if eventsourcing_env(database_url)["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        return postgres_setup_lock(database_url)
    return sqlite_setup_lock(database_url)


STORE_SETUP_LOCK_KEY = 7_117_000  # pg_advisory_lock key for creating the event store's tables


def parse_database_url(database_url: str) -> URL:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(database_url)
    except ArgumentError:
        raise ConfigurationError(
            f"BATTERYTRACE_DATABASE_URL={database_url!r} is not a database URL; use "
            "sqlite:///path/to/batterytrace.db or postgresql://user:password@host:5432/dbname"
        ) from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"BATTERYTRACE_DATABASE_URL uses {url.get_backend_name()!r}; batterytrace stores "
            "events in SQLite (sqlite:///file.db) or PostgreSQL (postgresql://…)"
        )
    return url


def eventsourcing_env(database_url: str) -> dict[str, str]:
    """The ``eventsourcing`` environment for a database URL."""
    url = parse_database_url(database_url)
    env = {"ORIGINATOR_ID_TYPE": "text"}
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ConfigurationError(
                "BATTERYTRACE_DATABASE_URL must name a SQLite file (sqlite:///batterytrace.db); "
                "an in-memory database would lose every event when the process ends"
            )
        path = Path(url.database)
        if not path.parent.exists():
            raise ConfigurationError(
                f"the folder of the SQLite file {str(path)!r} does not exist; create it or change "
                "BATTERYTRACE_DATABASE_URL"
            )
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            SQLITE_DBNAME=str(path),
            SQLITE_LOCK_TIMEOUT="30",
        )
        return env
    if not url.database:
        raise ConfigurationError(
            f"BATTERYTRACE_DATABASE_URL={database_url!r} names no database; add it after the "
            "host, e.g. postgresql://postgres@127.0.0.1:5432/batterytrace"
        )
    env.update(
        PERSISTENCE_MODULE="eventsourcing.postgres",
        POSTGRES_DBNAME=url.database,
        POSTGRES_HOST=url.host or "127.0.0.1",
        POSTGRES_PORT=str(url.port or 5432),
        POSTGRES_USER=url.username or "postgres",
        POSTGRES_PASSWORD=url.password or "",
        POSTGRES_CONNECT_TIMEOUT="5",
        POSTGRES_POOL_SIZE=str(pool_size()),
        POSTGRES_MAX_OVERFLOW="10",
    )
    schema = postgres_schema(url)
    if schema:
        env["POSTGRES_SCHEMA"] = schema
    return env


# A PostgreSQL name that needs no quoting: the library writes the schema into its SQL as it is.
SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def postgres_schema(url: URL) -> str | None:
    """The ``?schema=`` of a PostgreSQL URL, checked: letters, digits and underscores, at most 63,
    not starting with a digit (so that it is never read as SQL)."""
    schema = url.query.get("schema")
    if not schema:
        return None
    if not isinstance(schema, str) or not SCHEMA_NAME.fullmatch(schema):
        raise InvalidSetting(
            f"BATTERYTRACE_DATABASE_URL names the schema {schema!r}, which is not a schema name: "
            "use letters, digits and underscores (at most 63, not starting with a digit), e.g. "
            "?schema=batterytrace"
        )
    return schema


def describe_database(database_url: str) -> str:
    """The URL without its password, for messages and logs."""
    return parse_database_url(database_url).render_as_string(hide_password=True)
