"""Paging and filters shared by the reports and the other lists (participants, collection points,
an outlet's stock): the query parameters, their checks, and the page (or streamed CSV) answered.

A JSON answer is one page: ``total`` rows match the filters, ``count`` of them are in this page
(``limit`` at most, from ``offset``), and ``next`` is the next page's URL (path and query), or null
on the last page. ``?format=csv`` is the whole answer to the filters, streamed in chunks from one
server-side cursor; a ``limit``/``offset`` given with it cuts that slice instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from itertools import chain
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from batterytrace.events.credit_code import parse_credit_code
from batterytrace.events.errors import InvalidInput
from batterytrace.projections import queries
from batterytrace.trace.report_columns import column_keys, header_row
from batterytrace.trace.tabular import csv_chunks

Row = TypeVar("Row", bound=BaseModel)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000  # far beyond any view; larger numbers cannot be bound as 64-bit integers


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


class ReportPage(BaseModel, Generic[Row]):
    """A page of a report, or of a list (participants, collection points, an outlet's stock)."""

    items: list[Row]
    total: int  # rows matching the filters, on every page
    count: int  # rows in this page
    limit: int
    offset: int
    next: str | None  # the next page's path and query, or null on the last page


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
