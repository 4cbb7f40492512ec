"""What the views' rows become for people: one battery's lifecycle document and the compliance
findings, from rows however they were read.

Two readers fetch the same rows: the SQLAlchemy queries (``queries``, ``report_queries``: the API,
the pages, the CLI when the views must be caught up first) and the CLI's plain DB-API reads
(``plain_reads``: ``show`` and ``report compliance`` on current views, started without
SQLAlchemy). Only the fetching differs; what a row means (times in CST, stored Wh and g as kWh and
kg, a battery's overdue flag, a finding's due day and detail, how outlets and findings share one
page) is written once, here, so both answer the same (tests/integration/test_plain_reads.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from batterytrace.events.lifecycle import State
from batterytrace.events.zone import CHINA_STANDARD_TIME
from batterytrace.projections.battery_document import battery_document
from batterytrace.projections.filters import Filters
from batterytrace.projections.quantities import display_row, in_units


def iso(value: Any) -> Any:
    """Times are shown in China Standard Time, the platform's convention (stored in UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(CHINA_STANDARD_TIME).isoformat()
    return value.isoformat() if isinstance(value, date) else value


def plain_row(row: Any) -> dict[str, Any]:
    """A row for people: times in CST, stored Wh and g as kWh and kg (quantities.py)."""
    return display_row({key: iso(value) for key, value in dict(row).items()})


# ---------------------------------------------------------------------------------- lifecycle
def is_overdue(channel: Any, now: datetime, days: int) -> bool:
    """Retired more than ``days`` ago and not yet taken in by an outlet or a whitelisted
    receiver (the same rule as the overdue report)."""
    retired_at, channel_at = channel
    return retired_at is not None and channel_at is None and retired_at < now - timedelta(days=days)


def linked_codes(row: Mapping[str, Any]) -> set[str]:
    """The codes a lifecycle row links to: components, originals, its pack, its second life."""
    codes = set(row["components"]) | set(row["derived_from"])
    return codes | {row[key] for key in ("pack", "second_life_product") if row[key]}


def named_ids(row: Mapping[str, Any], timeline: Iterable[Mapping[str, Any]]) -> set[str | None]:
    """The participants a lifecycle document names: maker, responsible party, every actor."""
    return {row["manufacturer_id"], row["responsible_id"]} | {t["actor_id"] for t in timeline}


def lifecycle_document(
    row: Mapping[str, Any],
    timeline: list[dict[str, Any]],
    names: Mapping[str, str],
    names_en: Mapping[str, str],
    point: Mapping[str, Any] | None,
    links: Mapping[str, Any],
    channel: Any,
    *,
    now: datetime | None,
    overdue_days: int,
) -> dict[str, Any]:
    """One battery's document from its lifecycle rows: its row, its timeline (``plain_row``s),
    the participants' names, the collection point holding it, the linked batteries' rows by code
    and its (retired_at, channel_at) from the reports view (None: not there)."""
    facts = plain_row(row)
    if channel is not None and is_overdue(channel, now or datetime.now(UTC), overdue_days):
        facts["flags"] = [*facts["flags"], f"overdue (retired over {overdue_days} days ago, not taken in)"]
    facts["manufacturer_name"] = names.get(row["manufacturer_id"])
    facts["manufacturer_name_en"] = names_en.get(row["manufacturer_id"])
    facts["responsible_name"] = names.get(row["responsible_id"])
    facts["responsible_name_en"] = names_en.get(row["responsible_id"])
    facts["collection_point"] = plain_row(point) if point else None
    for entry in timeline:
        entry["actor_name"] = names.get(entry["actor_id"])
        entry["actor_name_en"] = names_en.get(entry["actor_id"])
    return battery_document(facts, timeline, links.get)


# --------------------------------------------------------------------------------- compliance
FINDING_KINDS = (
    "non_compliant_handover",
    "late_report",
    "backwards_date",
    "unverified_custody",
    "scrapped_not_handed_over",
    "outlet_over_capacity",
)
OUTLET_OVER_CAPACITY = "outlet_over_capacity"
SCRAPPED_NOT_HANDED_OVER = "scrapped_not_handed_over"
# Where a battery from a scrapped vehicle is still the dismantler's: in the vehicle, or taken out
# and retired but neither collected nor handed over (both move it on for good).
STILL_WITH_THE_DISMANTLER = (State.IN_SCRAPPED_VEHICLE.value, State.RETIRED.value)


def lists_outlets(filters: Filters, kind: str | None) -> bool:
    """Whether outlets over capacity (a state of now) belong in the list: not when it is narrowed
    to a manufacturer or to dates, nor to another kind of finding."""
    wanted = kind in (None, OUTLET_OVER_CAPACITY)
    return wanted and not (filters.manufacturer or filters.since or filters.until)


def over_capacity_finding(outlet: Mapping[str, Any]) -> dict[str, Any]:
    """A ``network_points`` row holding more than its capacity, as a finding."""
    return {
        "code": None,
        "version": None,
        "kind": OUTLET_OVER_CAPACITY,
        "manufacturer_id": None,
        "event": None,
        "actor_id": outlet["operator_id"],
        "occurred_at": None,
        "recorded_at": None,
        "detail": f"{outlet['id']} ({outlet['name']}) holds {in_units(outlet['on_hand_g']):.0f} kg, "
        f"capacity {outlet['capacity_kg']:.0f} kg",
        "due_at": None,
        "deadline_working_days": None,
        "deadline_role": None,
        "due_by": None,
        "collection_point_id": outlet["id"],
    }


def finding(row: Any) -> dict[str, Any]:
    """A ``report_findings``-shaped row (stored, or computed at query time) for people."""
    return _described(_with_due_by(plain_row(row)))


def _with_due_by(finding: dict[str, Any]) -> dict[str, Any]:
    """A deadline's last allowed day (CST) beside ``due_at``, the moment it was missed (the
    following midnight): what a page shows as "due by"."""
    due_at = finding.get("due_at")
    last_day = (datetime.fromisoformat(due_at) - timedelta(days=1)).date() if due_at else None
    finding["due_by"] = last_day.isoformat() if last_day else None
    return finding


def _described(finding: dict[str, Any]) -> dict[str, Any]:
    """A finding computed at query time gets its detail here (stored findings have theirs)."""
    if finding["kind"] == SCRAPPED_NOT_HANDED_OVER:
        scrapped_on = datetime.fromisoformat(finding["occurred_at"]).date()
        finding["detail"] = (
            f"vehicle scrapped on {scrapped_on}; the battery was still with the dismantler after "
            f"{finding['deadline_working_days']} working days (hand-over due by {finding['due_by']})"
        )
    return finding


def compliance_page(
    outlets: list[dict[str, Any]],
    filters: Filters,
    kind: str | None,
    findings: Callable[[int, int | None], Iterable[dict[str, Any]]],
) -> Iterator[dict[str, Any]]:
    """The outlets over capacity first, then the findings, paged as one list: ``findings(offset,
    limit)`` reads the findings' part of the page (limit None: all)."""
    skip = min(filters.offset, len(outlets))
    shown = outlets[skip:]
    if filters.limit is not None:
        shown = shown[: filters.limit]
    yield from shown
    remaining = None if filters.limit is None else filters.limit - len(shown)
    if kind != OUTLET_OVER_CAPACITY and remaining != 0:
        yield from findings(filters.offset - skip, remaining)
