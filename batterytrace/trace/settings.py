"""One settings object, read from the environment; ``BATTERYTRACE_DATABASE_URL`` picks the store.

The event store is the ``eventsourcing`` library's SQLite or PostgreSQL recorder. The library is
configured by environment keys (``PERSISTENCE_MODULE``, ``SQLITE_DBNAME``, ``POSTGRES_HOST`` …);
this module turns the one URL a user writes into those keys, so nobody has to learn them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from batterytrace.events.conventions import OVERDUE_AFTER_DAYS
from batterytrace.events.deadlines import ReportingDeadlines, parse_deadline_overrides
from batterytrace.events.errors import DomainError
from batterytrace.events.working_days import WorkingCalendar, parse_holidays

DEFAULT_DATABASE_URL = "sqlite:///batterytrace.db"
DEFAULT_BATCH_SIZE = 500
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DEFAULT_MAX_BODY_MB = 64
DEFAULT_READY_MAX_LAG = 10_000
DEFAULT_MAX_JSON_KB = 1024  # a JSON request body; files go to the streaming routes (MAX_BODY_MB)
DEFAULT_AUTH_FAILURES_PER_MINUTE = 20
DEFAULT_LOG_LEVEL = "info"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


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
        connection = psycopg.connect(
            host=env["POSTGRES_HOST"],
            port=int(env["POSTGRES_PORT"]),
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            dbname=env["POSTGRES_DBNAME"],
            connect_timeout=5,
            autocommit=True,
        )
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
        connection = sqlite3.connect(path, timeout=30)
    except sqlite3.Error:
        return  # the library's own open says what is wrong
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error):
            raise ConfigurationError(
                f"{str(path)!r} is not a SQLite database; point BATTERYTRACE_DATABASE_URL at a "
                "batterytrace .db file, or at a new file name to create one"
            ) from None
        # read-only, locked …: the library's own open says what is wrong
    except sqlite3.Error:
        pass  # likewise
    finally:
        connection.close()


def store_setup_lock(database_url: str) -> AbstractContextManager[None]:
    """The lock that serialises opening the event store of ``database_url`` (see the two above)."""
    if eventsourcing_env(database_url)["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        return postgres_setup_lock(database_url)
    return sqlite_setup_lock(database_url)


STORE_SETUP_LOCK_KEY = 7_117_000  # pg_advisory_lock key for creating the event store's tables


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    import_batch_size: int = DEFAULT_BATCH_SIZE
    overdue_days: int = OVERDUE_AFTER_DAYS
    holidays: tuple[date, ...] = ()
    working_weekends: tuple[date, ...] = ()
    public_url: str = DEFAULT_PUBLIC_URL
    max_body_bytes: int = DEFAULT_MAX_BODY_MB * 1024 * 1024
    ready_max_lag: int = DEFAULT_READY_MAX_LAG
    max_json_body_bytes: int = DEFAULT_MAX_JSON_KB * 1024
    auth_failures_per_minute: int = DEFAULT_AUTH_FAILURES_PER_MINUTE
    log_level: str = DEFAULT_LOG_LEVEL
    # Reporting deadlines that replace the defaults: ((role, event), working days) pairs.
    deadlines: tuple[tuple[tuple[str, str], int], ...] = ()

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            database_url=os.environ.get("BATTERYTRACE_DATABASE_URL") or DEFAULT_DATABASE_URL,
            import_batch_size=_whole_number("BATTERYTRACE_IMPORT_BATCH_SIZE", DEFAULT_BATCH_SIZE),
            overdue_days=_whole_number("BATTERYTRACE_OVERDUE_DAYS", OVERDUE_AFTER_DAYS),
            holidays=_dates("BATTERYTRACE_HOLIDAYS"),
            working_weekends=_dates("BATTERYTRACE_WORKING_WEEKENDS"),
            public_url=(os.environ.get("BATTERYTRACE_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/"),
            max_body_bytes=_whole_number("BATTERYTRACE_MAX_BODY_MB", DEFAULT_MAX_BODY_MB) * 1024 * 1024,
            ready_max_lag=_whole_number("BATTERYTRACE_READY_MAX_LAG", DEFAULT_READY_MAX_LAG),
            max_json_body_bytes=_whole_number("BATTERYTRACE_MAX_JSON_KB", DEFAULT_MAX_JSON_KB) * 1024,
            auth_failures_per_minute=_whole_number(
                "BATTERYTRACE_AUTH_FAILURES_PER_MINUTE", DEFAULT_AUTH_FAILURES_PER_MINUTE
            ),
            log_level=_log_level(),
            deadlines=_deadlines("BATTERYTRACE_DEADLINES"),
        )

    def working_calendar(self) -> WorkingCalendar:
        """Weekends, the configured public holidays and deadlines, for reporting deadlines."""
        return WorkingCalendar(self.holidays, self.working_weekends, ReportingDeadlines(dict(self.deadlines)))


def _whole_number(name: str, default: int) -> int:
    value = os.environ.get(name, str(default)).strip()
    if not value.isdigit() or int(value) < 1:
        raise ConfigurationError(f"{name}={value!r} must be a whole number of 1 or more")
    return int(value)


def _log_level() -> str:
    value = (os.environ.get("BATTERYTRACE_LOG_LEVEL") or DEFAULT_LOG_LEVEL).strip().lower()
    if value not in LOG_LEVELS:
        raise ConfigurationError(f"BATTERYTRACE_LOG_LEVEL={value!r} must be one of {', '.join(LOG_LEVELS)}")
    return value


def _dates(name: str) -> tuple[date, ...]:
    """Dates from a variable: a list (2026-10-01,2026-10-02) or @path to a file of them."""
    value = _setting_text(name)
    try:
        return tuple(parse_holidays(value))
    except ValueError:
        raise ConfigurationError(
            f"{name} must list dates as YYYY-MM-DD separated by commas or spaces, or @file"
        ) from None


def _deadlines(name: str) -> tuple[tuple[tuple[str, str], int], ...]:
    """Deadline rows from a variable: ``role:Event=days`` entries (``dismantler:HandedOver=15,…``)
    or @path to a file of them."""
    value = _setting_text(name)
    try:
        return tuple(sorted(parse_deadline_overrides(value).items()))
    except ValueError as error:
        raise ConfigurationError(f"{name}: {error}") from None


def _setting_text(name: str) -> str:
    """A variable's value, or the content of the file it names as @path."""
    value = os.environ.get(name, "").strip()
    if value.startswith("@"):
        try:
            return Path(value[1:]).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigurationError(f"{name}: cannot read {value[1:]!r}: {error.strerror}") from None
    return value


def parse_database_url(database_url: str) -> URL:
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
        POSTGRES_POOL_SIZE="5",
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
