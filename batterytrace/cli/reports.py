"""``report``: the regulator's reports from the views, as a table, CSV or JSON (streamed).

The views' SQLAlchemy queries are imported inside the commands: ``report compliance`` (and
``report lifecycle``) on current views read them in plain SQL instead (``quick_views``), and
start without SQLAlchemy."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from batterytrace.cli.common import (
    ROW_FORMATS,
    RowsFormatOption,
    check_format,
    console,
    err_console,
    parse_day,
    print_json,
    print_rows,
)
from batterytrace.cli.projections import current_views
from batterytrace.cli.tables import print_table
from batterytrace.events.errors import InvalidInput
from batterytrace.projections.filters import Filters
from batterytrace.projections.view_rows import FINDING_KINDS
from batterytrace.trace.report_columns import HEADER_LANGUAGES, column_keys, header_row
from batterytrace.trace.tabular import write_csv

report_app = typer.Typer(help="Regulator reports from the views.", no_args_is_help=True)

ManufacturerOption = Annotated[str | None, typer.Option("--manufacturer", help="Manufacturer credit code.")]
RegionOption = Annotated[
    str | None, typer.Option("--region", help="Division code or prefix: 44 (province), 4403, 440305.")
]
SinceOption = Annotated[str | None, typer.Option("--since", help="From this date (YYYY-MM-DD).")]
UntilOption = Annotated[str | None, typer.Option("--until", help="Up to this date (YYYY-MM-DD).")]
LimitOption = Annotated[int | None, typer.Option("--limit", help="At most this many rows.")]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write every row to this file, streamed: CSV (or JSON with --format json).",
        dir_okay=False,
    ),
]
LangOption = Annotated[
    str | None,
    typer.Option("--lang", help="Column headers in zh or en (table and CSV; default: the column keys)."),
]


def print_report(
    name: str,
    rows: Iterable[dict[str, Any]],
    fmt: str,
    *,
    title: str,
    output: Path | None = None,
    lang: str | None = None,
    table_columns: tuple[str, ...] | None = None,
) -> None:
    """A report as a table, or every row as CSV or JSON, streamed to stdout or ``--output``. The
    CSV is the API's ``?format=csv`` (same columns, order, values and header words)."""
    fmt = check_format(fmt, ROW_FORMATS)
    if lang is not None and lang not in HEADER_LANGUAGES:
        raise InvalidInput(f"--lang {lang!r} is unknown; use {' or '.join(HEADER_LANGUAGES)}")
    if lang is not None and fmt == "json":
        raise InvalidInput("--lang sets table and CSV headers; JSON field names stay keys (drop --lang)")
    if output is not None:
        written = _Counted(rows)
        with output.open("w", encoding="utf-8", newline="") as stream:
            _write(stream, name, written, "json" if fmt == "json" else "csv", lang)
        err_console.print(f"wrote {written.count:,} rows to {output}", highlight=False)
        return
    if fmt != "table":
        _write(sys.stdout, name, rows, fmt, lang)
        return
    columns = list(table_columns or column_keys(name))
    print_table(console, columns, list(rows), title=title, headers=header_row(columns, name, lang))


def _write(stream: TextIO, name: str, rows: Iterable[dict[str, Any]], fmt: str, lang: str | None) -> None:
    if fmt == "csv":
        columns = column_keys(name)
        write_csv(stream, rows, columns, header_row(columns, name, lang))
        return
    stream.write("[")  # a JSON array written row by row, as print_json would lay it out
    empty = True
    columns = column_keys(name)  # the API's items: the same fields in the same order
    for row in ({key: whole.get(key) for key in columns} for whole in rows):
        text = json.dumps(row, ensure_ascii=False, indent=2, default=str).replace("\n", "\n  ")
        stream.write(("\n  " if empty else ",\n  ") + text)
        empty = False
    stream.write("]\n" if empty else "\n]\n")


class _Counted:
    """Rows passed through, counted (to say how many went into the file)."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rows, self.count = rows, 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            self.count += 1
            yield row


def _filters(
    manufacturer: str | None, region: str | None, since: str | None, until: str | None, limit: int | None
) -> Filters:
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit {limit} must be 1 or more")
    if region and not (region.isdigit() and len(region) in (2, 4, 6)):
        raise InvalidInput(
            f"--region {region!r} must be 2, 4 or 6 digits of a division code, e.g. 44 or 440305"
        )
    return Filters(
        manufacturer=manufacturer.strip().upper() if manufacturer else None,
        region=region,
        since=parse_day(since, name="--since"),
        until=parse_day(until, name="--until"),
        limit=limit,
    )


@report_app.command("lifecycle")
def report_lifecycle(
    code: Annotated[str, typer.Argument(help="Battery code.")], fmt: RowsFormatOption = "json"
) -> None:
    """One battery's lifecycle from the view (use `show` for a formatted timeline)."""
    from batterytrace.cli.show import lifecycle_from_view

    document = lifecycle_from_view(code)
    if check_format(fmt, ROW_FORMATS) == "json":
        print_json(document)
    else:
        print_rows(document["timeline"], fmt, title=code)


@report_app.command("network")
def report_network(
    fmt: RowsFormatOption = "table",
    manufacturer: Annotated[str | None, typer.Option("--operator", help="Operator credit code.")] = None,
    region: RegionOption = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Per collection point: collected, on hand against capacity, handed over, recycled."""
    from batterytrace.projections import report_queries

    views = current_views()
    rows = report_queries.network_rows(views.engine, _filters(manufacturer, region, None, None, limit))
    columns = (
        "id",
        "name",
        "kind",
        "division_code",
        "collected_count",
        "collected_kg",
        "on_hand_count",
        "on_hand_kg",
        "capacity_kg",
        "over_capacity",
        "handed_over_count",
        "handed_compliant_count",
        "recycled_count",
        "cascade_used_count",
    )
    print_report("network", rows, fmt, title="network", output=output, lang=lang, table_columns=columns)


@report_app.command("regions")
def report_regions(
    fmt: RowsFormatOption = "table",
    level: Annotated[str, typer.Option("--level", help="province or prefecture.")] = "province",
    region: RegionOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Per province or prefecture: where retired batteries go, and how many reach whitelisted hands."""
    if level not in ("province", "prefecture"):
        raise InvalidInput(f"--level {level!r} must be province or prefecture")
    from batterytrace.projections import report_queries

    views = current_views()
    rows = report_queries.regions(views.engine, _filters(None, region, None, None, None), level=level)
    print_report("regions", rows, fmt, title="regions", output=output, lang=lang)


@report_app.command("flows")
def report_flows(
    fmt: RowsFormatOption = "table",
    manufacturer: Annotated[
        str | None, typer.Option("--participant", help="Receiver or source credit code.")
    ] = None,
    region: RegionOption = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Flows from outlets and enterprises to recyclers and cascade-use enterprises."""
    from batterytrace.projections import report_queries

    views = current_views()
    rows = report_queries.flows_rows(views.engine, _filters(manufacturer, region, None, None, limit))
    print_report("flows", rows, fmt, title="flows", output=output, lang=lang)


@report_app.command("monthly")
def report_monthly(
    fmt: RowsFormatOption = "table",
    manufacturer: ManufacturerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Per manufacturer and month: produced … recycled, recovered materials, recycling rate."""
    from batterytrace.projections import report_queries

    views = current_views()
    rows = report_queries.monthly_rows(views.engine, _filters(manufacturer, None, since, until, limit))
    columns = (
        "month",
        "manufacturer_name",
        "produced",
        "installed",
        "retired",
        "collected",
        "cascade_used",
        "recycled",
        "recycled_whitelisted",
        "recovered_total_kg",
        "recycling_rate",
    )
    print_report("monthly", rows, fmt, title="monthly", output=output, lang=lang, table_columns=columns)


@report_app.command("swaps")
def report_swaps(
    fmt: RowsFormatOption = "table",
    operator: Annotated[str | None, typer.Option("--operator", help="Swap operator credit code.")] = None,
    region: RegionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Battery swaps per swap operator, province (of the stations) and month."""
    from batterytrace.projections import report_queries

    views = current_views()
    rows = report_queries.swaps_rows(views.engine, _filters(operator, region, since, until, limit))
    columns = ("month", "operator_name", "province_name", "swaps")
    print_report("swaps", rows, fmt, title="swaps", output=output, lang=lang, table_columns=columns)


@report_app.command("overdue")
def report_overdue(
    fmt: RowsFormatOption = "table",
    manufacturer: ManufacturerOption = None,
    days: Annotated[int | None, typer.Option("--days", help="Days after retirement (default 90).")] = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Retired batteries no collection point or whitelisted enterprise has taken in."""
    from batterytrace.projections import report_queries

    views = current_views()
    if days is not None and days < 1:
        raise InvalidInput(f"--days {days} must be 1 or more")
    limit_days = days if days is not None else views.overdue_days
    rows = report_queries.overdue_rows(
        views.engine,
        _filters(manufacturer, None, None, None, limit),
        now=views.now,
        days=limit_days,
    )
    print_report("overdue", rows, fmt, title=f"overdue (> {limit_days} days)", output=output, lang=lang)


@report_app.command("compliance")
def report_compliance(
    fmt: RowsFormatOption = "table",
    manufacturer: ManufacturerOption = None,
    region: RegionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help=f"One kind of finding: {', '.join(FINDING_KINDS)}.",
        ),
    ] = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Non-compliant handovers, late reports, backwards dates, unverified custody, scrapped
    vehicles' batteries not handed over in time, outlets over capacity."""
    from batterytrace.cli.quick_views import quick_views

    with quick_views() as quick:
        views = None if quick is not None else current_views()
        if kind and kind not in FINDING_KINDS:
            raise InvalidInput(f"--kind {kind!r} is unknown; use one of {', '.join(FINDING_KINDS)}")
        filters = _filters(manufacturer, region, since, until, limit)
        if quick is not None:
            from batterytrace.projections import plain_reads

            rows = plain_reads.compliance_rows(quick.connection, filters, kind=kind, now=quick.now)
        else:
            from batterytrace.projections import report_queries

            assert views is not None
            rows = report_queries.compliance_rows(views.engine, filters, kind=kind, now=views.now)
        columns = ("kind", "code", "event", "occurred_at", "recorded_at", "actor_id", "detail")
        print_report(
            "compliance", rows, fmt, title="compliance", output=output, lang=lang, table_columns=columns
        )
