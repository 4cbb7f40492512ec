"""The ``batterytrace`` command: a thin layer over the application service.

Each command parses its options, calls one application method and prints the answer. Every
refusal the domain makes (bad code, wrong state, not authorised …) is printed as one line on
stderr with a non-zero exit status; no traceback reaches the user.
"""

from __future__ import annotations

import sys

import typer
from eventsourcing.persistence import PersistenceError
from sqlalchemy.exc import DBAPIError

from batterytrace.cli import bulk, lifecycle, participants, qr, serve, show, views
from batterytrace.cli.common import err_console, open_app
from batterytrace.events.errors import DomainError
from batterytrace.trace.settings import Settings, describe_database

app = typer.Typer(
    name="batterytrace",
    help="Trace every EV power battery from production to recycling.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(participants.participants_app, name="participants")
app.add_typer(participants.collection_points_app, name="collection-points")
app.add_typer(views.projections_app, name="projections")
app.add_typer(views.report_app, name="report")
lifecycle.register(app)
bulk.register(app)
show.register(app)
app.command()(serve.serve)
app.command()(qr.qr)


@app.command()
def init() -> None:
    """Create the event store (SQLite file or PostgreSQL tables) if it does not exist."""
    application = open_app()
    url = describe_database(Settings.from_environment().database_url)
    head = application.recorder.max_notification_id() or 0
    typer.echo(f"event store ready at {url} ({head} events)")


EXIT_REFUSED = 1


def run() -> None:
    """Console-script entry point: usage errors are Typer's (exit 2), refusals are ours (exit 1)."""
    try:
        app()
    except DomainError as refusal:
        err_console.print(f"error: {refusal.message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_REFUSED)
    except (PersistenceError, DBAPIError) as failure:
        first = (str(failure).strip().splitlines() or [type(failure).__name__])[0]
        err_console.print(
            f"error: the database failed: {first}", markup=False, highlight=False, soft_wrap=True
        )
        sys.exit(EXIT_REFUSED)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    run()
