"""Routes: what an outlet's scanning page needs besides the scan itself.

The operator's own collection points (to choose where it scans), the batteries a point holds now
(to choose what it hands over) and the receivers it may hand them to with their whitelist status
today (whitelists are public, so any member may read them; a page warns before a non-compliant
handover instead of the operator learning it from the regulator). All read the views, so a page
passes ``?after=`` with the notification id of its last write to see it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from batterytrace.events.collection_point import CollectionPoint, Review
from batterytrace.events.participant import ROLE_FOR_ACTIVITY, Participant, WhitelistPeriod
from batterytrace.projections import queries
from batterytrace.trace.api.deps import Caller, Service, Views
from batterytrace.trace.api.models import problem_responses
from batterytrace.trace.api.paging import Paged, ReportPage, list_answer
from batterytrace.trace.application import BatteryTrace

router = APIRouter(tags=["outlet"])

# Which role receives a battery for which activity: the domain's rule, as the views' strings.
RECEIVER_ROLES = {activity.value: role.value for activity, role in ROLE_FOR_ACTIVITY.items()}

PointId = Annotated[
    str,
    Path(
        max_length=60,
        description="The collection point's id; the caller must be its operator or a regulator.",
        examples=["CP-110105-0001"],
    ),
]


class OperatedPoint(BaseModel):
    id: str = Field(examples=["CP-110105-0001"])
    name: str = Field(examples=["朝阳回收服务网点"])
    name_en: str | None = Field(
        None, examples=["Chaoyang collection outlet"], description="Its English name."
    )
    kind: str = Field(examples=["collection"])
    capacity_kg: float
    address: str
    division_code: str
    review: Review = Field(
        description="approved (shown on public pages) or pending (waiting for a regulator's approval)."
    )


class OperatedPoints(BaseModel):
    items: list[OperatedPoint]
    count: int


class BatteryOnHand(BaseModel):
    code: str
    level: str = Field(examples=["pack"])
    chemistry: str = Field(examples=["lithium iron phosphate"])
    manufacturer_id: str
    manufacturer_name: str | None
    manufacturer_name_en: str | None = None
    mass_kg: float
    energy_kwh: float
    flags: list[str]
    collected_at: str = Field(description="When it was taken in (China Standard Time).")


class Receiver(BaseModel):
    credit_code: str
    name: str
    name_en: str | None = Field(None, description="Its English name, where it was registered.")
    roles: list[str] = Field(description="recycler and/or cascade_user.")
    activities: list[str] = Field(description="What its roles let it receive batteries for.")
    whitelisted_for: list[str] = Field(
        description="Activities it is whitelisted for today; a handover for any other activity is "
        "recorded as non-compliant."
    )


class Receivers(BaseModel):
    on: date = Field(description="The day the whitelist status holds for (today, China Standard Time).")
    items: list[Receiver]
    count: int


@router.get(
    "/me/collection-points",
    summary="The collection points the caller operates",
    response_model=OperatedPoints,
    responses=problem_responses(401, 422),
)
def my_collection_points(views: Views, caller: Caller) -> dict[str, Any]:
    """Where the caller may scan batteries in: none for a participant that operates no outlet."""
    rows = queries.operated_points(views, caller.id)
    return {"items": rows, "count": len(rows)}


@router.get(
    "/collection-points/{point_id}/batteries",
    summary="The batteries a collection point holds now",
    response_model=ReportPage[BatteryOnHand],
    responses=problem_responses(401, 403, 404, 422),
)
def batteries_on_hand(
    request: Request, point_id: PointId, service: Service, views: Views, caller: Caller, paging: Paged
) -> Any:
    """Taken in and not yet handed over, longest-held first; for the point's operator and for
    regulators. `total` counts them all, `next` is the following page; `format=csv` gives every
    row as CSV."""
    point = _require_operator_or_regulator(service, caller, point_id)
    return list_answer(
        request,
        "batteries-on-hand",
        BatteryOnHand,
        paging,
        queries.batteries_on_hand_rows(views, point.id, paging.filters()),
        lambda: queries.batteries_on_hand_count(views, point.id),
    )


@router.get(
    "/receivers",
    summary="Recyclers and cascade-use enterprises, with their whitelist status today",
    response_model=Receivers,
    responses=problem_responses(401, 422),
)
def list_receivers(service: Service, views: Views, _caller: Caller) -> dict[str, Any]:
    """Whom a holder may hand batteries to, by name. Whitelists are public information; a
    handover to a receiver not whitelisted for the activity is recorded all the same, flagged."""
    today = service.today()
    items = [_receiver(row, today) for row in queries.receivers(views, tuple(RECEIVER_ROLES.values()))]
    return {"on": today, "items": items, "count": len(items)}


def _require_operator_or_regulator(
    service: BatteryTrace, caller: Participant, point_id: str
) -> CollectionPoint:
    """The point (its id normalised: ``cp-110105-0001`` is ``CP-110105-0001``), once the caller
    may see it. Queries must use the returned point's id, never the raw path parameter: the
    views store normalised ids, so a raw lower-case id passed the check and found nothing."""
    point = service.collection_point(point_id)  # 404 where there is no such point
    if not caller.is_regulator:
        point.require_operator(caller)
    return point


def _receiver(row: dict[str, Any], today: date) -> dict[str, Any]:
    whitelisted = sorted({p.activity for p in _whitelist_periods(row["whitelist"]) if p.covers(today)})
    return {
        "credit_code": row["credit_code"],
        "name": row["name"],
        "name_en": row.get("name_en"),
        "roles": [r for r in row["roles"] if r in RECEIVER_ROLES.values()],
        "activities": [a for a, role in RECEIVER_ROLES.items() if role in row["roles"]],
        "whitelisted_for": whitelisted,
    }


def _whitelist_periods(rows: list[dict[str, Any]]) -> list[WhitelistPeriod]:
    """The view's whitelist entries (ISO strings) as the domain's periods, whose ``covers`` says
    whether one holds on a day."""
    return [
        WhitelistPeriod(
            activity=str(row["activity"]),
            granted_on=_day(row["granted_on"]),
            revoked_on=_day(row["revoked_on"]) if row["revoked_on"] else None,
        )
        for row in rows
    ]


def _day(value: Any) -> date:
    """A date from the view's ISO date (or date-time) string."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
