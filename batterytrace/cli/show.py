"""``show`` (a battery's life) and ``code`` (explain GB/T 34014 codes)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.tree import Tree

from batterytrace.cli.common import (
    FormatOption,
    check_format,
    console,
    open_app,
    parse_when,
    print_json,
)
from batterytrace.events.battery_code import parse_battery_code
from batterytrace.events.errors import InvalidBatteryCode, NotFound
from batterytrace.events.zone import shown_time


def show(
    code: Annotated[str, typer.Argument(help="Battery code.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Show the battery as it stood then (rebuilt from its events)."),
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Print a battery's timeline and lineage."""
    moment = parse_when(as_of, name="--as-of")
    if moment:  # rebuilt from the events: needs the application
        from batterytrace.trace.presenters import battery_document

        document = battery_document(open_app(), code, as_of=moment)
    else:  # from the lifecycle view: without the application when the views are current
        document = lifecycle_from_view(code)
    if check_format(fmt) == "json":
        print_json(document)
        return
    print_document(document)


# Produced-event details already shown in the summary line above the timeline.
_IN_SUMMARY = {
    "code",
    "manufacturer_id",
    "manufacturer_code",
    "level",
    "battery_type",
    "rated_capacity_ah",
    "nominal_voltage_v",
    "energy_kwh",
    "mass_kg",
    "production_date",
}


def print_document(document: dict[str, Any]) -> None:
    b = document["battery"]
    title = f"{b['code']} — {b['level']}, {b['chemistry']}, {b['energy_kwh']:g} kWh"
    if document["as_of"]:
        title += f" (as of {shown_time(document['as_of'])})"
    console.rule(title)
    console.print(
        f"state: [bold]{b['state']}[/]   holder: {b['holder']['kind']} {b['holder']['id'] or ''}"
        f"   made by {b['manufacturer_id']} on {b['production_date']}"
        + (f"   flags: [red]{', '.join(b['flags'])}[/]" if b["flags"] else "")
    )
    console.print(
        f"{b['rated_capacity_ah']:g} Ah, {b['nominal_voltage_v']:g} V, {b['mass_kg']:g} kg"
        + (f", VIN {b['vin']}" if b["vin"] else "")
    )
    table = Table("#", "event", "occurred", "recorded", "by", "details")
    for entry in document["timeline"]:
        details = ", ".join(
            f"{k}={v}" for k, v in entry["details"].items() if v not in ([], {}, "") and k not in _IN_SUMMARY
        )
        late = " (late correction)" if entry["late_correction"] else ""
        table.add_row(
            str(entry["version"]),
            entry["event"] + late,
            shown_time(entry["occurred_at"]),
            shown_time(entry["recorded_at"]),
            entry["actor_id"],
            details,
        )
    console.print(table)
    lineage = document["lineage"]
    tree = Tree("lineage")
    _branch(tree, "components", lineage["components"], "components")
    _branch(tree, "built into pack", lineage["parent_packs"], None)
    _branch(tree, "made from originals", lineage["originals"], "originals")
    _branch(tree, "lives on in second-life product", lineage["second_life_products"], None)
    if tree.children:
        console.print(tree)


def _branch(tree: Tree, label: str, nodes: list[dict[str, Any]], child_key: str | None) -> None:
    if not nodes:
        return
    branch = tree.add(label)
    for node in nodes:
        leaf = branch.add(f"{node['code']} ({node['level']}, {node['state']})")
        if child_key and node.get(child_key):
            _branch(leaf, child_key, node[child_key], child_key)


def lifecycle_from_view(code: str) -> dict[str, Any]:
    """The lifecycle view's document, after bringing the views up to date (read-your-writes):
    read at once in plain SQL when the views are current (``quick_views``), else through them."""
    quick = _quick_lifecycle(code)
    if quick is not None:
        return quick
    from batterytrace.cli.projections import current_views, up_to_date_runner
    from batterytrace.projections.queries import battery_lifecycle

    views = current_views()
    parsed = parse_battery_code(code)  # refuses an invalid code with the segment that is wrong
    document = battery_lifecycle(views.engine, parsed.code, now=views.now, overdue_days=views.overdue_days)
    if document is not None:
        return document
    # Not in the view: the event store says whether the battery exists (unknown: NotFound).
    app = open_app()
    runner = up_to_date_runner(app)
    battery = app.battery(parsed.code)
    document = battery_lifecycle(
        runner.engine, battery.code, now=app.clock(), overdue_days=app.settings.overdue_days
    )
    if document is None:
        raise NotFound(
            f"battery {battery.code} is not in the lifecycle view yet; run 'batterytrace projections run'"
        )
    return document


def _quick_lifecycle(code: str) -> dict[str, Any] | None:
    """The document read on current views without SQLAlchemy; None when the views are not
    current, the battery is not in them (the event store says why) or the driver failed."""
    from batterytrace.cli.quick_views import quick_views
    from batterytrace.projections.plain_reads import battery_lifecycle

    with quick_views() as views:
        if views is None:
            return None
        parsed = parse_battery_code(code)  # refuses an invalid code with the segment that is wrong
        try:
            return battery_lifecycle(
                views.connection, parsed.code, now=views.now, overdue_days=views.overdue_days
            )
        except views.connection.driver_errors:
            return None  # nothing printed yet: the full path reads again, or says what is wrong


def code(
    codes: Annotated[list[str], typer.Argument(help="One or more battery codes.")],
    fmt: FormatOption = "table",
) -> None:
    """Parse and explain battery codes; exits non-zero if any is invalid."""
    results: list[dict[str, Any]] = []
    for text in codes:
        try:
            results.append(parse_battery_code(text).as_dict())
        except InvalidBatteryCode as error:
            results.append({"code": error.code, "error": error.message, "segment": error.segment})
    if check_format(fmt) == "json":
        print_json(results)
    else:
        print_code_table(results)
    if any("error" in r for r in results):
        raise typer.Exit(1)


# The code table's columns: the parts of a valid code, then why an invalid one is refused (its
# own column, so a reason never reads as a manufacturer code).
CODE_COLUMNS = {
    "code": "code",
    "manufacturer_code": "maker",
    "level": "type",
    "chemistry": "chemistry",
    "spec_code": "spec",
    "trace_code": "trace",
    "production_date": "produced",
    "serial": "serial",
    "error": "error",
}


def print_code_table(results: list[dict[str, Any]]) -> None:
    """Each code whole on one line (it is copied into ``show``), its parts, or its error."""
    from batterytrace.cli.tables import print_table

    headers = list(CODE_COLUMNS.values())
    print_table(console, list(CODE_COLUMNS), results, headers=headers, error_style={"error": "red"})


def register(app: typer.Typer) -> None:
    app.command()(show)
    app.command()(code)
