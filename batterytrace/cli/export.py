"""``export epcis``: batteries' lives as one GS1 EPCIS 2.0 JSON-LD document, streamed.

The operator's export: every event (like the regulator's read), straight from the event store in
the order it was recorded, a page at a time, so a national store is exported in constant memory.
``--since N`` exports only what was recorded after position N of the store's log (a partner's
incremental feed: the position is the notification id every write answers with).

The ledger is brought up to date first (as ``ledger evidence`` does), so that every exported
event names its ledger leaf (``bt:ledgerLeaf``) even where no service follows the store.

Without codes the export runs over two processes where two cores are usable
(``trace/epcis/whole_store.py``; ``BATTERYTRACE_EXPORT_PROCESSES=1``: one). A file is written
under a temporary name and renamed when complete: an export that fails leaves none behind.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from batterytrace.cli.common import err_console, open_app

LEDGER_LAG_TO_SAY = 5000  # events behind: the catch-up takes long enough to be announced
export_app = typer.Typer(help="Export batteries' lives in exchange formats.", no_args_is_help=True)


@export_app.command("epcis")
def epcis(
    codes: Annotated[list[str] | None, typer.Argument(help="Battery codes (default: every battery).")] = None,
    since: Annotated[
        int | None, typer.Option("--since", min=0, help="Only events recorded after this log position.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write to this file (default: stdout)."),
    ] = None,
) -> None:
    """Write an EPCIS 2.0 document (JSON-LD) of the batteries' events, with a progress bar on stderr."""
    from batterytrace.events.battery_code import parse_battery_code
    from batterytrace.trace.epcis.document import document_chunks, store_master_data
    from batterytrace.trace.epcis.identifiers import Identifiers
    from batterytrace.trace.epcis.whole_store import whole_store_chunks

    app = open_app()
    try:
        wanted = [parse_battery_code(code, today=app.today()).code for code in codes or ()]
        for code in wanted:
            app.battery(code)  # a code never recorded is refused before anything is written
        _ledger_up_to_date(app)
        ids = Identifiers(app.settings.public_url)
        after = since or 0
        total = max((app.recorder.max_notification_id() or 0) - after, 0)
        with _progress(total, show=output is not None or err_console.is_terminal) as advance:
            if wanted:
                chunks = document_chunks(
                    ids,
                    _events(app, wanted, after, advance),
                    master_data=store_master_data(app, ids),
                    created=app.clock(),
                )
            else:
                chunks = whole_store_chunks(app, ids, created=app.clock(), after=after, advance=advance)
            _write(chunks, output)
    finally:
        app.close()


def _ledger_up_to_date(app: Any) -> None:
    """The ledger view caught up with the store (nothing where it is turned off)."""
    from batterytrace.projections.runner import ViewRunner

    runner = ViewRunner(app)
    try:
        if "ledger" in runner.views:
            lag = next(s.lag for s in runner.status() if s.view == "ledger")
            if lag > LEDGER_LAG_TO_SAY:
                err_console.print(f"bringing the ledger up to date first ({lag} events)")
            runner.catch_up(["ledger"])
    finally:
        runner.engine.dispose()


def _events(app: Any, codes: list[str], after: int, advance: Callable[[int], None]) -> Iterator[Any]:
    """The events to export, advancing the bar by log position."""
    from batterytrace.trace.epcis.source import logged_events

    reached = after
    for positioned in logged_events(app, None, after=after, codes=codes):
        advance(positioned.position - reached)
        reached = positioned.position
        yield positioned.seen


@contextmanager
def _progress(total: int, *, show: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar over log positions on stderr (nothing when not shown): yields ``advance``."""
    if not show:
        yield lambda _steps: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("exporting EPCIS events (log positions)"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("export", total=total)
        yield lambda steps: bar.advance(task, steps)


def _write(chunks: Iterator[str], output: Path | None) -> None:
    if output is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
        sys.stdout.flush()
        return
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("w", encoding="utf-8") as file:
            for chunk in chunks:
                file.write(chunk)
            file.write("\n")
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    err_console.print(f"wrote {output}")
