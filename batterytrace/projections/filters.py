"""What a regulator narrows a report to (``Filters``), apart from any query toolkit: the SQLAlchemy
queries (``queries``, ``report_queries``) and the CLI's plain reads (``plain_reads``) take the same
filters, and the command line builds them before it knows which of the two will answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from batterytrace.events.conventions import EARLIEST_EVENT_DATE
from batterytrace.events.zone import CHINA_STANDARD_TIME


@dataclass(frozen=True)
class Filters:
    """What a regulator narrows a report to; every field is optional."""

    manufacturer: str | None = None
    region: str | None = None  # 2-digit province, 4-digit prefecture or 6-digit division prefix
    since: date | None = None
    until: date | None = None
    limit: int | None = None
    offset: int = 0

    @property
    def region_prefix(self) -> str | None:
        if not self.region:
            return None
        region = self.region.strip()
        if len(region) == 6 and region[2:] == "0000":
            return region[:2]  # a province
        if len(region) == 6 and region[4:] == "00":
            return region[:4]  # a prefecture
        return region

    @property
    def since_moment(self) -> datetime | None:
        """The start of ``since`` (CST) as an instant; None where it excludes nothing."""
        if self.since is None or self.since <= EARLIEST_EVENT_DATE:
            return None
        return datetime.combine(self.since, time(0), CHINA_STANDARD_TIME)

    @property
    def until_moment(self) -> datetime | None:
        """The end of ``until`` (CST) as an instant, exclusive; None where it excludes nothing (the
        calendar's last days, which no real-world time reaches and whose end cannot be computed)."""
        if self.until is None or self.until >= date.max - timedelta(days=2):
            return None
        return datetime.combine(self.until + timedelta(days=1), time(0), CHINA_STANDARD_TIME)


def month_key(day: date) -> str:
    """The month key of the monthly report ("2026-03"), zero-padded for every year."""
    return f"{day.year:04d}-{day.month:02d}"
