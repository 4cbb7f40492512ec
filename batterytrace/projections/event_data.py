"""Reading domain events as plain data: their name and their facts, JSON-ready."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from batterytrace.events.zone import in_china_time

# Attributes that are bookkeeping rather than facts.
_HIDDEN = {"originator_id", "originator_version", "timestamp", "originator_topic"}
# Attributes every battery event has; shown in their own columns, not among the details.
COMMON = ("actor_id", "occurred_at", "request_id", "late_correction")


def event_name(domain_event: Any) -> str:
    """``Battery.Collected``, ``Participant.Registered`` …: aggregate and event."""
    return type(domain_event).__qualname__


_SCALARS = frozenset({str, int, float, bool, type(None)})
_TEXT = frozenset({str})


def plain(value: Any) -> Any:
    """JSON-ready: times in China Standard Time with their offset (as the views show them, so a
    battery read from its events and from the lifecycle view reads the same), dates as ISO.
    Texts and numbers, most of any event's facts, are answered first by their exact type: this
    runs for every fact of every event of a rebuild; so are lists and dicts of texts and numbers
    (a battery's components, a recycler's recovered masses), copied in one call."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list or kind is tuple:
        return list(value) if _SCALARS.issuperset(map(type, value)) else [plain(v) for v in value]
    if kind is dict and _TEXT.issuperset(map(type, value)) and _SCALARS.issuperset(map(type, value.values())):
        return dict(value)
    if isinstance(value, datetime):
        return in_china_time(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return value


# What ``event_details`` leaves out: bookkeeping and the common fields, in one set.
_NOT_DETAILS = frozenset(_HIDDEN | set(COMMON))


def event_details(domain_event: Any) -> dict[str, Any]:
    """The event's own facts, without bookkeeping and common fields, None values dropped. Texts
    and numbers pass as they are without a call to ``plain``: this runs for every battery event
    of a rebuild."""
    scalars = _SCALARS
    return {
        key: value if type(value) in scalars else plain(value)
        for key, value in vars(domain_event).items()
        if value is not None and key not in _NOT_DETAILS
    }
