"""What the view runner reads of the application, and nothing more.

The read side must not import the service (the layers README draws): it is rebuilt from the
events, whoever stored them. So the runner is given any object with the shape below, and the
service's ``BatteryTrace`` (an ``eventsourcing`` application) has it already: the library's
recorder and mapper, and the two settings the views depend on. Whoever builds a runner (the API,
the CLI, the tests) passes the application; nothing here names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from batterytrace.events.working_days import WorkingCalendar
from batterytrace.stored_rows import select_page


class NotificationLog(Protocol):
    """The store's notification log: every stored event in the order it was written."""

    def max_notification_id(self) -> int | None:
        """The newest notification's id (the store's head); None while the store is empty."""
        ...

    def select_notifications(self, start: int | None, limit: int) -> Sequence[Any]:
        """Up to ``limit`` notifications from id ``start`` on, each with an ``id``."""
        ...


class EventDecoder(Protocol):
    """Turns a stored notification back into the domain event it recorded."""

    def to_domain_event(self, stored_event: Any) -> Any: ...


class ViewSettings(Protocol):
    """The settings a view runner reads: where the database is, and the working calendar (the
    deadline table, holidays and working weekends) the late-report and compliance rows use."""

    @property
    def database_url(self) -> str: ...

    def working_calendar(self) -> WorkingCalendar: ...


class EventSource(Protocol):
    """An event store the views can follow: its log, its decoder and the views' settings."""

    @property
    def recorder(self) -> NotificationLog: ...

    @property
    def mapper(self) -> EventDecoder: ...

    @property
    def settings(self) -> ViewSettings: ...


class WrittenHeads(Protocol):
    """The head of a log that a writer is still filling, as that writer tells it (a rebuild that
    runs beside the demo's generation: ``trace/views_alongside.py``)."""

    def beyond(self, position: int) -> int | None:
        """Wait until the writer has stored past ``position`` and return its head then; None
        once it has finished and stored nothing past ``position``."""
        ...

    @property
    def final(self) -> int:
        """The head the writer finished at (known once ``beyond`` has returned None)."""
        ...


def pages_up_to(source: EventSource, head: int | WrittenHeads, page_size: int) -> Iterator[list[Any]]:
    """The store's notifications from the first up to ``head`` (the head read when a rebuild
    started: what arrives later is the catch-up's), ``page_size`` at a time, as plain rows
    (``stored_rows.select_page``: the library's ``Notification`` objects cost more than the read).
    ``head`` may be a writer's ``WrittenHeads``: then every page it announces, until it finishes."""
    if isinstance(head, int):
        yield from _pages_between(source, 1, head, page_size)
        return
    start = 1
    while (reached := head.beyond(start - 1)) is not None:
        yield from _pages_between(source, start, reached, page_size)
        start = reached + 1


def _pages_between(source: EventSource, start: int, head: int, page_size: int) -> Iterator[list[Any]]:
    while start <= head:
        page = select_page(source.recorder, start, min(page_size, head - start + 1), head, ())
        if not page:
            return
        yield page
        start = page[-1].id + 1


# --------------------------------------------------------------------------------- upstreams
# Views may follow several event stores at once (the write side split by manufacturer code or
# province, README "Past one primary"): one runner per store, each an "upstream" of the same views.
# A view's position is then one per upstream, since notification ids are numbered by each store
# on its own: "<view>" for the default upstream (the store of ``BATTERYTRACE_DATABASE_URL``, the
# row a single-store installation has always had) and "<view>@<upstream>" for any other.
UPSTREAM_SEPARATOR = "@"
_UPSTREAM_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,23}")  # "reports@" + 24 fits view_positions.view


def position_key(view: str, upstream: str | None) -> str:
    """The ``view_positions`` row of ``view``'s position in ``upstream`` (None: the default)."""
    return view if upstream is None else f"{view}{UPSTREAM_SEPARATOR}{upstream}"


def upstream_of(key: str) -> str | None:
    """The upstream a ``view_positions`` row belongs to (None: the default)."""
    _, separator, upstream = key.partition(UPSTREAM_SEPARATOR)
    return upstream if separator else None


def checked_upstream(name: str | None) -> str | None:
    """``name`` if it can name an upstream (lower-case letters, digits, ``-`` and ``_``, at most
    24), else ``InvalidSetting``."""
    if name is None or _UPSTREAM_NAME.fullmatch(name):
        return name
    from batterytrace.store import InvalidSetting

    raise InvalidSetting(
        f"upstream name {name!r}: use 1-24 lower-case letters, digits, '-' or '_' (e.g. 'sichuan' or '4by')"
    )
