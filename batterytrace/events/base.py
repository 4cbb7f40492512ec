"""The aggregate base shared by batteries, participants and collection points.

Streams are keyed by the domain's own identifiers (the 24-character battery code, the 18-character
credit code, a collection point's id) rather than random UUIDs: a stream can then be found from what
is printed on a label, and creating the same battery twice collides in the store instead of silently
making a second one. The ``eventsourcing`` library supports text ids through ``BaseAggregate[str]``
and ``ORIGINATOR_ID_TYPE=text``; these classes give it the event base classes it needs for that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from eventsourcing.domain import (
    BaseAggregate,
    CanInitAggregate,
    CanMutateAggregate,
    MetaDomainEvent,
)

from batterytrace.events.errors import InvalidInput

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")

# When events are recorded. Normally the real clock; a data migration or the demo (which simulates
# years of reports) sets its own clock here, so that "recorded at" is as real as "occurred at".
_RECORDING_CLOCK: ContextVar[Callable[[], datetime] | None] = ContextVar("recording_clock", default=None)


@contextmanager
def recording_clock(clock: Callable[[], datetime]) -> Iterator[None]:
    """Within this block, new events are stamped as recorded at ``clock()``."""
    token = _RECORDING_CLOCK.set(clock)
    try:
        yield
    finally:
        _RECORDING_CLOCK.reset(token)


class TraceAggregate(BaseAggregate[str]):
    """An aggregate whose id is a domain identifier (text)."""

    @dataclass(frozen=True)
    class Event(CanMutateAggregate[str], metaclass=MetaDomainEvent):
        originator_id: str
        originator_version: int
        timestamp: datetime

        @staticmethod
        def create_timestamp() -> datetime:
            clock = _RECORDING_CLOCK.get()
            return clock() if clock else datetime.now(UTC)

        @property
        def recorded_at(self) -> datetime:
            """When the platform recorded the event (the library's own timestamp)."""
            return self.timestamp

    @dataclass(frozen=True)
    class Created(Event, CanInitAggregate[str]):
        originator_topic: str


def as_aware(moment: datetime) -> datetime:
    """Real-world times without a zone are China Standard Time (UTC+8), the platform's convention."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=CHINA_STANDARD_TIME)
    return moment


def require_positive(name: str, value: float) -> float:
    """Measurements must be positive numbers; a zero mass or capacity is always a data error."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a number, got {value!r}") from None
    if not number > 0 or number != number or number == float("inf"):
        raise InvalidInput(f"{name} must be a positive number, got {value!r}")
    return number
