"""``projections`` (status, rebuild, run) and ``report`` (the regulator's reports)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from batterytrace.cli.common import check_format, console, err_console, open_app, parse_day, print_json
from batterytrace.cli.tables import print_table
from batterytrace.events.errors import InvalidInput
from batterytrace.projections import queries
from batterytrace.trace.report_columns import HEADER_LANGUAGES, column_keys, header_row
from batterytrace.trace.tabular import write_csv

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from batterytrace.projections.runner import ViewRunner

projections_app = typer.Typer(
    help="Status, rebuild and follow the read models (views).", no_args_is_help=True
)
report_app = typer.Typer(help="Regulator reports from the views.", no_args_is_help=True)

FormatOption = Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")]
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


@dataclass(frozen=True)
class CurrentViews:
    """Views that include every event stored so far, and what a read of them needs besides."""

    engine: Engine
    overdue_days: int
    now: datetime


def current_views() -> CurrentViews:
    """The views, up to date. When they already hold every stored event (two plain reads,
    ``freshness.views_are_current``) they are read at once, without building the application:
    that is what keeps ``show`` and ``report`` quick to start. Otherwise a runner catches up (or
    rebuilds) first."""
    from batterytrace.projections.database import create_view_engine
    from batterytrace.projections.freshness import views_are_current
    from batterytrace.trace.settings import Settings

    settings = Settings.from_environment()
    engine = create_view_engine(settings.database_url)
    if views_are_current(engine, settings.working_calendar()):
        return CurrentViews(engine, settings.overdue_days, datetime.now(UTC))
    engine.dispose()
    runner = up_to_date_runner()
    return CurrentViews(runner.engine, runner.app.settings.overdue_days, runner.app.clock())


def up_to_date_runner(*, quiet: bool = False) -> ViewRunner:
    """A runner whose views include every event stored so far (a progress bar when far behind)."""
    from batterytrace.projections.runner import ViewRunner

    runner = ViewRunner(open_app())
    lag = sum(s.lag for s in runner.status())
    if lag > 5000 and not quiet:
        _with_progress(runner, lag, "updating views", lambda progress: runner.catch_up(progress=progress))
    else:
        runner.catch_up()
    return runner


def _runner() -> ViewRunner:
    from batterytrace.projections.runner import ViewRunner

    return ViewRunner(open_app())


def _with_progress(runner: ViewRunner, total: int, label: str, work: Any) -> int:
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
    ) as progress:
        task = progress.add_task(label, total=total)
        return work(lambda _view, done: progress.advance(task, done))


@projections_app.command("status")
def status(fmt: FormatOption = "table") -> None:
    """Each view's position, the store's head and the lag."""
    rows = [
        {"view": s.view, "position": s.position, "head": s.head, "lag": s.lag} for s in _runner().status()
    ]
    print_rows(rows, fmt, title="views")


@projections_app.command("rebuild")
def rebuild(
    view: Annotated[str | None, typer.Argument(help="lifecycle, network or reports (default: all).")] = None,
) -> None:
    """Drop views and rebuild them from the events (batched, bounded memory)."""
    runner = _runner()
    names = [view] if view else list(runner.views)
    if view and view not in runner.views:
        raise InvalidInput(f"unknown view {view!r}; the views are {', '.join(runner.views)}")
    total = runner.head() * len(names)
    applied = _with_progress(
        runner,
        total,
        f"rebuilding {', '.join(names)}",
        lambda progress: runner.rebuild(names, progress=progress),
    )
    console.print(f"rebuilt {', '.join(names)}: {applied} events applied")


@projections_app.command("run")
def run(
    poll: Annotated[float, typer.Option("--poll", help="Seconds between polls when idle.")] = 0.5,
) -> None:
    """Follow new events and keep the views up to date, until interrupted (a worker process)."""
    runner = _runner()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    err_console.print("following the event store; Ctrl-C to stop")
    runner.follow(stop, poll_seconds=poll)
    err_console.print("stopped")


def print_rows(rows: list[dict[str, Any]], fmt: str, *, title: str | None = None) -> None:
    """Rows as a table (identifiers whole), CSV on stdout, or a JSON array."""
    fmt = check_format(fmt, ("table", "csv", "json"))
    if fmt == "json":
        print_json(rows)
        return
    columns = list(rows[0]) if rows else []
    if fmt == "csv":
        write_csv(sys.stdout, rows, columns)
        return
    print_table(console, columns, rows, title=title)


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
    fmt = check_format(fmt, ("table", "csv", "json"))
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
) -> queries.Filters:
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit {limit} must be 1 or more")
    if region and not (region.isdigit() and len(region) in (2, 4, 6)):
        raise InvalidInput(
            f"--region {region!r} must be 2, 4 or 6 digits of a division code, e.g. 44 or 440305"
        )
    return queries.Filters(
        manufacturer=manufacturer.strip().upper() if manufacturer else None,
        region=region,
        since=parse_day(since, name="--since"),
        until=parse_day(until, name="--until"),
        limit=limit,
    )


@report_app.command("lifecycle")
def report_lifecycle(
    code: Annotated[str, typer.Argument(help="Battery code.")], fmt: FormatOption = "json"
) -> None:
    """One battery's lifecycle from the view (use `show` for a formatted timeline)."""
    from batterytrace.cli.show import lifecycle_from_view

    document = lifecycle_from_view(code)
    if check_format(fmt, ("table", "csv", "json")) == "json":
        print_json(document)
    else:
        print_rows(document["timeline"], fmt, title=code)


@report_app.command("network")
def report_network(
    fmt: FormatOption = "table",
    manufacturer: Annotated[str | None, typer.Option("--operator", help="Operator credit code.")] = None,
    region: RegionOption = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Per collection point: collected, on hand against capacity, handed over, recycled."""
    views = current_views()
    rows = queries.network_rows(views.engine, _filters(manufacturer, region, None, None, limit))
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
    fmt: FormatOption = "table",
    level: Annotated[str, typer.Option("--level", help="province or prefecture.")] = "province",
    region: RegionOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Per province or prefecture: where retired batteries go, and how many reach whitelisted hands."""
    if level not in ("province", "prefecture"):
        raise InvalidInput(f"--level {level!r} must be province or prefecture")
    views = current_views()
    rows = queries.regions(views.engine, _filters(None, region, None, None, None), level=level)
    print_report("regions", rows, fmt, title="regions", output=output, lang=lang)


@report_app.command("flows")
def report_flows(
    fmt: FormatOption = "table",
    manufacturer: Annotated[
        str | None, typer.Option("--participant", help="Receiver or source credit code.")
    ] = None,
    region: RegionOption = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Flows from outlets and enterprises to recyclers and cascade-use enterprises."""
    views = current_views()
    rows = queries.flows_rows(views.engine, _filters(manufacturer, region, None, None, limit))
    print_report("flows", rows, fmt, title="flows", output=output, lang=lang)


@report_app.command("monthly")
def report_monthly(
    fmt: FormatOption = "table",
    manufacturer: ManufacturerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Per manufacturer and month: produced … recycled, recovered materials, recycling rate."""
    views = current_views()
    rows = queries.monthly_rows(views.engine, _filters(manufacturer, None, since, until, limit))
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


@report_app.command("overdue")
def report_overdue(
    fmt: FormatOption = "table",
    manufacturer: ManufacturerOption = None,
    days: Annotated[int | None, typer.Option("--days", help="Days after retirement (default 90).")] = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Retired batteries no collection point or whitelisted enterprise has taken in."""
    views = current_views()
    if days is not None and days < 1:
        raise InvalidInput(f"--days {days} must be 1 or more")
    limit_days = days if days is not None else views.overdue_days
    rows = queries.overdue_rows(
        views.engine,
        _filters(manufacturer, None, None, None, limit),
        now=views.now,
        days=limit_days,
    )
    print_report("overdue", rows, fmt, title=f"overdue (> {limit_days} days)", output=output, lang=lang)


@report_app.command("compliance")
def report_compliance(
    fmt: FormatOption = "table",
    manufacturer: ManufacturerOption = None,
    region: RegionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="non_compliant_handover, late_report, backwards_date, unverified_custody or "
            "outlet_over_capacity.",
        ),
    ] = None,
    limit: LimitOption = None,
    output: OutputOption = None,
    lang: LangOption = None,
) -> None:
    """Non-compliant handovers, late reports, backwards dates, outlets over capacity."""
    views = current_views()
    if kind and kind not in queries.FINDING_KINDS:
        raise InvalidInput(f"--kind {kind!r} is unknown; use one of {', '.join(queries.FINDING_KINDS)}")
    rows = queries.compliance_rows(
        views.engine, _filters(manufacturer, region, since, until, limit), kind=kind
    )
    columns = ("kind", "code", "event", "occurred_at", "recorded_at", "actor_id", "detail")
    print_report("compliance", rows, fmt, title="compliance", output=output, lang=lang, table_columns=columns)
