"""``import`` (bulk production files) and ``demo`` (a national data set), with progress bars."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from batterytrace.cli.common import ActorOption, console, err_console, open_app
from batterytrace.cli.show import print_document
from batterytrace.trace.tabular import write_csv

if TYPE_CHECKING:  # the importer loads the event store's libraries: only when the command runs
    from rich.progress import Progress

    from batterytrace.trace.bulk_import import ImportReport


def _progress(total: int | None = None) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


def import_(
    file: Annotated[Path, typer.Argument(help="CSV or JSON-lines file of production rows.")],
    actor: ActorOption,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Rows per transaction (default 500).")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or jsonl (default: by suffix).")] = None,
    refused_out: Annotated[
        Path | None, typer.Option("--refused-out", help="Write every refused row to this CSV file.")
    ] = None,
) -> None:
    """Import production rows in atomic batches; re-running a file stores nothing twice."""
    from batterytrace.trace.bulk_import import open_production_file

    app = open_app()
    with (
        open_production_file(app, actor, file, fmt=fmt, batch_size=batch_size) as (importer, rows),
        _progress() as progress,
    ):
        task = progress.add_task(f"importing {file.name}", total=None, rate="")

        def advance(done_rows: int) -> None:
            progress.advance(task, done_rows)
            done = progress.tasks[task].completed
            elapsed = progress.tasks[task].elapsed or 1e-9
            progress.update(task, rate=f"{done / elapsed:,.0f} rows/s")

        report = importer.run(rows, advance)
    _print_report(report, refused_out)
    if report.interruption:  # the store failed part-way: what was stored is printed above
        err_console.print(f"error: {report.interruption}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    if report.refused_count:
        raise typer.Exit(1)


def _print_report(report: ImportReport, refused_out: Path | None) -> None:
    console.print(
        f"{report.rows} rows: [green]{report.stored} stored[/], {report.already_present} already "
        f"present, [red]{report.refused_count} refused[/] in {report.batches} batches, "
        f"{report.seconds:.1f} s ({report.rate:,.0f} rows/s)"
    )
    if report.refused:
        table = Table("line", "code", "reason", title="refused rows")
        for row in report.refused[:20]:
            table.add_row(str(row.line), row.code or "", row.reason)
        console.print(table)
        if report.refused_count > 20:
            console.print(f"… and {report.refused_count - 20} more (use --refused-out FILE)")
    if refused_out is not None:  # codes and reasons quote the file's own text: written formula-safe
        with refused_out.open("w", newline="", encoding="utf-8") as out:
            write_csv(out, (asdict(row) for row in report.refused), ("line", "code", "reason"))


def demo(
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same data.")] = 7,
    batteries: Annotated[int, typer.Option("--batteries", help="How many packs to generate.")] = 2000,
    show_example: Annotated[
        bool,
        typer.Option("--show-example", help="End by printing a second-life product's whole life."),
    ] = False,
    views: Annotated[
        bool,
        typer.Option(
            "--views/--no-views",
            help="Build the views too (beside the generation where two cores allow); "
            "--no-views leaves them to 'projections rebuild' or the follower.",
        ),
    ] = True,
) -> None:
    """Fill an empty store with a realistic national data set, build its views, print codes to try."""
    from batterytrace.demo.examples import passport_hint
    from batterytrace.demo.national import generate_demo
    from batterytrace.demo.with_views import generate_demo_with_views
    from batterytrace.trace.presenters import battery_document

    if batteries < 1:
        raise typer.BadParameter("--batteries must be 1 or more")
    app = open_app()
    with _progress() as progress:
        task = progress.add_task("generating batteries", total=batteries, rate="")

        def advance(done: int) -> None:
            progress.advance(task, done)
            elapsed = progress.tasks[task].elapsed or 1e-9
            progress.update(task, rate=f"{progress.tasks[task].completed / elapsed:,.0f}/s")

        def views_started() -> None:
            progress.add_task("building the views", total=None, rate="")

        if views:
            summary = generate_demo_with_views(
                app, seed=seed, batteries=batteries, progress=advance, views_started=views_started
            )
        else:
            summary = generate_demo(app, seed=seed, batteries=batteries, progress=advance)
    console.print(
        f"{summary.participants} participants, {summary.collection_points} collection points, "
        f"{summary.batteries} batteries, {summary.events} events"
    )
    table = Table("stage", "example", title="try: batterytrace show CODE")
    for stage, example in summary.examples.items():
        table.add_row(stage, example)
    console.print(table)
    if hint := passport_hint(summary.examples):
        console.print(hint, markup=False, highlight=False, soft_wrap=True)
    actors = Table("role", "credit code", title="act as: --as CODE or BATTERYTRACE_ACTOR")
    for role, credit in summary.actors.items():
        actors.add_row(role, credit)
    console.print(actors)
    if show_example:
        example = summary.examples.get("second_life_recycled") or summary.examples["second_life_product"]
        print_document(battery_document(app, example))
        console.print(f"more: batterytrace show CODE [--as-of DATE] [--format json], e.g. {example}")


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
    app.command()(demo)
