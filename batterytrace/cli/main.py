"""The ``batterytrace`` command: a thin layer over the application service.

Each command parses its options, calls one application method and prints the answer. Every
refusal the domain makes (bad code, wrong state, not authorised …) is printed as one line on
stderr with a non-zero exit status; no traceback reaches the user.

This module imports only Typer: each command's module is imported when that command runs
(``lazy.py``), and loads the event store's and the web service's libraries inside the commands
that need them, so that a quick command such as ``code`` starts in a fraction of a second.
"""

from __future__ import annotations

import sys

import typer

from batterytrace.cli.common import err_console, open_app
from batterytrace.cli.lazy import LazyCommands
from batterytrace.events.errors import DomainError

app = typer.Typer(
    cls=LazyCommands,
    name="batterytrace",
    help="Trace every EV power battery from production to recycling.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def batterytrace() -> None:
    """Trace every EV power battery from production to recycling."""
    # The commands are in lazy.COMMANDS; a callback makes this a group whatever is registered.


def init() -> None:
    """Create the event store (SQLite file or PostgreSQL tables) and the views' tables if they do
    not exist (the views in BATTERYTRACE_VIEWS_DATABASE_URL when it names another database)."""
    from batterytrace.projections.runner import ViewRunner
    from batterytrace.store import describe_database

    application = open_app()
    settings = application.settings
    ViewRunner(application).engine.dispose()  # creates the view tables (not their rows: see serve)
    head = application.recorder.max_notification_id() or 0
    typer.echo(f"event store ready at {describe_database(settings.database_url)} ({head} events)")
    if settings.views_apart:
        typer.echo(f"views ready at {describe_database(settings.views_database_url)}")
    from batterytrace.trace.ledger.keys import ensure_ledger_key

    typer.echo(ensure_ledger_key(application.settings))


EXIT_REFUSED = 1


def run() -> None:
    """Console-script entry point: usage errors are Typer's (exit 2), refusals are ours (exit 1)."""
    try:
        app()
    except DomainError as refusal:
        err_console.print(f"error: {refusal.message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(getattr(refusal, "exit_status", EXIT_REFUSED))  # a setting written wrongly: 2
    except Exception as failure:
        if not isinstance(failure, _database_failures()):
            raise
        first = (str(failure).strip().splitlines() or [type(failure).__name__])[0]
        err_console.print(
            f"error: the database failed: {first}", markup=False, highlight=False, soft_wrap=True
        )
        sys.exit(EXIT_REFUSED)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


def _database_failures() -> tuple[type[BaseException], ...]:
    """The store libraries' failure types, from those libraries that are loaded: one that is not
    loaded cannot have raised anything (and is not worth loading to find that out)."""
    found: list[type[BaseException]] = []
    persistence = sys.modules.get("eventsourcing.persistence")
    if persistence is not None:
        found.append(persistence.PersistenceError)
    sqlalchemy_errors = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_errors is not None:
        found.append(sqlalchemy_errors.DBAPIError)
    return tuple(found)


if __name__ == "__main__":
    run()
