"""The fast writer's times at the edges of the calendar: a UTC timestamp (moved on eight hours
rather than converted, ``ledger_record_writer._time``) gives ``canonical_time``'s text, or the
reference path's OverflowError past the year 9999."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from batterytrace.events.ledger_record import canonical_time, record_of
from batterytrace.events.ledger_record_writer import _time, record_bytes


class _Event:
    def __init__(self, **facts: object) -> None:
        self.__dict__.update(facts)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 5, 1, 1, 2, 3, 1, tzinfo=UTC),
        datetime(2026, 10, 1, 2, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 16, 0, 0, 999_999, tzinfo=UTC),  # the next day in China
        datetime(9999, 12, 31, 15, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_a_utc_moment_is_written_as_canonical_time(moment: datetime) -> None:
    text = _time(moment)
    assert isinstance(text, str)
    assert text == canonical_time(moment)
    event = _Event(originator_id="x", originator_version=1, timestamp=moment, occurred_at=moment)
    assert record_bytes(event, None)[2] == record_of(event, None).record


def test_a_utc_moment_past_the_last_chinese_day_fails_as_the_reference_does() -> None:
    moment = datetime(9999, 12, 31, 16, 0, tzinfo=UTC)
    event = _Event(originator_id="x", originator_version=1, timestamp=moment)
    with pytest.raises(OverflowError):
        record_of(event, None)
    with pytest.raises(OverflowError):
        record_bytes(event, None)
