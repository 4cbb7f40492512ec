"""When the demo's reports reach the platform: the recording times of its simulated events.

Every event has two times: ``occurred_at``, when it happened in the world, and the library's
``timestamp``, when the platform recorded it. A regulator checks the second against a working-day
deadline counted from the first, so a demo that recorded years of history "now" would flag nearly
every event as late. The generator runs under ``recording_clock(ReportClock)`` and sets, before
each command, when that command's report arrives.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import Battery

# The cast and the outlets are registered a few weeks before the first battery is made.
PLATFORM_OPENS = datetime(2016, 11, 15, 9, 0, tzinfo=CHINA_STANDARD_TIME)

# How long after the real-world event its report arrives: about half the same working day, nearly
# all the rest within 5 days, 1 in 25 after 5-10 days. The shortest default deadline of any reporter
# (conventions.REPORTING_DEADLINES: a dismantler's hand-over, for one) is 15 working days (at
# least 21 calendar days), so even a report that waits for its battery's previous one (a battery's
# events are recorded in order; its previous event happened earlier and was reported within 10
# days) is on time. The planted late report comes 60-90 days after its event, well past the
# longest deadline (30 working days: at most 44 calendar days without holidays).
SAME_DAY_SHARE, WITHIN_5_DAYS_SHARE = 0.45, 0.96
SAME_DAY_SECONDS = (300, 8 * 3600)
DAY_SECONDS = 86_400
LATE_REPORT_DAYS = (60, 90)
AFTER_PREVIOUS = timedelta(minutes=10)  # a report that waited comes this long after the one before


class ReportClock:
    """The demo's recording clock: ``recording_clock(reports)`` stamps events with ``current``.

    ``report`` sets it before a battery command: a short random delay after the event, and after
    the last recorded event of each battery the command touches (a battery's events are recorded
    in order, and a report that links batteries comes after theirs), but never after ``now``, the
    application's clock. Its own random
    stream (from the seed) leaves the lives the same whatever the delays.
    """

    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(f"{seed}/reports")
        self.now = now.astimezone(UTC)
        self.current = self.now

    def __call__(self) -> datetime:
        return self.current

    def at(self, moment: datetime) -> None:
        """Record the next events at ``moment`` (a registration), or now if that is earlier."""
        self.current = min(moment.astimezone(UTC), self.now)

    def report(self, occurred_at: datetime, *linked: Battery, late: bool = False) -> None:
        """Record the next events a short delay after ``occurred_at`` (long after it if ``late``)."""
        draw = self.rng.random()
        if late:
            low, high = LATE_REPORT_DAYS
            seconds = DAY_SECONDS * (low + draw * (high - low))
        elif draw < SAME_DAY_SHARE:
            low, high = SAME_DAY_SECONDS
            seconds = low + draw / SAME_DAY_SHARE * (high - low)
        elif draw < WITHIN_5_DAYS_SHARE:
            seconds = 5 * DAY_SECONDS * (draw - SAME_DAY_SHARE) / (WITHIN_5_DAYS_SHARE - SAME_DAY_SHARE)
        else:
            seconds = 5 * DAY_SECONDS * (1 + (draw - WITHIN_5_DAYS_SHARE) / (1 - WITHIN_5_DAYS_SHARE))
        moment = (occurred_at + timedelta(seconds=int(seconds))).astimezone(UTC)
        for battery in linked:
            if battery.modified_on + AFTER_PREVIOUS > moment:
                moment = battery.modified_on + AFTER_PREVIOUS
        self.current = moment if moment < self.now else self.now
