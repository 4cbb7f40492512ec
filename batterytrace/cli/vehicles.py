"""Commands on a vehicle's batteries, named by the vehicle's VIN: ``swap`` (a swap operator's
battery swap) and ``scrap`` (a dismantler taking in a scrapped vehicle). Each builds one command
value that changes every battery it names in one transaction, or none."""

from __future__ import annotations

from typing import Annotated

import typer

from batterytrace.cli.common import (
    ActorOption,
    AtOption,
    LateOption,
    RequestIdOption,
    open_app,
    parse_day,
    parse_when,
    report_write,
)
from batterytrace.events.commands import Reporting, ScrapVehicle, Swap

VinOption = Annotated[str, typer.Option("--vin", help="The vehicle's identification number (17 characters).")]


def swap(
    vin: VinOption,
    removed: Annotated[str, typer.Option("--out", help="Code of the battery taken out of the vehicle.")],
    installed: Annotated[
        str, typer.Option("--in", help="Code of the battery put in (new, or from your swap stock).")
    ],
    station: Annotated[str, typer.Option("--station", help="Your swap station's name (1-64 characters).")],
    division: Annotated[
        str,
        typer.Option("--division", help="The station's prefecture or county code (GB/T 2260), e.g. 440304."),
    ],
    actor: ActorOption,
    at: AtOption = None,
    late: LateOption = False,
    request_id: RequestIdOption = None,
) -> None:
    """Swap a vehicle's battery at a swap station (by a swap operator): one out, one in."""
    command = Swap(
        actor_id=actor,
        vin=vin,
        removed_code=removed,
        installed_code=installed,
        station=station,
        division_code=division,
        reporting=Reporting(occurred_at=parse_when(at), request_id=request_id, late_correction=late),
    )
    result = open_app().execute(command)
    report_write(result, f"swapped {removed.upper()} out, {installed.upper()} in")


def scrap(
    vin: VinOption,
    code: Annotated[
        list[str], typer.Option("--code", help="Code of a battery in the vehicle (repeatable, 1-8).")
    ],
    actor: ActorOption,
    scrapped_on: Annotated[
        str | None,
        typer.Option("--scrapped-on", help="Scrapping date (YYYY-MM-DD). Default: the day of --at."),
    ] = None,
    at: AtOption = None,
    late: LateOption = False,
    request_id: RequestIdOption = None,
) -> None:
    """Take in a scrapped vehicle with its batteries (by a dismantler), which you may then retire."""
    command = ScrapVehicle(
        actor_id=actor,
        vin=vin,
        codes=tuple(code),
        scrapped_on=parse_day(scrapped_on, name="--scrapped-on"),
        reporting=Reporting(occurred_at=parse_when(at), request_id=request_id, late_correction=late),
    )
    result = open_app().execute(command)
    report_write(result, f"scrapped vehicle with {', '.join(c.upper() for c in code)}")
