"""One settings object, read from the environment once, at start.

What the settings mean for the event store's database (the URL's parts, the library's environment,
opening it) is the store adapter's job, ``batterytrace/store.py``, which the read side uses too;
its errors are importable from here as before, for the service's modules that name them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from batterytrace.events.conventions import OVERDUE_AFTER_DAYS
from batterytrace.events.deadlines import ReportingDeadlines, parse_deadline_overrides
from batterytrace.events.working_days import WorkingCalendar, parse_holidays
from batterytrace.store import ConfigurationError, StoreUnavailable

__all__ = ["ConfigurationError", "Settings", "StoreUnavailable"]

DEFAULT_DATABASE_URL = "sqlite:///batterytrace.db"
DEFAULT_BATCH_SIZE = 500
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DEFAULT_MAX_BODY_MB = 64
DEFAULT_READY_MAX_LAG = 10_000
DEFAULT_MAX_JSON_KB = 1024  # a JSON request body; files go to the streaming routes (MAX_BODY_MB)
DEFAULT_AUTH_FAILURES_PER_MINUTE = 20
DEFAULT_READ_MAX_LAG_SECONDS = 5
DEFAULT_LOG_LEVEL = "info"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


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
    # Streaming hot standbys of the views' database that answer reads (trace/read_replicas.py), and
    # how far behind the primary one may be before reads skip it.
    read_database_urls: tuple[str, ...] = ()
    read_max_lag_seconds: int = DEFAULT_READ_MAX_LAG_SECONDS
    # Where the views (and what lives with them: their positions, the ledger's tables, when API
    # keys were last used) are; "" means the event store's database, and __post_init__ resolves
    # it, so every reader finds a URL here (projections/database.py says why two databases work).
    views_database_url: str = ""

    def __post_init__(self) -> None:
        if not self.views_database_url:
            object.__setattr__(self, "views_database_url", self.database_url)

    @property
    def views_apart(self) -> bool:
        """The views are in a database of their own (BATTERYTRACE_VIEWS_DATABASE_URL)."""
        return self.views_database_url != self.database_url

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
            read_database_urls=_read_database_urls(),
            read_max_lag_seconds=_whole_number(
                "BATTERYTRACE_READ_MAX_LAG_SECONDS", DEFAULT_READ_MAX_LAG_SECONDS
            ),
            views_database_url=os.environ.get("BATTERYTRACE_VIEWS_DATABASE_URL", "").strip(),
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


def _read_database_urls() -> tuple[str, ...]:
    """BATTERYTRACE_READ_DATABASE_URLS: comma-separated PostgreSQL URLs of streaming replicas of
    the views' database, which must then be PostgreSQL too (SQLite has no replicas)."""
    value = os.environ.get("BATTERYTRACE_READ_DATABASE_URLS", "")
    urls = tuple(url.strip() for url in value.split(",") if url.strip())
    if not urls:
        return ()
    views = (
        os.environ.get("BATTERYTRACE_VIEWS_DATABASE_URL", "").strip()
        or os.environ.get("BATTERYTRACE_DATABASE_URL", "").strip()
        or DEFAULT_DATABASE_URL
    )
    if not views.startswith("postgresql"):
        raise ConfigurationError(
            "BATTERYTRACE_READ_DATABASE_URLS names read replicas, but the views are not in "
            "PostgreSQL: replicas are streaming standbys of a PostgreSQL views database (set "
            "BATTERYTRACE_VIEWS_DATABASE_URL or BATTERYTRACE_DATABASE_URL to postgresql://…), or "
            "leave BATTERYTRACE_READ_DATABASE_URLS unset"
        )
    for url in urls:
        if not url.startswith("postgresql"):
            raise ConfigurationError(
                f"BATTERYTRACE_READ_DATABASE_URLS: {url.split('@')[-1]!r} is not a PostgreSQL URL; list "
                "streaming replicas of the views' database as postgresql://user@host:5432/dbname, "
                "separated by commas"
            )
    return urls
