"""Reporting deadlines counted in working days (2018 traceability rules).

Each party reports within N working days of the real-world event; weekends are not working days and
public holidays can be given as a list. The clock starts on the day after the event (the event's
own day does not count), so an event on a Friday with a 1-working-day deadline is due the
following Monday, end of day, China Standard Time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.conventions import REPORTING_DEADLINE_WORKING_DAYS


class WorkingCalendar:
    """Weekends and a holiday list; adjusted working weekends (调休) can be listed too."""

    def __init__(self, holidays: Iterable[date] = (), working_weekends: Iterable[date] = ()) -> None:
        self.holidays = frozenset(holidays)
        self.working_weekends = frozenset(working_weekends)
        # Deadlines are asked for every event of every rebuild; the answers repeat by day.
        self._due = lru_cache(maxsize=65_536)(self.add_working_days)

    def is_working_day(self, day: date) -> bool:
        if day in self.working_weekends:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
        current = start
        remaining = days
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def deadline(self, event_name: str, occurred_at: datetime) -> datetime | None:
        """End of the last day on which the event may be reported, or None if it has none."""
        days = REPORTING_DEADLINE_WORKING_DAYS.get(event_name)
        if days is None:
            return None
        local_day = occurred_at.astimezone(CHINA_STANDARD_TIME).date()
        due = self._due(local_day, days)
        return datetime.combine(due + timedelta(days=1), time(0), CHINA_STANDARD_TIME)

    def is_late(self, event_name: str, occurred_at: datetime, recorded_at: datetime) -> bool:
        due = self.deadline(event_name, occurred_at)
        return due is not None and recorded_at >= due


def parse_holidays(text: str) -> list[date]:
    """Dates separated by commas, spaces or new lines (a setting or a file's content)."""
    return [date.fromisoformat(item) for item in text.replace(",", " ").split() if item]
