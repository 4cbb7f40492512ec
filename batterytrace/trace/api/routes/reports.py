"""Routes: the regulator's reports, from the views, as JSON pages or CSV.

The same queries as ``batterytrace report``; each report takes only the filters that apply to it,
and a filter it does not take is refused rather than silently ignored.

A JSON answer is one page: ``total`` rows match the filters, ``count`` of them are in this page
(``limit`` at most, from ``offset``), and ``next`` is the next page's URL (path and query), or null
on the last page. ``?format=csv`` is the whole answer to the filters, streamed in chunks from one
server-side cursor, with the same columns in the same order as the CLI's ``--format csv``
(``report_columns``); a ``limit``/``offset`` given with it cuts that slice instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from itertools import chain
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from batterytrace.events.credit_code import parse_credit_code
from batterytrace.events.errors import InvalidInput
from batterytrace.projections import queries
from batterytrace.trace.api.deps import Service, Views, regulator
from batterytrace.trace.api.routes.production import problem_responses
from batterytrace.trace.report_columns import column_keys, header_row
from batterytrace.trace.tabular import csv_chunks

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
    limit: int | None  # None: every row (a CSV export without a limit)
    offset: int
    csv: bool
    language: Literal["zh", "en"] | None  # the CSV header's words; None: the column keys

    def filters(self, **values: Any) -> queries.Filters:
        return queries.Filters(limit=self.limit, offset=self.offset, **values)


def _paging(
    limit: Annotated[
        int | None,
        Query(
            description=f"Rows per page, 1 to {MAX_LIMIT} (JSON default {DEFAULT_LIMIT}); a CSV "
            "without it holds every row.",
            json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT},  # checked below, to say what to do
        ),
    ] = None,
    offset: Annotated[int | None, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")] = None,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format", description="json or csv.")] = "json",
    lang: Annotated[
        Literal["zh", "en"] | None,
        Query(description="CSV only: the header row in Chinese or English (default: the column keys)."),
    ] = None,
) -> Paging:
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise invalid_parameter(
            "limit",
            f"limit {limit} is not between 1 and {MAX_LIMIT} (the largest page); follow `next` to "
            "read the following pages, or ask for format=csv to get every row at once",
        )
    csv = fmt == "csv"
    if lang is not None and not csv:
        raise invalid_parameter(
            "lang", "lang sets the language of a CSV header row; add format=csv (JSON field names stay keys)"
        )
    if not csv and limit is None:
        limit = DEFAULT_LIMIT
    return Paging(limit=limit, offset=offset or 0, csv=csv, language=lang)


OperatorFilter = Annotated[str | None, Depends(_operator)]
ParticipantFilter = Annotated[str | None, Depends(_participant)]
ManufacturerFilter = Annotated[str | None, Depends(_manufacturer)]
RegionFilter = Annotated[str | None, Depends(_region)]
DateFilters = Annotated[tuple[date | None, date | None], Depends(_dates)]
Paged = Annotated[Paging, Depends(_paging)]


# ------------------------------------------------------------------------------------- models
class ReportPage(BaseModel, Generic[Row]):
    """A page of a report, or of a list (participants, collection points, an outlet's stock)."""

    items: list[Row]
    total: int  # rows matching the filters, on every page
    count: int  # rows in this page
    limit: int
    offset: int
    next: str | None  # the next page's path and query, or null on the last page


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
    due_at: datetime | None = None  # late reports: the moment the report became late
    due_by: date | None = None  # late reports: the last day allowed (CST)
    deadline_working_days: int | None = None
    deadline_role: str | None = None


def list_answer(
    request: Request,
    name: str,
    model: type[BaseModel],
    paging: Paging,
    rows: Iterable[dict[str, Any]],
    total: Callable[[], int],
) -> Any:
    """A page of a list that is not a report, in the reports' shape (with the total and the next
    page), or every row as streamed CSV in the model's columns, headed by their keys (the list
    has no translated header row)."""
    if paging.language is not None:
        raise invalid_parameter("lang", f"the {name} CSV has no translated header row; drop lang")
    return report_answer(request, name, paging, rows, total, columns=list(model.model_fields))


def report_answer(
    request: Request,
    name: str,
    paging: Paging,
    rows: Iterable[dict[str, Any]],
    total: Callable[[], int],
    *,
    columns: list[str] | None = None,
) -> Any:
    """A report page as JSON (with the total and the next page), or every row as streamed CSV
    (``columns``, default the report's own)."""
    if paging.csv:
        return _streamed_csv(name, columns or column_keys(name), rows, paging.language)
    items = list(rows)
    matching = total()
    following = paging.offset + len(items)
    next_page = None
    if items and following < matching:
        url = request.url.include_query_params(offset=following, limit=paging.limit)
        next_page = f"{url.path}?{url.query}"
    return {
        "items": items,
        "total": matching,
        "count": len(items),
        "limit": paging.limit,
        "offset": paging.offset,
        "next": next_page,
    }


def _streamed_csv(
    name: str, columns: list[str], rows: Iterable[dict[str, Any]], language: str | None
) -> StreamingResponse:
    """The CSV body, chunk by chunk. The first chunk is made before the answer starts, so a
    query that fails (the database is down) is still a proper error answer, not a cut file."""
    chunks: Iterator[str] = csv_chunks(rows, columns, header_row(columns, name, language))
    first = next(chunks)
    return StreamingResponse(
        chain([first], chunks),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{name}.csv"'},
    )


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
        queries.network_rows(views, filters),
        lambda: queries.network_count(views, filters),
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
    rows = queries.regions(views, queries.Filters(region=region), level=level)  # one per region: few
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
        queries.flows_rows(views, filters),
        lambda: queries.flows_count(views, filters),
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
        queries.monthly_rows(views, filters),
        lambda: queries.monthly_count(views, filters),
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
        queries.overdue_rows(views, filters, now=now, days=after_days),
        lambda: queries.overdue_count(views, filters, now=now, days=after_days),
    )


@router.get("/reports/compliance", summary="Compliance findings", response_model=ReportPage[ComplianceRow])
def compliance_report(
    request: Request,
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
    filters = paging.filters(manufacturer=manufacturer, region=region, since=since, until=until)
    return report_answer(
        request,
        "compliance",
        paging,
        queries.compliance_rows(views, filters, kind=kind),
        lambda: queries.compliance_count(views, filters, kind=kind),
    )
