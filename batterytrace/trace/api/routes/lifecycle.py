"""Routes: lifecycle — install, remove, retire, cascade reuse, hand over, recycle.

Each route is a thin call to the application service with the caller's participant as the actor:
the domain decides who may do what (holder, role, whitelist) and in which state, and its refusals
become problem details (403, 404, 409, 422). A ``request_id`` makes a write idempotent: the same
request sent again is answered with ``replayed: true`` and records nothing.

The single-battery writes (deliver, install, remove, retire, hand over, recycle) are queued with
the other writes of the moment and made by one thread, one read and one transaction for all of
them (``api/written_together.py``), each answered as it would have been alone.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import ConfigDict, Field

from batterytrace.events.battery import FLAG_NON_COMPLIANT, Battery
from batterytrace.events.battery_code import EXAMPLE_CODE
from batterytrace.events.commands import Deliver, HandOver, Install, Recycle, Remove, Retire
from batterytrace.trace.api.deps import Caller, Service
from batterytrace.trace.api.models import (
    EXAMPLE_RECEIVER,
    BatteryWriteResponse,
    LifecycleFields,
    ProductFacts,
    ReceiverFields,
    battery_write,
    problem_responses,
)
from batterytrace.trace.api.written_together import execute_queued
from batterytrace.trace.application import WriteResult

router = APIRouter(tags=["lifecycle"])

Code = Annotated[
    str,
    Path(description="The battery's 24-character GB/T 34014 code.", examples=[EXAMPLE_CODE]),
]
EXAMPLE_VIN = "LSVAU2180N2183294"
EXAMPLE_VEHICLE_MAKER = "91440300MA5F00003G"
EXAMPLE_PRODUCT = "9CUPB01SECLIFES5F0000001"
EXAMPLE_ORIGINAL = "3CAPB120A1B2C3R7F0000124"
WRITE_PROBLEMS = problem_responses(401, 403, 404, 409, 413, 422)


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class DeliverRequest(LifecycleFields):
    model_config = _examples({"receiver_id": EXAMPLE_VEHICLE_MAKER, "request_id": "delivery-001"})

    receiver_id: str = Field(
        min_length=1,
        max_length=40,
        description="Credit code of the receiver: a vehicle maker, or a battery-swap operator.",
        examples=[EXAMPLE_VEHICLE_MAKER],
    )


class InstallRequest(LifecycleFields):
    """Either a vehicle (VIN; by a vehicle maker) or, for a second-life product, a site."""

    model_config = _examples(
        {"vin": EXAMPLE_VIN, "occurred_at": "2024-08-01T10:00:00+08:00", "request_id": "install-001"},
        {"site": "Changsha base station 17", "application": "base-station backup"},
    )

    vin: str | None = Field(
        None,
        max_length=40,
        description="Vehicle identification number (17 characters).",
        examples=[EXAMPLE_VIN],
    )
    site: str | None = Field(
        None, max_length=200, description="Second-life site.", examples=["Changsha base station 17"]
    )
    application: str | None = Field(
        None, max_length=200, description="Second-life use, e.g. energy storage.", examples=["energy storage"]
    )


class RemoveRequest(LifecycleFields):
    model_config = _examples({"reason": "repair", "occurred_at": "2025-03-01T09:00:00+08:00"})

    reason: Literal["repair", "replacement"] = Field(description="Why it comes out; it may be reinstalled.")


class RetireRequest(LifecycleFields):
    model_config = _examples(
        {"reason": "capacity below 80%", "state_of_health_pct": 78.5, "request_id": "retire-001"}
    )

    reason: str = Field(min_length=1, max_length=500, examples=["capacity below 80%"])
    state_of_health_pct: float | None = Field(None, ge=0, le=100, description="State of health, %.")


class HandoverRequest(ReceiverFields, LifecycleFields):
    model_config = _examples({"receiver_id": EXAMPLE_RECEIVER, "activity": "recycling"})


class RecycleRequest(LifecycleFields):
    model_config = _examples({"recovered_kg": {"Li": 3.1, "Ni": 0, "Co": 0, "Mn": 0, "Fe": 21.5}})

    recovered_kg: dict[str, float] = Field(
        description="Recovered material masses, kg; Li, Ni, Co and Mn are required (0 where none).",
        examples=[{"Li": 3.1, "Ni": 0, "Co": 0, "Mn": 0, "Fe": 21.5}],
    )


class CascadeReuseRequest(ProductFacts):
    """The second-life product: its own new code under the enterprise's manufacturer code, and the
    other retired batteries it is made from (the one in the path is an original too)."""

    model_config = _examples(
        {
            "product_code": EXAMPLE_PRODUCT,
            "other_originals": [EXAMPLE_ORIGINAL],
            "rated_capacity_ah": 150,
            "nominal_voltage_v": 200,
            "energy_kwh": 30,
            "mass_kg": 220,
            "request_id": "second-life-001",
        }
    )

    product_code: str = Field(
        min_length=1,
        max_length=64,
        description="The new product's GB/T 34014 code.",
        examples=[EXAMPLE_PRODUCT],
    )
    other_originals: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Codes of further retired batteries built into the product.",
        examples=[[EXAMPLE_ORIGINAL]],
    )


class HandoverResponse(BatteryWriteResponse):
    compliant: bool = Field(description="Whether the receiver was whitelisted for the activity that day.")
    warning: str | None = Field(
        description="Why the handover is non-compliant (it is recorded all the same, and flagged).",
        examples=[None],
    )


class CascadeReuseResponse(BatteryWriteResponse):
    originals: list[str] = Field(description="The retired batteries now linked to the product.")


# ------------------------------------------------------------------------------------ routes
@router.post(
    "/batteries/{code}/deliver",
    response_model=BatteryWriteResponse,
    summary="Deliver a new battery to a vehicle maker or a swap operator",
    description="By the battery's holder (its manufacturer). The vehicle maker may then install it: a "
    "vehicle maker installs only batteries delivered to it, or made by itself. A swap operator's stations "
    "swap it into vehicles (POST /api/v1/swaps). Allowed while produced.",
    responses=WRITE_PROBLEMS,
)
async def deliver(code: Code, body: DeliverRequest, caller: Caller, request: Request) -> dict[str, Any]:
    command = Deliver(actor_id=caller.id, code=code, receiver_id=body.receiver_id, reporting=body.reporting())
    return await execute_queued(request, command, caller)


@router.post(
    "/batteries/{code}/install",
    response_model=BatteryWriteResponse,
    summary="Install a battery in a vehicle, or a second-life product at a site",
    description="With `vin`: by a vehicle maker holding the battery (delivered to it by the manufacturer, "
    "made by itself, or removed by it). With `site`: by the product's holder. Allowed when the battery is "
    "produced or removed.",
    responses=WRITE_PROBLEMS,
)
async def install(code: Code, body: InstallRequest, caller: Caller, request: Request) -> dict[str, Any]:
    command = Install(
        actor_id=caller.id,
        code=code,
        vin=body.vin,
        site=body.site,
        application=body.application,
        reporting=body.reporting(),
    )
    return await execute_queued(request, command, caller)


@router.post(
    "/batteries/{code}/remove",
    response_model=BatteryWriteResponse,
    summary="Remove an installed battery for repair or replacement",
    description="By the holder (the vehicle maker that installed it). It may be installed again.",
    responses=WRITE_PROBLEMS,
)
async def remove(code: Code, body: RemoveRequest, caller: Caller, request: Request) -> dict[str, Any]:
    command = Remove(actor_id=caller.id, code=code, reason=body.reason, reporting=body.reporting())
    return await execute_queued(request, command, caller)


@router.post(
    "/batteries/{code}/retire",
    response_model=BatteryWriteResponse,
    summary="Retire a battery (end of its first or second life)",
    description="By the holder, or by a dismantler taking it out of a scrapped vehicle.",
    responses=WRITE_PROBLEMS,
)
async def retire(code: Code, body: RetireRequest, caller: Caller, request: Request) -> dict[str, Any]:
    command = Retire(
        actor_id=caller.id,
        code=code,
        reason=body.reason,
        state_of_health_pct=body.state_of_health_pct,
        reporting=body.reporting(),
    )
    return await execute_queued(request, command, caller)


@router.post(
    "/batteries/{code}/cascade-reuse",
    status_code=201,
    response_model=CascadeReuseResponse,
    summary="Make a second-life product from retired batteries",
    description="By a cascade-use enterprise holding every original (handed over to it for cascade use). "
    "Records the product's production, naming its originals, and links each original to it, in one "
    "transaction. The same product sent again is answered (200, `replayed`).",
    responses={
        200: {"model": CascadeReuseResponse, "description": "The same product was already recorded."},
        **WRITE_PROBLEMS,
    },
)
def cascade_reuse(
    code: Code, body: CascadeReuseRequest, service: Service, caller: Caller, response: Response
) -> dict[str, Any]:
    result = service.cascade_reuse(
        actor_id=caller.id,
        originals=[code, *body.other_originals],
        product=body.spec(body.product_code, []),
    )
    answer = battery_write(service, result, body.product_code, caller)
    product = result.battery(body.product_code)
    if result.replayed:
        response.status_code = 200
    else:
        response.headers["Location"] = f"/api/v1/batteries/{product.code}"
    return {**answer, "originals": list(product.derived_from)}


@router.post(
    "/batteries/{code}/handover",
    response_model=HandoverResponse,
    summary="Hand a battery over to a recycler or cascade-use enterprise",
    description="By the holder (an outlet's operator, a dismantler, a vehicle maker …). A receiver that "
    "is not whitelisted for the activity on that day is recorded all the same, flagged non-compliant: "
    "the answer says `compliant: false` and why.",
    responses=WRITE_PROBLEMS,
)
async def hand_over(
    code: Code, body: HandoverRequest, service: Service, caller: Caller, request: Request
) -> dict[str, Any]:
    command = HandOver(
        actor_id=caller.id,
        code=code,
        receiver_id=body.receiver_id,
        activity=body.activity,
        reporting=body.reporting(),
    )

    def respond(result: WriteResult) -> dict[str, Any]:
        compliant, warning = _handover_outcome(result, code)
        return {**battery_write(service, result, code, caller), "compliant": compliant, "warning": warning}

    return await execute_queued(request, command, caller, respond)


@router.post(
    "/batteries/{code}/recycle",
    response_model=BatteryWriteResponse,
    summary="Record material recovery; the battery's life ends",
    description="By the recycler holding the battery, handed over to it for recycling.",
    responses=WRITE_PROBLEMS,
)
async def recycle(code: Code, body: RecycleRequest, caller: Caller, request: Request) -> dict[str, Any]:
    command = Recycle(
        actor_id=caller.id, code=code, recovered_kg=body.recovered_kg, reporting=body.reporting()
    )
    return await execute_queued(request, command, caller)


def _handover_outcome(result: WriteResult, code: str) -> tuple[bool, str | None]:
    """Compliance of this request's handover: from the event it recorded or, for a replayed
    request (nothing new recorded), from the battery as it was saved, flagged or not."""
    for event in result.recorded:
        if isinstance(event, Battery.HandedOver):
            return bool(event.compliant), event.non_compliance
    if FLAG_NON_COMPLIANT in result.battery(code).flags:
        return False, "the handover was recorded flagged non-compliant: the receiver was not whitelisted"
    return True, None
