"""Routes: the regulator's reports, from the views, as JSON pages or CSV.

The same queries as ``batterytrace report``; each report takes only the filters that apply to it,
and a filter it does not take is refused rather than silently ignored.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from batterytrace.events.credit_code import parse_credit_code
from batterytrace.events.errors import InvalidInput
from batterytrace.projections import queries
from batterytrace.trace.api.deps import Service, Views, regulator
from batterytrace.trace.api.routes.production import problem_responses
from batterytrace.trace.tabular import write_csv

Row = TypeVar("Row", bound=BaseModel)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000  # far beyond any view; larger numbers cannot be bound as 64-bit integers
FindingKind = Literal[
    "non_compliant_handover", "late_report", "backwards_date", "unverified_custody", "outlet_over_capacity"
]


def invalid_parameter(name: str, message: str) -> RequestValidationError:
    """A 422 naming the query parameter, shaped like FastAPI's own validation errors."""
    return RequestValidationError([{"loc": ("query", name), "msg": message, "type": "value_error"}])


def _query_names(dependant: Any) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def known_parameters_only(request: Request) -> None:
    """Refuse a query parameter the report does not take (``?region=`` on the monthly report
    would otherwise be ignored and the regulator would read national figures as regional)."""
    route = request.scope.get("route")
    if route is None:
        return
    known = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise invalid_parameter(
            unknown[0], f"this report does not take {unknown[0]!r}; it takes {', '.join(sorted(known))}"
        )


router = APIRouter(
    tags=["reports"],
    dependencies=[Depends(regulator), Depends(known_parameters_only)],
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 422),
    },
)


# --------------------------------------------------------------------------------- parameters
def _credit_code(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_credit_code(value, allow_bad_check=True)
    except InvalidInput as error:
        raise invalid_parameter(name, error.message) from None


def _operator(
    operator: Annotated[str | None, Query(description="The operating enterprise's credit code.")] = None,
) -> str | None:
    return _credit_code("operator", operator)


def _participant(
    participant: Annotated[str | None, Query(description="Source or receiver credit code.")] = None,
) -> str | None:
    return _credit_code("participant", participant)


def _manufacturer(
    manufacturer: Annotated[str | None, Query(description="The manufacturer's credit code.")] = None,
) -> str | None:
    return _credit_code("manufacturer", manufacturer)


def _region(
    region: Annotated[
        str | None,
        Query(
            description="Division code or prefix: 44 (province), 4403 (prefecture), 440305.", examples=["44"]
        ),
    ] = None,
) -> str | None:
    if region is not None and not (region.isascii() and region.isdigit() and len(region) in (2, 4, 6)):
        raise invalid_parameter(
            "region", f"region {region!r} must be 2, 4 or 6 digits of a division code, e.g. 44 or 440305"
        )
    return region


def _dates(
    since: Annotated[date | None, Query(description="From this day (YYYY-MM-DD).")] = None,
    until: Annotated[date | None, Query(description="Up to and including this day (YYYY-MM-DD).")] = None,
) -> tuple[date | None, date | None]:
    if since and until and until < since:
        raise invalid_parameter("until", f"until {until} is before since {since}")
    return since, until


class Paging(BaseModel):
    limit: int
    offset: int
    csv: bool


def _paging(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")] = 0,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format", description="json or csv.")] = "json",
) -> Paging:
    return Paging(limit=limit, offset=offset, csv=fmt == "csv")


OperatorFilter = Annotated[str | None, Depends(_operator)]
ParticipantFilter = Annotated[str | None, Depends(_participant)]
ManufacturerFilter = Annotated[str | None, Depends(_manufacturer)]
RegionFilter = Annotated[str | None, Depends(_region)]
DateFilters = Annotated[tuple[date | None, date | None], Depends(_dates)]
Paged = Annotated[Paging, Depends(_paging)]


# ------------------------------------------------------------------------------------- models
class Page(BaseModel, Generic[Row]):
    items: list[Row]
    limit: int
    offset: int
    count: int


class NetworkRow(BaseModel):
    id: str
    name: str
    operator_id: str
    kind: str
    division_code: str
    province_code: str
    prefecture_code: str
    latitude: float | None
    longitude: float | None
    review: str  # approved, or pending (registered by its operator, not yet approved by a regulator)
    capacity_kg: float
    collected_count: int
    collected_kg: float
    collected_kwh: float
    on_hand_count: int
    on_hand_kg: float
    fill_ratio: float | None
    over_capacity: bool
    handed_over_count: int
    handed_over_kg: float
    handed_compliant_count: int
    recycled_count: int
    cascade_used_count: int


class RegionRow(BaseModel):
    region_code: str
    region_name: str | None
    region_name_en: str | None
    collection_points: int
    collected: int
    collected_kg: float
    on_hand_kg: float
    handed_over: int
    handed_to_whitelisted: int
    whitelisted_share: float | None
    recycled: int
    cascade_used: int


class FlowRow(BaseModel):
    source_kind: str
    source_id: str
    receiver_id: str
    receiver_name: str | None
    activity: str
    count: int
    mass_kg: float
    energy_kwh: float
    compliant_count: int


class MonthlyRow(BaseModel):
    month: str
    manufacturer_id: str
    manufacturer_name: str | None
    produced: int
    produced_kwh: float
    installed: int
    retired: int
    collected: int
    cascade_used: int
    recycled: int
    recycled_whitelisted: int
    recovered_li_kg: float
    recovered_ni_kg: float
    recovered_co_kg: float
    recovered_mn_kg: float
    recovered_total_kg: float
    recycling_rate: float | None


class OverdueRow(BaseModel):
    code: str
    manufacturer_id: str
    state: str
    retired_at: datetime
    days_since_retired: int
    held_by: str | None
    vin: str | None


class ComplianceRow(BaseModel):
    kind: str
    code: str | None
    version: int | None
    event: str | None
    manufacturer_id: str | None
    actor_id: str | None
    occurred_at: datetime | None
    recorded_at: datetime | None
    detail: str
    collection_point_id: str | None = None


def answer(name: str, model: type[BaseModel], rows: list[dict[str, Any]], paging: Paging) -> Any:
    """A page as JSON, or the same rows as CSV with a header row (also when there are none)."""
    if not paging.csv:
        return {"items": rows, "limit": paging.limit, "offset": paging.offset, "count": len(rows)}
    columns = list(model.model_fields)
    text = io.StringIO()
    write_csv(text, rows, columns)
    return Response(
        text.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{name}.csv"'},
    )


def _filters(paging: Paging, **values: Any) -> queries.Filters:
    return queries.Filters(limit=paging.limit, offset=paging.offset, **values)


# ------------------------------------------------------------------------------------- routes
@router.get(
    "/reports/network",
    summary="Per collection point: intake, stock, handovers",
    response_model=Page[NetworkRow],
)
def network_report(views: Views, paging: Paged, operator: OperatorFilter, region: RegionFilter) -> Any:
    """Collected, on hand against capacity, handed over (and how much to whitelisted receivers),
    recycled and cascade-used afterwards; `operator` is the operating enterprise's credit code."""
    rows = queries.network(views, _filters(paging, manufacturer=operator, region=region))
    return answer("network", NetworkRow, rows, paging)


@router.get("/reports/regions", summary="Per province or prefecture", response_model=Page[RegionRow])
def regions_report(
    views: Views,
    paging: Paged,
    region: RegionFilter,
    level: Annotated[Literal["province", "prefecture"], Query(description="Group by.")] = "province",
) -> Any:
    """Collection points, intake, recycling and the share of handovers to whitelisted receivers."""
    rows = queries.regions(views, queries.Filters(region=region), level=level)
    return answer("regions", RegionRow, rows[paging.offset : paging.offset + paging.limit], paging)


@router.get(
    "/reports/flows", summary="Flows from outlets and enterprises to receivers", response_model=Page[FlowRow]
)
def flows_report(views: Views, paging: Paged, participant: ParticipantFilter, region: RegionFilter) -> Any:
    """Edges with counts, mass and compliance, largest first; `participant` matches the source or
    the receiver, `region` the source collection point's division."""
    rows = queries.flows(views, _filters(paging, manufacturer=participant, region=region))
    return answer("flows", FlowRow, rows, paging)


@router.get("/reports/monthly", summary="Per manufacturer and month", response_model=Page[MonthlyRow])
def monthly_report(views: Views, paging: Paged, manufacturer: ManufacturerFilter, dates: DateFilters) -> Any:
    """Produced, installed, retired, collected, cascade-used, recycled, recovered materials and
    the recycling rate (recycled by whitelisted recyclers or given a second life, over retired)."""
    since, until = dates
    rows = queries.monthly(views, _filters(paging, manufacturer=manufacturer, since=since, until=until))
    return answer("monthly", MonthlyRow, rows, paging)


@router.get(
    "/reports/overdue",
    summary="Retired batteries nobody formal has taken in",
    response_model=Page[OverdueRow],
)
def overdue_report(
    views: Views,
    service: Service,
    paging: Paged,
    manufacturer: ManufacturerFilter,
    days: Annotated[
        int | None, Query(ge=1, le=3650, description="Days after retirement (default: the platform's, 90).")
    ] = None,
) -> Any:
    """Retired more than `days` ago and not taken in by a collection point or a whitelisted
    enterprise."""
    rows = queries.overdue(
        views,
        _filters(paging, manufacturer=manufacturer),
        now=service.clock(),
        days=days if days is not None else service.settings.overdue_days,
    )
    return answer("overdue", OverdueRow, rows, paging)


@router.get("/reports/compliance", summary="Compliance findings", response_model=Page[ComplianceRow])
def compliance_report(
    views: Views,
    paging: Paged,
    manufacturer: ManufacturerFilter,
    region: RegionFilter,
    dates: DateFilters,
    kind: Annotated[FindingKind | None, Query(description="Only this kind of finding.")] = None,
) -> Any:
    """Non-compliant handovers, late reports, backwards dates (by date), then outlets holding more
    than their capacity (`region` narrows the outlets)."""
    since, until = dates
    # Outlets over capacity follow the findings: ask for every row up to the end of the page
    # (findings limited in SQL, outlets are few) and cut the page from the combined list.
    wanted = queries.Filters(
        manufacturer=manufacturer, region=region, since=since, until=until, limit=paging.offset + paging.limit
    )
    rows = queries.compliance(views, wanted, kind=kind)[paging.offset : paging.offset + paging.limit]
    return answer("compliance", ComplianceRow, rows, paging)
