"""Counting working days (``events/working_days.py``): the bisection over each year's working
days gives exactly what counting day by day gives, with holidays, adjusted working weekends (调休)
and deadlines that cross into later years."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from batterytrace.events.working_days import WorkingCalendar


def counted_day_by_day(calendar: WorkingCalendar, start: date, days: int) -> date:
    """The rule as written: step a day at a time, counting the working ones."""
    current, remaining = start, days
    while remaining > 0:
        current += timedelta(days=1)
        if calendar.is_working_day(current):
            remaining -= 1
    return current


def test_the_national_day_week_and_its_adjusted_saturday() -> None:
    golden_week = [date(2026, 10, d) for d in range(1, 9)]
    calendar = WorkingCalendar(holidays=golden_week, working_weekends=[date(2026, 10, 10)])
    # Tuesday 29 September + 3 working days: Wed 30, then (1-8 October off) Fri 9, Sat 10 (worked)
    assert calendar.add_working_days(date(2026, 9, 29), 3) == date(2026, 10, 10)
    assert calendar.add_working_days(date(2026, 9, 29), 0) == date(2026, 9, 29)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counting_by_bisection_equals_counting_day_by_day(seed: int) -> None:
    chance = random.Random(seed)
    holidays = [date(2024, 1, 1) + timedelta(days=chance.randrange(1500)) for _ in range(80)]
    saturdays = [date(2024, 1, 6) + timedelta(days=7 * chance.randrange(200)) for _ in range(20)]
    for calendar in (WorkingCalendar(), WorkingCalendar(holidays, saturdays)):
        for _ in range(3000):
            start = date(2023, 12, 1) + timedelta(days=chance.randrange(1600))
            days = chance.randrange(-2, 400)  # up to more than a year of working days
            assert calendar.add_working_days(start, days) == counted_day_by_day(calendar, start, days)
