"""What every CLI command shares: the application, the acting participant, times, output."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from batterytrace.events.errors import InvalidInput
from batterytrace.events.zone import CHINA_STANDARD_TIME

if TYPE_CHECKING:  # the application loads the event store's libraries: only when a command opens it
    from batterytrace.trace.application import BatteryTrace, WriteResult

# Wide enough for a timeline when the output is a pipe or a file (Rich would assume 80 columns).
console = Console(width=None if Console().is_terminal else 160)
err_console = Console(stderr=True)

ActorOption = Annotated[
    str,
    typer.Option(
        "--as",
        envvar="BATTERYTRACE_ACTOR",
        help="Credit code of the participant acting (or set BATTERYTRACE_ACTOR).",
        show_default=False,
    ),
]
AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="When it happened in the real world: ISO date or time; no zone means China "
        "Standard Time (UTC+8). Default: now.",
    ),
]
LateOption = Annotated[
    bool,
    typer.Option(
        "--late-correction",
        help="Accept a real-world time before the battery's previous event (a late report).",
    ),
]
RequestIdOption = Annotated[
    str | None,
    typer.Option("--request-id", help="Client request id: a retry with it is not recorded twice."),
]
# ``--format``: a command printing a document or records offers table or json; one printing rows
# (reports, statuses) offers CSV too.
FORMATS = ("table", "json")
ROW_FORMATS = ("table", "csv", "json")
FormatOption = Annotated[str, typer.Option("--format", "-f", help="Output format: table or json.")]
RowsFormatOption = Annotated[str, typer.Option("--format", "-f", help="Output format: table, csv or json.")]


def open_app() -> BatteryTrace:
    """The application on the configured store (BATTERYTRACE_DATABASE_URL)."""
    from batterytrace.trace.application import BatteryTrace

    return BatteryTrace()


def parse_when(value: str | None, *, name: str = "--at") -> datetime | None:
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), CHINA_STANDARD_TIME)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{name} {value!r} is not a date or time; use e.g. 2025-03-01 or 2025-03-01T14:30:00+08:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_STANDARD_TIME)


def parse_day(value: str | None, *, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} {value!r} is not a date; use YYYY-MM-DD") from None


def check_format(value: str, allowed: tuple[str, ...] = FORMATS) -> str:
    fmt = value.lower()
    if fmt not in allowed:
        raise InvalidInput(f"--format {value!r} is unknown; use {' or '.join(allowed)}")
    return fmt


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def print_rows(rows: list[dict[str, Any]], fmt: str, *, title: str | None = None) -> None:
    """Rows as a table (identifiers whole), CSV on stdout, or a JSON array. The writers are
    imported when used: every command loads this module."""
    fmt = check_format(fmt, ROW_FORMATS)
    if fmt == "json":
        print_json(rows)
        return
    columns = list(rows[0]) if rows else []
    if fmt == "csv":
        from batterytrace.trace.tabular import write_csv

        write_csv(sys.stdout, rows, columns)
        return
    from batterytrace.cli.tables import print_table

    print_table(console, columns, rows, title=title)


def report_write(result: WriteResult, what: str) -> None:
    """One line saying what was recorded, or that a replayed request changed nothing."""
    if result.replayed:
        console.print(f"[yellow]{what}: already recorded[/] (a repeat of the same request)")
        return
    console.print(
        f"[green]{what}[/]: recorded {', '.join(e.split(':', 1)[1] for e in result.events)} "
        f"(notification {result.notification_id})"
    )
