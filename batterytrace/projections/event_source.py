"""What the view runner reads of the application, and nothing more.

The read side must not import the service (the layers README draws): it is rebuilt from the
events, whoever stored them. So the runner is given any object with the shape below, and the
service's ``BatteryTrace`` (an ``eventsourcing`` application) has it already: the library's
recorder and mapper, and the two settings the views depend on. Whoever builds a runner (the API,
the CLI, the tests) passes the application; nothing here names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from batterytrace.events.working_days import WorkingCalendar


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
