"""Waking the view follower when the event store is written, instead of only polling.

On PostgreSQL the ``eventsourcing`` library sends ``NOTIFY <events table>`` on every insert; the
follower LISTENs on a connection of its own and wakes as soon as one arrives. SQLite has no such
signal (and the library's SQLite recorder cannot subscribe), so there, and whenever LISTEN cannot
be set up, the follower polls: one code path on both stores, only the wake-up differs.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from batterytrace.projections.event_source import EventSource
from batterytrace.store import parse_database_url

log = logging.getLogger(__name__)


class NotificationWaiter:
    """Sleeps until the store says something was written (PostgreSQL LISTEN), or a poll interval.
    psycopg is imported only on PostgreSQL: a SQLite store never needs it."""

    def __init__(self, connection: Any = None) -> None:
        self.connection = connection

    @classmethod
    def for_app(cls, app: EventSource) -> NotificationWaiter:
        channel = getattr(app.recorder, "channel_name", None)
        if not channel:
            return cls()
        try:
            import psycopg

            url = parse_database_url(app.settings.database_url)
            connection = psycopg.connect(
                host=url.host or "127.0.0.1",
                port=url.port or 5432,
                user=url.username or "postgres",
                password=url.password or None,
                dbname=url.database,
                autocommit=True,
                connect_timeout=5,
            )
            connection.execute(f'LISTEN "{channel}"')
        except Exception:
            log.info("LISTEN unavailable; polling instead")
            return cls()
        return cls(connection)

    def wait(self, stop: threading.Event, seconds: float) -> None:
        if self.connection is None:
            stop.wait(seconds)
            return
        deadline = time.monotonic() + seconds
        try:
            while not stop.is_set() and time.monotonic() < deadline:  # short slices: stop is seen soon
                slice_seconds = min(0.25, max(deadline - time.monotonic(), 0.0))
                if any(True for _ in self.connection.notifies(timeout=slice_seconds, stop_after=1)):
                    return
        except Exception:
            stop.wait(seconds)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
