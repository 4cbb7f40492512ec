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


def plain(value: Any) -> Any:
    """JSON-ready: times in China Standard Time with their offset (as the views show them, so a
    battery read from its events and from the lifecycle view reads the same), dates as ISO.
    Texts and numbers, most of any event's facts, are answered first by their exact type: this
    runs for every fact of every event of a rebuild."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, datetime):
        return in_china_time(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return value


def event_details(domain_event: Any) -> dict[str, Any]:
    """The event's own facts, without bookkeeping and common fields, None values dropped."""
    return {
        key: plain(value)
        for key, value in vars(domain_event).items()
        if key not in _HIDDEN and key not in COMMON and value is not None
    }
