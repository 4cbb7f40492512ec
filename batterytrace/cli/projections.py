"""``projections`` (status, rebuild, run), and views brought up to date for the commands that read
them (``show``, ``report``)."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batterytrace.cli.common import RowsFormatOption, console, err_console, open_app, print_rows
from batterytrace.events.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from batterytrace.projections.runner import ViewRunner
    from batterytrace.trace.application import BatteryTrace

projections_app = typer.Typer(
    help="Status, rebuild and follow the read models (views).", no_args_is_help=True
)

LAG_FOR_A_PROGRESS_BAR = 5000  # events behind: below this a catch-up is quick enough to run silently


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
    rebuilds) first. The views are read from their own database (BATTERYTRACE_VIEWS_DATABASE_URL,
    by default the event store's)."""
    from batterytrace.projections.database import STORE_SETTING, VIEWS_SETTING, create_view_engine
    from batterytrace.projections.freshness import views_are_current
    from batterytrace.trace.settings import Settings

    settings = Settings.from_environment()
    setting = VIEWS_SETTING if settings.views_apart else STORE_SETTING
    engine = create_view_engine(settings.views_database_url, setting=setting)
    # Views in a database of their own: the store's head is read from the store's database.
    store = create_view_engine(settings.database_url) if settings.views_apart else None
    try:
        if views_are_current(engine, settings.working_calendar(), store):
            return CurrentViews(engine, settings.overdue_days, datetime.now(UTC))
    finally:
        if store is not None:
            store.dispose()
    engine.dispose()
    app = open_app()
    runner = up_to_date_runner(app)
    return CurrentViews(runner.engine, app.settings.overdue_days, app.clock())


def up_to_date_runner(app: BatteryTrace, *, quiet: bool = False) -> ViewRunner:
    """A runner on ``app`` whose views include every event stored so far (a progress bar when
    far behind, unless ``quiet``)."""
    from batterytrace.projections.runner import ViewRunner

    runner = ViewRunner(app)
    lag = sum(s.lag for s in runner.status())
    if lag > LAG_FOR_A_PROGRESS_BAR and not quiet:
        _with_progress(lag, "updating views", lambda progress: runner.catch_up(progress=progress))
    else:
        runner.catch_up()
    return runner


def _runner() -> ViewRunner:
    from batterytrace.projections.runner import ViewRunner

    return ViewRunner(open_app())


def _with_progress(total: int, label: str, work: Any) -> int:
    """Run ``work(progress)`` under a progress bar on stderr, advanced by ``progress(view, done)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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
def status(fmt: RowsFormatOption = "table") -> None:
    """Each view's position, the store's head and the lag."""
    rows = [
        {"view": s.view, "position": s.position, "head": s.head, "lag": s.lag} for s in _runner().status()
    ]
    print_rows(rows, fmt, title="views")


@projections_app.command("rebuild")
def rebuild(
    view: Annotated[
        str | None, typer.Argument(help="lifecycle, network, reports or ledger (default: all).")
    ] = None,
) -> None:
    """Rebuild views from the events into fresh tables, swapped in at once (bounded memory)."""
    runner = _runner()
    names = [view] if view else list(runner.views)
    if view and view not in runner.views:
        raise InvalidInput(f"unknown view {view!r}; the views are {', '.join(runner.views)}")
    total = runner.head() * len(names)
    applied = _with_progress(
        total, f"rebuilding {', '.join(names)}", lambda progress: runner.rebuild(names, progress=progress)
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
