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
from datetime import UTC, datetime

from eventsourcing.domain import (
    BaseAggregate,
    CanInitAggregate,
    CanMutateAggregate,
    MetaDomainEvent,
)

from batterytrace.events.conventions import EARLIEST_EVENT_DATE, MEASUREMENT_LIMITS
from batterytrace.events.errors import InvalidInput
from batterytrace.events.zone import CHINA_STANDARD_TIME

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
    """Real-world times without a zone are China Standard Time (UTC+8), the platform's convention.

    A time before the platform's earliest date, or so close to the ends of the calendar that it
    cannot be expressed in UTC or CST, is refused here, so that no later step (deadlines, reports,
    the database) meets it."""
    aware = moment.replace(tzinfo=CHINA_STANDARD_TIME) if moment.tzinfo is None else moment
    try:
        aware.astimezone(UTC)
        day_in_china = aware.astimezone(CHINA_STANDARD_TIME).date()
    except OverflowError:
        raise InvalidInput(
            f"time {moment.isoformat()} is not a date that can be recorded; check the date"
        ) from None
    if day_in_china < EARLIEST_EVENT_DATE:
        raise InvalidInput(
            f"time {moment.isoformat()} is before {EARLIEST_EVENT_DATE.isoformat()}, the earliest "
            "date batterytrace records (battery codes begin in 2010); check the date"
        )
    return aware


def require_positive(name: str, value: float, at_most: float | None = None) -> float:
    """Measurements must be positive, finite numbers; a zero mass or capacity is always a data
    error, and one above ``at_most`` is a unit mistake."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a number, got {value!r}") from None
    if not number > 0 or number != number or number == float("inf"):
        raise InvalidInput(f"{name} must be a positive number, got {value!r}")
    if at_most is not None and number > at_most:
        raise InvalidInput(
            f"{name} {number:g} is more than {at_most:g}, the largest plausible value; check the units"
        )
    return number


def require_measurement(name: str, value: float) -> float:
    """A positive measurement within its plausible limit (``MEASUREMENT_LIMITS``)."""
    return require_positive(name, value, at_most=MEASUREMENT_LIMITS[name])
