"""The platform's time zone, and how a time is shown to a person.

Times are stored in UTC (the library's timestamps) or with the zone they were given in; whatever
shows one to a person shows it in China Standard Time with its offset, so that a time recorded
at 04:29 UTC never reads as "04:29" beside an event that happened at 10:32 Beijing time. This
module imports nothing of the domain, so the command line can use it without loading the
event store.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


def china_local(moment: datetime) -> datetime:
    """``moment`` with China Standard Time's fields (its day, month, hour …), as
    ``astimezone(CHINA_STANDARD_TIME)`` gives them; a moment already at +08:00 (as stored
    occurrence times are) is taken as it is, since its fields are the local ones already and
    ``astimezone`` cost ten times the zone's comparison: the folds of a rebuild ask this for
    every event. (``timezone`` objects are equal when their offsets are.)"""
    if moment.tzinfo == CHINA_STANDARD_TIME:
        return moment
    return moment.astimezone(CHINA_STANDARD_TIME)


def in_china_time(moment: datetime) -> datetime:
    """The same instant in China Standard Time; a time without a zone already is one (the
    platform's convention for input)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=CHINA_STANDARD_TIME)
    return moment.astimezone(CHINA_STANDARD_TIME)


def shown_time(value: datetime | str | None) -> str:
    """A time for a table cell: ``2019-12-28 12:29:26+08:00`` (seconds, China Standard Time,
    with its offset); an ISO text is read first; nothing shows as an empty cell."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return in_china_time(moment).isoformat(sep=" ", timespec="seconds")
