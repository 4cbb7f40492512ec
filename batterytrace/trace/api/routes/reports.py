"""Routes: the regulator's reports, from the views, as JSON pages or CSV.

The same queries as ``batterytrace report``; each report takes only the filters that apply to it,
and a filter it does not take is refused rather than silently ignored (``api/paging.py``, with the
page and CSV answers). ``?format=csv`` has the same columns in the same order as the CLI's
``--format csv`` (``report_columns``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from batterytrace.projections import queries, report_queries
from batterytrace.trace.api.deps import Service, Views, regulator
from batterytrace.trace.api.models import problem_responses
from batterytrace.trace.api.paging import (
    DateFilters,
    ManufacturerFilter,
    OperatorFilter,
    Paged,
    ParticipantFilter,
    RegionFilter,
    ReportPage,
    known_parameters_only,
    report_answer,
)

# The kinds the compliance report knows, as the queries list them (a Literal of that tuple: the
# API's schema names each kind, and a new kind needs no second list here).
FindingKind = Literal[report_queries.FINDING_KINDS]  # type: ignore[valid-type]


router = APIRouter(
    tags=["reports"],
    dependencies=[Depends(regulator), Depends(known_parameters_only)],
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 422),
    },
)


# ------------------------------------------------------------------------------------- models
class NetworkRow(BaseModel):
    id: str
    name: str
    name_en: str | None = None  # the point's English name, for English pages
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
    receiver_name_en: str | None = None
    activity: str
    count: int
    mass_kg: float
    energy_kwh: float
    compliant_count: int


class MonthlyRow(BaseModel):
    month: str
    manufacturer_id: str
    manufacturer_name: str | None
    manufacturer_name_en: str | None = None
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


class SwapsRow(BaseModel):
    month: str
    operator_id: str
    operator_name: str | None
    operator_name_en: str | None = None
    province_code: str
    province_name: str | None
    province_name_en: str | None = None
    swaps: int


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
    # Late reports and scrapped vehicles' batteries not handed over: the moment the deadline was
    # missed, and the last day allowed (CST).
    due_at: datetime | None = None
    due_by: date | None = None
    deadline_working_days: int | None = None
    deadline_role: str | None = None


# ------------------------------------------------------------------------------------- routes
@router.get(
    "/reports/network",
    summary="Per collection point: intake, stock, handovers",
    response_model=ReportPage[NetworkRow],
)
def network_report(
    request: Request, views: Views, paging: Paged, operator: OperatorFilter, region: RegionFilter
) -> Any:
    """Collected, on hand against capacity, handed over (and how much to whitelisted receivers),
    recycled and cascade-used afterwards; `operator` is the operating enterprise's credit code."""
    filters = paging.filters(manufacturer=operator, region=region)
    return report_answer(
        request,
        "network",
        paging,
        report_queries.network_rows(views, filters),
        lambda: report_queries.network_count(views, filters),
    )


@router.get("/reports/regions", summary="Per province or prefecture", response_model=ReportPage[RegionRow])
def regions_report(
    request: Request,
    views: Views,
    paging: Paged,
    region: RegionFilter,
    level: Annotated[Literal["province", "prefecture"], Query(description="Group by.")] = "province",
) -> Any:
    """Collection points, intake, recycling and the share of handovers to whitelisted receivers."""
    rows = report_queries.regions(views, queries.Filters(region=region), level=level)  # one per region: few
    end = None if paging.limit is None else paging.offset + paging.limit
    return report_answer(request, "regions", paging, rows[paging.offset : end], lambda: len(rows))


@router.get(
    "/reports/flows",
    summary="Flows from outlets and enterprises to receivers",
    response_model=ReportPage[FlowRow],
)
def flows_report(
    request: Request, views: Views, paging: Paged, participant: ParticipantFilter, region: RegionFilter
) -> Any:
    """Edges with counts, mass and compliance, largest first; `participant` matches the source or
    the receiver, `region` the source collection point's division."""
    filters = paging.filters(manufacturer=participant, region=region)
    return report_answer(
        request,
        "flows",
        paging,
        report_queries.flows_rows(views, filters),
        lambda: report_queries.flows_count(views, filters),
    )


@router.get("/reports/monthly", summary="Per manufacturer and month", response_model=ReportPage[MonthlyRow])
def monthly_report(
    request: Request, views: Views, paging: Paged, manufacturer: ManufacturerFilter, dates: DateFilters
) -> Any:
    """Produced, installed, retired, collected, cascade-used, recycled, recovered materials and
    the recycling rate (recycled by whitelisted recyclers or given a second life, over retired)."""
    since, until = dates
    filters = paging.filters(manufacturer=manufacturer, since=since, until=until)
    return report_answer(
        request,
        "monthly",
        paging,
        report_queries.monthly_rows(views, filters),
        lambda: report_queries.monthly_count(views, filters),
    )


@router.get(
    "/reports/swaps",
    summary="Battery swaps per swap operator, province and month",
    response_model=ReportPage[SwapsRow],
)
def swaps_report(
    request: Request,
    views: Views,
    paging: Paged,
    operator: OperatorFilter,
    region: RegionFilter,
    dates: DateFilters,
) -> Any:
    """One swap is a battery taken out of a vehicle and another put in, in one command; counted
    in the month it happened (China Standard Time) and the province of the station's division.
    `operator` is the swap operator's credit code; `region` narrows to the stations' divisions."""
    since, until = dates
    filters = paging.filters(manufacturer=operator, region=region, since=since, until=until)
    return report_answer(
        request,
        "swaps",
        paging,
        report_queries.swaps_rows(views, filters),
        lambda: report_queries.swaps_count(views, filters),
    )


@router.get(
    "/reports/overdue",
    summary="Retired batteries nobody formal has taken in",
    response_model=ReportPage[OverdueRow],
)
def overdue_report(
    request: Request,
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
    filters = paging.filters(manufacturer=manufacturer)
    now = service.clock()
    after_days = days if days is not None else service.settings.overdue_days
    return report_answer(
        request,
        "overdue",
        paging,
        report_queries.overdue_rows(views, filters, now=now, days=after_days),
        lambda: report_queries.overdue_count(views, filters, now=now, days=after_days),
    )


@router.get("/reports/compliance", summary="Compliance findings", response_model=ReportPage[ComplianceRow])
def compliance_report(
    request: Request,
    views: Views,
    service: Service,
    paging: Paged,
    manufacturer: ManufacturerFilter,
    region: RegionFilter,
    dates: DateFilters,
    kind: Annotated[FindingKind | None, Query(description="Only this kind of finding.")] = None,
) -> Any:
    """Outlets holding more than their capacity (`region` narrows the outlets), then by date:
    non-compliant handovers, late reports, backwards dates, retirements without custody, and
    batteries of scrapped vehicles still with the dismantler past the hand-over deadline (as of
    now)."""
    since, until = dates
    filters = paging.filters(manufacturer=manufacturer, region=region, since=since, until=until)
    now = service.clock()
    return report_answer(
        request,
        "compliance",
        paging,
        report_queries.compliance_rows(views, filters, kind=kind, now=now),
        lambda: report_queries.compliance_count(views, filters, kind=kind, now=now),
    )
