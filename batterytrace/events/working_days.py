"""Reporting deadlines counted in working days (2018 traceability rules).

Each party reports within N working days of the real-world event; weekends are not working days and
public holidays can be given as a list. The clock starts on the day after the event (the event's
own day does not count), so an event on a Friday with a 1-working-day deadline is due the
following Monday, end of day, China Standard Time.

Which number of working days a report is held to depends on who reported what
(``batterytrace.events.deadlines``); the calendar carries the configured table so that every view
built with it uses the same one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from batterytrace.events.deadlines import DEFAULT_DEADLINES, ReportingDeadlines, ReportingRule
from batterytrace.events.zone import CHINA_STANDARD_TIME, china_local


class WorkingCalendar:
    """Weekends and a holiday list; adjusted working weekends (调休) can be listed too."""

    def __init__(
        self,
        holidays: Iterable[date] = (),
        working_weekends: Iterable[date] = (),
        deadlines: ReportingDeadlines = DEFAULT_DEADLINES,
    ) -> None:
        self.holidays = frozenset(holidays)
        self.working_weekends = frozenset(working_weekends)
        self.deadlines = deadlines
        # Deadlines are asked for every event of every rebuild (twice: the lifecycle flag and the
        # reports' findings); the answers repeat by day and by (event, roles), so both are cached,
        # and the caches are offered as they are (C calls, no Python frame) to a fold's loop:
        # ``due_on(local_day, working_days)``, ``rule_for(event, frozenset(roles), state, outlet)``.
        self.due_on = self._due = lru_cache(maxsize=65_536)(self._end_of_due_day)
        self.rule_for = self._rule = lru_cache(maxsize=4_096)(self._uncached_rule)
        self._years: dict[int, list[int]] = {}

    def is_working_day(self, day: date) -> bool:
        if day in self.working_weekends:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted).

        Counted in each year's sorted list of working days (``_working_days_of``, made once a
        year) with a bisection, not day by day: a rebuild asks this for thousands of distinct
        days, and walking 40-odd days for each was a quarter of the reports view's fold."""
        if days <= 0:
            return start
        year = start.year
        ordinals = self._working_days_of(year)
        index = bisect_right(ordinals, start.toordinal())
        while index + days > len(ordinals):
            days -= len(ordinals) - index
            year += 1
            ordinals = self._working_days_of(year)
            index = 0
        return date.fromordinal(ordinals[index + days - 1])

    def _working_days_of(self, year: int) -> list[int]:
        """The ordinals of ``year``'s working days, in order (cached: one list a year)."""
        known = self._years.get(year)
        if known is None:
            first = date(year, 1, 1).toordinal()
            last = date(year, 12, 31).toordinal()
            known = [o for o in range(first, last + 1) if self.is_working_day(date.fromordinal(o))]
            self._years[year] = known
        return known

    def due(self, occurred_at: datetime, working_days: int) -> datetime:
        """The moment a report of an event that occurred at ``occurred_at`` becomes late: the end
        (China Standard Time) of the ``working_days``-th working day after the event's day."""
        return self._due(local_day(occurred_at), working_days)

    def _end_of_due_day(self, day: date, working_days: int) -> datetime:
        due = self.add_working_days(day, working_days)
        return datetime.combine(due + timedelta(days=1), time(0), CHINA_STANDARD_TIME)

    def rule(
        self,
        event_name: str,
        actor_roles: Iterable[str] = (),
        *,
        previous_state: str | None = None,
        at_an_outlet: bool = False,
    ) -> ReportingRule | None:
        """The configured deadline rule for a report (see ``ReportingDeadlines.rule``)."""
        return self._rule(event_name, frozenset(actor_roles), previous_state, at_an_outlet)

    def _uncached_rule(
        self, event_name: str, actor_roles: frozenset[str], previous_state: str | None, at_an_outlet: bool
    ) -> ReportingRule | None:
        return self.deadlines.rule(
            event_name, actor_roles, previous_state=previous_state, at_an_outlet=at_an_outlet
        )

    def deadline(
        self,
        event_name: str,
        occurred_at: datetime,
        actor_roles: Iterable[str] = (),
        *,
        previous_state: str | None = None,
        at_an_outlet: bool = False,
    ) -> datetime | None:
        """End of the last day on which the event may be reported, or None if it has none.
        Without the reporter's roles the ``any`` row applies."""
        rule = self.rule(event_name, actor_roles, previous_state=previous_state, at_an_outlet=at_an_outlet)
        return None if rule is None else self.due(occurred_at, rule.working_days)

    def is_late(
        self,
        event_name: str,
        occurred_at: datetime,
        recorded_at: datetime,
        actor_roles: Iterable[str] = (),
        *,
        previous_state: str | None = None,
        at_an_outlet: bool = False,
    ) -> bool:
        # ``deadline`` inlined: asked for every event of a rebuild (the lifecycle's flag).
        rule = self._rule(event_name, frozenset(actor_roles), previous_state, at_an_outlet)
        return rule is not None and recorded_at >= self._due(local_day(occurred_at), rule.working_days)


def local_day(moment: datetime) -> date:
    """The day of ``moment`` in China Standard Time (``zone.china_local``)."""
    return china_local(moment).date()


def parse_holidays(text: str) -> list[date]:
    """Dates separated by commas, spaces or new lines (a setting or a file's content)."""
    return [date.fromisoformat(item) for item in text.replace(",", " ").split() if item]
