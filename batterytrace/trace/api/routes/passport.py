"""Routes: the EU battery passport — a model's data by its manufacturer, readings by a battery's
holder, and one battery's passport cut to the caller's access tier.

The passport of a recycled battery has ended (Regulation (EU) 2023/1542 Art. 77(7)): asking for
it is answered ``410 Gone`` with a problem saying since when. The same passport is served as
JSON-LD at the battery's resolver URL (``/b/{code}`` with ``Accept: application/ld+json``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from batterytrace.events.battery_code import EXAMPLE_CODE
from batterytrace.events.battery_model import parse_model_code
from batterytrace.events.errors import NotAuthorised
from batterytrace.trace.api.deps import Caller, OptionalCaller, Service
from batterytrace.trace.api.models import WriteResponse, problem_responses, write_fields
from batterytrace.trace.api.problems import problem
from batterytrace.trace.passport.build import PassportEnded, battery_passport
from batterytrace.trace.passport.model_data import ModelData, ReadingsReport
from batterytrace.trace.passport.service import post_model, report_readings, require_model

router = APIRouter(tags=["passport"])

CodePath = Annotated[
    str, Path(description="GB/T 34014 battery code (24 characters).", examples=[EXAMPLE_CODE])
]
ModelPath = Annotated[
    str, Path(description="Model code: a battery code's first 7 characters.", examples=["3CAPB12"])
]


def ended(error: PassportEnded) -> JSONResponse:
    """``410 Gone``: the passport existed and has ended."""
    return problem(410, error.message, kind=error.kind, code=error.message_key, params=error.params)


@router.post(
    "/models",
    status_code=201,
    response_model=WriteResponse,
    summary="Post a battery model's passport data (its manufacturer)",
    responses=problem_responses(401, 403, 404, 409, 413, 422),
)
def post_battery_model(body: ModelData, service: Service, caller: Caller) -> Any:
    """The model's data, sections shaped as the Battery Pass 1.2.0 aspects; only the owner of the
    model code's manufacturer code posts it. The same data again records nothing (200,
    `replayed`); different data replaces the model's data."""
    result = post_model(service, actor_id=caller.id, model_code=body.model_code, data=body.data())
    answer = write_fields(service, result)
    return JSONResponse(answer, status_code=200 if result.replayed else 201)


@router.get(
    "/models/{model_code}",
    summary="A battery model's posted passport data",
    responses=problem_responses(401, 403, 404, 422),
)
def get_battery_model(model_code: ModelPath, service: Service, caller: Caller) -> dict[str, Any]:
    """What the manufacturer posted for the model, whole: for its manufacturer and regulators
    only (it holds attributes for persons with a legitimate interest; anyone else reads them cut
    to their tier in a battery's passport)."""
    code = parse_model_code(model_code)
    model = require_model(service, code)
    if not caller.is_regulator and caller.id != model.manufacturer_id:
        raise NotAuthorised(
            f"{caller.name} ({caller.id}) cannot read model {code}'s posted data; its manufacturer or "
            "a regulator can (a battery's passport shows it to you as far as your access allows)",
            key="model.not_owner",
            params={"model": code},
        )
    return {"model_code": code, **model.data}


@router.post(
    "/batteries/{code}/readings",
    status_code=201,
    response_model=WriteResponse,
    summary="Report a battery's condition (its holder)",
    responses=problem_responses(401, 403, 404, 409, 413, 422),
)
def post_readings(code: CodePath, body: ReadingsReport, service: Service, caller: Caller) -> Any:
    """State of certified energy, capacity fade, cycles, throughput, time at extreme temperatures
    and the rest of the passport's battery condition, measured at `occurred_at` (default: now), by
    the enterprise holding the battery. A `request_id` sent again is answered, not recorded twice."""
    result = report_readings(
        service,
        actor_id=caller.id,
        code=code,
        readings=body.readings(),
        occurred_at=body.occurred_at,
        request_id=body.request_id,
    )
    return JSONResponse(write_fields(service, result), status_code=200 if result.replayed else 201)


@router.get(
    "/batteries/{code}/passport",
    summary="A battery's EU battery passport (Battery Pass 1.2.0 aspects)",
    responses={
        410: {"description": "The battery was recycled: its passport has ended."},
        **problem_responses(404, 422),
    },
)
def get_passport(code: CodePath, service: Service, caller: OptionalCaller) -> Any:
    """Model data, the battery's own facts and its latest readings, each aspect under its SAMM URN.
    A regulator reads every attribute, the battery's holder and the participants involved with it
    those for persons with a legitimate interest, anyone else the public ones; `withheld` names
    each field left out."""
    try:
        return battery_passport(service, code, caller)
    except PassportEnded as error:
        return ended(error)
