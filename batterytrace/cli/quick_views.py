"""The views for a read-only command, read at once through the DB-API driver when they already
hold every stored event (``projections/plain_reads.py``), so that ``show`` and ``report
compliance`` start without SQLAlchemy or the event-sourcing application. When they do not (or
anything is unexpected) there is nothing here, and the command takes ``current_views()``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batterytrace.projections.plain_db import PlainConnection


@dataclass(frozen=True)
class QuickViews:
    """Current views on a read-only connection, and what a read of them needs besides (as
    ``cli.projections.CurrentViews``)."""

    connection: PlainConnection
    overdue_days: int
    now: datetime


@contextmanager
def quick_views() -> Iterator[QuickViews | None]:
    """The views on a plain read-only connection, closed afterwards; None when the caller must
    take the full path (``current_views()``)."""
    from batterytrace.projections.plain_reads import open_current_views
    from batterytrace.trace.settings import Settings

    settings = Settings.from_environment()
    connection = open_current_views(
        settings.views_database_url, settings.working_calendar(), settings.database_url
    )
    if connection is None:
        yield None
        return
    try:
        yield QuickViews(connection, settings.overdue_days, datetime.now(UTC))
    finally:
        connection.close()
