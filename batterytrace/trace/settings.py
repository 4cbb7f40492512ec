"""One settings object, read from the environment; ``BATTERYTRACE_DATABASE_URL`` picks the store.

The event store is the ``eventsourcing`` library's SQLite or PostgreSQL recorder. The library is
configured by environment keys (``PERSISTENCE_MODULE``, ``SQLITE_DBNAME``, ``POSTGRES_HOST`` …);
this module turns the one URL a user writes into those keys, so nobody has to learn them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from batterytrace.events.conventions import OVERDUE_AFTER_DAYS
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
        yield
    finally:
        connection.close()  # ends the session, which releases the lock


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
    except sqlite3.Error:
        pass  # not a database, read-only …: likewise
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
        )

    def working_calendar(self) -> WorkingCalendar:
        """Weekends and the configured public holidays, for reporting deadlines."""
        return WorkingCalendar(self.holidays, self.working_weekends)


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
    value = os.environ.get(name, "").strip()
    if value.startswith("@"):
        try:
            value = Path(value[1:]).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigurationError(f"{name}: cannot read {value[1:]!r}: {error.strerror}") from None
    try:
        return tuple(parse_holidays(value))
    except ValueError:
        raise ConfigurationError(
            f"{name} must list dates as YYYY-MM-DD separated by commas or spaces, or @file"
        ) from None


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
    schema = url.query.get("schema")
    if isinstance(schema, str) and schema:
        env["POSTGRES_SCHEMA"] = schema
    return env


def describe_database(database_url: str) -> str:
    """The URL without its password, for messages and logs."""
    return parse_database_url(database_url).render_as_string(hide_password=True)
