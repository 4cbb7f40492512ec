"""Routes: a vehicle's batteries — a battery swap and a scrapped vehicle's intake.

Each request names a vehicle by its VIN and changes every battery it names in one transaction,
or none, through the application's one ``execute``; the domain decides who may (a swap operator,
a dismantler) and refuses a battery that is not in the named vehicle without saying where it is.

The VIN travels in the body, never in the path: paths land in access logs and proxies' logs, and a
VIN is the vehicle owner's personal data (``events/disclosure.py``). The answer has one entry per
battery, each as the other battery writes answer it (``models.battery_write``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import ConfigDict, Field

from batterytrace.events.battery_code import EXAMPLE_CODE
from batterytrace.events.battery_vehicles import MAX_BATTERIES_PER_VEHICLE, MAX_STATION_LENGTH
from batterytrace.events.commands import ScrapVehicle, Swap, VehicleCommand
from batterytrace.events.participant import Participant
from batterytrace.trace.api.deps import Caller, Service
from batterytrace.trace.api.models import (
    BatterySummary,
    LifecycleFields,
    WriteResponse,
    battery_write,
    problem_responses,
)
from batterytrace.trace.application import BatteryTrace, WriteResult

router = APIRouter(tags=["lifecycle"])

EXAMPLE_VIN = "LSVAU2180N2183294"
EXAMPLE_INSTALLED = "3CAPB120A1B2C3R7F0000124"
WRITE_PROBLEMS = problem_responses(401, 403, 404, 409, 413, 422)


class VehicleReport(LifecycleFields):
    """The vehicle, and when and how the event is reported (as every lifecycle write)."""

    vin: str = Field(
        min_length=1,
        max_length=40,
        description="The vehicle's identification number (17 characters).",
        examples=[EXAMPLE_VIN],
    )


class SwapRequest(VehicleReport):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "vin": EXAMPLE_VIN,
                    "removed_code": EXAMPLE_CODE,
                    "installed_code": EXAMPLE_INSTALLED,
                    "station": "Futian 03",
                    "division_code": "440304",
                    "request_id": "swap-0001",
                }
            ]
        },
    )

    removed_code: str = Field(
        min_length=1,
        max_length=64,
        description="The battery taken out of the vehicle.",
        examples=[EXAMPLE_CODE],
    )
    installed_code: str = Field(
        min_length=1,
        max_length=64,
        description="The battery put in: new (delivered to you) or from your swap stock.",
        examples=[EXAMPLE_INSTALLED],
    )
    station: str = Field(
        min_length=1,
        max_length=MAX_STATION_LENGTH,
        description="Your swap station's name; the removed battery stays there.",
        examples=["Futian 03"],
    )
    division_code: str = Field(
        min_length=6,
        max_length=6,
        description="The station's prefecture or county code (GB/T 2260).",
        examples=["440304"],
    )


class ScrappingRequest(VehicleReport):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"vin": EXAMPLE_VIN, "codes": [EXAMPLE_CODE], "scrapped_on": "2026-05-18"}]
        },
    )

    codes: list[str] = Field(
        min_length=1,
        max_length=MAX_BATTERIES_PER_VEHICLE,
        description="The batteries installed in the scrapped vehicle.",
        examples=[[EXAMPLE_CODE]],
    )
    scrapped_on: date | None = Field(
        None,
        description="The scrapping date; default: the day of `occurred_at`, when the vehicle passed to you.",
        examples=["2026-05-18"],
    )


class VehicleWriteResponse(WriteResponse):
    batteries: list[BatterySummary] = Field(
        description="Each battery the request named, in its order, as it stands after the write."
    )


def _answer(
    service: BatteryTrace, result: WriteResult, command: VehicleCommand, caller: Participant
) -> dict[str, Any]:
    answers = [battery_write(service, result, code, caller) for code in command.battery_codes]
    return {
        **{k: v for k, v in answers[0].items() if k != "battery"},
        "batteries": [a["battery"] for a in answers],
    }


@router.post(
    "/swaps",
    response_model=VehicleWriteResponse,
    summary="Swap a vehicle's battery at a swap station",
    description="By a swap operator: `removed_code` (installed in the vehicle `vin`) goes into the "
    "station's stock, `installed_code` (delivered to you, or from your stock) into the vehicle, at the "
    "same moment, in one transaction. You answer for the battery you put in.",
    responses=WRITE_PROBLEMS,
)
def swap(body: SwapRequest, service: Service, caller: Caller) -> dict[str, Any]:
    command = Swap(
        actor_id=caller.id,
        vin=body.vin,
        removed_code=body.removed_code,
        installed_code=body.installed_code,
        station=body.station,
        division_code=body.division_code,
        reporting=body.reporting(),
    )
    return _answer(service, service.execute(command, actor=caller), command, caller)


@router.post(
    "/scrappings",
    response_model=VehicleWriteResponse,
    summary="Take in a scrapped vehicle with its batteries",
    description="By a dismantler: every battery named must be installed in the vehicle `vin`; all of "
    "them pass to you with the vehicle, or none. You may then retire them (and must hand them on "
    "within 15 working days).",
    responses=WRITE_PROBLEMS,
)
def scrapping(body: ScrappingRequest, service: Service, caller: Caller) -> dict[str, Any]:
    command = ScrapVehicle(
        actor_id=caller.id,
        vin=body.vin,
        codes=tuple(body.codes),
        scrapped_on=body.scrapped_on,
        reporting=body.reporting(),
    )
    return _answer(service, service.execute(command, actor=caller), command, caller)
