"""Routes: one battery's lifecycle and lineage, shown to each caller as much as it may see.

Who sees what (the public subset, an involved participant's part, a regulator's all) is
``trace/access.py``; the document has one shape whether read from the lifecycle view or rebuilt
from the event store (``projections/battery_document.py``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from batterytrace.events.battery_code import EXAMPLE_CODE, parse_battery_code
from batterytrace.events.errors import NotAuthorised, NotFound
from batterytrace.events.participant import Participant
from batterytrace.projections.queries import battery_lifecycle
from batterytrace.trace.access import disclosed, disclosure_of, public_document
from batterytrace.trace.api.deps import Caller, OptionalCaller, Service, Views
from batterytrace.trace.api.models import BatteryHolder, BatterySummary, problem_responses
from batterytrace.trace.presenters import battery_document, event_record

router = APIRouter(tags=["batteries"])

CodePath = Annotated[
    str, Path(description="GB/T 34014 battery code (24 characters).", examples=[EXAMPLE_CODE])
]


# ------------------------------------------------------------------------------------ models
class LineageNode(BaseModel):
    code: str
    level: str | None
    state: str
    components: list[LineageNode] = Field(default_factory=list)
    originals: list[LineageNode] = Field(default_factory=list)


class Lineage(BaseModel):
    """Links in both directions: parts and the packs they went into; retired originals and the
    second-life products they live on in."""

    components: list[LineageNode]
    parent_packs: list[LineageNode]
    originals: list[LineageNode]
    second_life_products: list[LineageNode]


class PublicBattery(BaseModel):
    code: str
    level: str
    chemistry: str
    manufacturer_name: str | None
    manufacturer_name_en: str | None = None  # for English pages
    production_month: str = Field(description="YYYY-MM", examples=["2024-07"])
    state: str
    second_life: bool


class PublicBatteryLifecycle(BaseModel):
    """What anyone may see: the battery's QR-code page."""

    access: Literal["public"] = "public"
    battery: PublicBattery
    lineage: Lineage


class CollectionPointRef(BaseModel):
    id: str
    name: str
    name_en: str | None = None
    operator_id: str
    kind: str
    capacity_kg: float
    address: str
    division_code: str
    latitude: float | None
    longitude: float | None


class BatteryDetails(BaseModel):
    code: str
    level: str
    battery_type: str
    chemistry: str
    manufacturer_id: str
    manufacturer_code: str
    manufacturer_name: str | None
    manufacturer_name_en: str | None = None  # for English pages
    production_date: date
    rated_capacity_ah: float
    nominal_voltage_v: float
    energy_kwh: float
    mass_kg: float
    state: str
    holder: BatteryHolder
    responsible_name: str | None
    responsible_name_en: str | None = None
    vin: str | None
    site: str | None
    collection_point: CollectionPointRef | None
    pack: str | None
    second_life_product: str | None
    components: list[str]
    derived_from: list[str]
    second_life: bool
    flags: list[str]
    produced_at: datetime
    retired_at: datetime | None
    last_occurred_at: datetime
    version: int


class TimelineEntry(BaseModel):
    version: int
    position: int = Field(description="The event's notification id in the store.")
    event: str
    occurred_at: datetime
    recorded_at: datetime
    actor_id: str
    actor_name: str | None
    actor_name_en: str | None = None
    late_correction: bool
    reported_late: bool
    details: dict[str, Any]


class BatteryLifecycle(BaseModel):
    """Everything the lifecycle view holds: for regulators and involved participants."""

    access: Literal["full"] = "full"
    battery: BatteryDetails
    timeline: list[TimelineEntry]
    lineage: Lineage


BatteryView = Annotated[PublicBatteryLifecycle | BatteryLifecycle, Field(discriminator="access")]


class HistoryEntry(BaseModel):
    version: int
    event: str
    occurred_at: datetime
    recorded_at: datetime
    actor_id: str
    late_correction: bool
    details: dict[str, Any]


class BatteryHistory(BaseModel):
    """The battery rebuilt from its events up to ``as_of`` (now when not given)."""

    battery: BatterySummary
    as_of: datetime | None
    timeline: list[HistoryEntry]
    lineage: Lineage


# ------------------------------------------------------------------------------------ routes
@router.get(
    "/batteries/{code}",
    summary="One battery's lifecycle and lineage",
    response_model=BatteryView,
    responses=problem_responses(404, 422),
)
def get_battery(code: CodePath, service: Service, views: Views, caller: OptionalCaller) -> dict[str, Any]:
    """From the lifecycle view. Regulators and participants involved with the battery get the
    whole document (`access: full`); everyone else gets the public part (`access: public`): no
    VIN, no participant ids, no event actors or details. Pass `?after=ID` to include your write."""
    parsed = parse_battery_code(code, today=service.today())
    document = battery_lifecycle(
        views, parsed.code, now=service.clock(), overdue_days=service.settings.overdue_days
    )
    if document is None:
        recorded = service.exists(parsed.code)
        hint = (
            "it is recorded but not in the lifecycle view yet; pass ?after=<notification id of the "
            "write> to wait for it"
            if recorded
            else "no battery with this code has been recorded"
        )
        raise NotFound(
            f"battery {parsed.code}: {hint}",
            key="views.battery_behind" if recorded else "not_found.battery",
            params={"id": parsed.code},
        )
    if caller is not None:
        disclosure = disclosure_of(caller, document["timeline"])
        if disclosure.involved:
            return {"access": "full", **disclosed(document, disclosure)}
    return {"access": "public", **public_document(document)}


@router.get(
    "/batteries/{code}/history",
    summary="A battery as it stood at a past moment, rebuilt from its events",
    response_model=BatteryHistory,
    responses=problem_responses(401, 403, 404, 422),
)
def get_battery_history(
    code: CodePath,
    service: Service,
    caller: Caller,
    as_of: Annotated[
        datetime | None,
        Query(
            description="Date or date-time; without a zone it is China Standard Time. Default: now.",
            examples=["2025-03-01T14:30:00+08:00"],
        ),
    ] = None,
) -> dict[str, Any]:
    """Read from the event store, not the views. For regulators and for participants that are or
    were involved with the battery (from the event at which they became involved)."""
    parsed = parse_battery_code(code, today=service.today())
    timeline = [event_record(e) for e in service.history(parsed.code)]  # read once, used twice
    disclosure = disclosure_of(caller, timeline)
    if not disclosure.involved:
        raise _not_involved(caller, parsed.code)
    return disclosed(battery_document(service, parsed.code, as_of=as_of, timeline=timeline), disclosure)


# ----------------------------------------------------------------------------------- helpers
def _not_involved(caller: Participant, code: str) -> NotAuthorised:
    return NotAuthorised(
        f"{caller.name} ({caller.id}) has not been involved with battery {code}; its history is for "
        "regulators and for participants that made, handled or hold it (the public page is "
        f"GET /api/v1/batteries/{code})"
    )
