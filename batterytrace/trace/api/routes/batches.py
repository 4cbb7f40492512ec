"""Routes: what an outlet sends together — a hand-over of the batteries it selected, the scans its
page queued while the server could not be reached — each as one command, one transaction.

All or nothing (``trace/batches.py``): the answer has one item per battery, in the order sent.
When any battery is refused, nothing is recorded and the answer is a problem (4xx) whose
``items`` say which batteries were refused and why (each with its own problem: ``detail`` in
English, ``code`` and ``params`` for pages to say it in Chinese) and which were fine but not
recorded; the client sends the batch again without the refused ones. A batch holds at most
``MAX_BATCH`` (500) batteries; more is refused with ``batch.too_large`` before anything is read.

Who may: exactly as the single commands — the operator of the collection point in the path
(another operator's point is 403 for the whole batch, like a scan), and for a hand-over the
holder of each battery, held at that point. Request ids replay as they do for single commands:
a hand-over's ``request_id`` names the batch (send the same id with the same list), a scan's
``client_scan_id`` is the scan's own, so a queued scan whose answer was lost is answered again,
whether it was first sent alone or in a batch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import FLAG_NON_COMPLIANT, Battery
from batterytrace.events.battery_code import EXAMPLE_CODE
from batterytrace.events.commands import Collect, HandOver, Reporting
from batterytrace.trace.api.deps import Caller, Service
from batterytrace.trace.api.models import (
    EXAMPLE_RECEIVER,
    LifecycleFields,
    ReceiverFields,
    WriteResponse,
    problem_responses,
    write_fields,
)
from batterytrace.trace.api.problems import problem, status_of
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.batches import MAX_BATCH, Batch, BatchRefused, BatchResult, Outcome

router = APIRouter(tags=["outlet"])

PointId = Annotated[
    str,
    Path(
        max_length=60,
        description="The collection point's id; the caller must be its operator.",
        examples=["CP-110105-0001"],
    ),
]
BATCH_LIMIT = {"maxItems": MAX_BATCH}  # said in the schema; enforced with a problem of its own


# -------------------------------------------------------------------------------- hand-overs
class HandoverBatchRequest(ReceiverFields, LifecycleFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "codes": [EXAMPLE_CODE, "3CAPB120A1B2C3R7F0000124"],
                    "receiver_id": EXAMPLE_RECEIVER,
                    "activity": "recycling",
                    "request_id": "handover-2026-05-20-1",
                }
            ]
        },
    )

    codes: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        description=f"The batteries to hand over (1 to {MAX_BATCH}, each once), held at this point.",
        json_schema_extra=BATCH_LIMIT,
    )


class HandedOver(BaseModel):
    code: str = Field(examples=[EXAMPLE_CODE])
    result: Literal["handed_over", "replayed"] = Field(
        description="handed_over: recorded by this request; replayed: this request id had already "
        "handed it over (nothing new)."
    )
    compliant: bool = Field(description="Whether the receiver was whitelisted for the activity that day.")
    warning: str | None = Field(description="Why the hand-over is non-compliant (recorded all the same).")


class HandoverBatchResponse(WriteResponse):
    count: int = Field(description="Batteries in the batch.")
    recorded: int = Field(description="Batteries handed over by this request.")
    items: list[HandedOver] = Field(description="One per battery, in the order sent.")


# --------------------------------------------------------------------------------- scans
class QueuedScan(BaseModel):
    """One scan as the page queued it: the label's text and the scan's own id and time."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=2048,
        description="The QR text: the resolver URL http(s)://…/b/{code}, or the bare 24-character code.",
        examples=[EXAMPLE_CODE],
    )
    client_scan_id: str = Field(
        min_length=1,
        max_length=100,
        description="The scanner's own id for this scan; sent again (alone or in a batch), it is "
        "answered, not recorded twice.",
        examples=["6f1c2b9e-4d3a-4c55-9a7e-0b8f2d1e7c11"],
    )
    occurred_at: datetime | None = Field(
        None, description="When it was scanned (a queued scan sends the time of the scan); default: now."
    )
    mass_kg: float | None = Field(None, gt=0, description="Weighed mass at intake, kg.")
    condition: str = Field("intact", min_length=1, max_length=200, examples=["intact"])
    source_vin: str | None = Field(
        None, max_length=40, description="VIN of the vehicle, as the outlet saw it."
    )
    scanned_by: str | None = Field(None, max_length=100, examples=["handheld-07"])


class ScanBatchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "scans": [
                        {
                            "text": EXAMPLE_CODE,
                            "client_scan_id": "scan-0001",
                            "occurred_at": "2026-05-20T10:15:00+08:00",
                        },
                        {"text": "3CAPB120A1B2C3R7F0000124", "client_scan_id": "scan-0002"},
                    ]
                }
            ]
        },
    )

    scans: list[QueuedScan] = Field(
        description=f"1 to {MAX_BATCH} scans at this point, oldest first.", json_schema_extra=BATCH_LIMIT
    )


class TakenIn(BaseModel):
    code: str = Field(examples=[EXAMPLE_CODE])
    client_scan_id: str
    result: Literal["taken_in", "replayed"] = Field(
        description="taken_in: recorded by this request; replayed: this scan had already been recorded."
    )
    state: str = Field(examples=["collected"])
    collected_at: str = Field(description="When it was taken in (China Standard Time).")
    mass_kg: float


class ScanBatchResponse(WriteResponse):
    count: int = Field(description="Scans in the batch.")
    recorded: int = Field(description="Scans recorded by this request.")
    items: list[TakenIn] = Field(description="One per scan, in the order sent.")


# ------------------------------------------------------------------------------ refusals
class ItemProblem(BaseModel):
    status: int = Field(examples=[403])
    detail: str = Field(description="Why, in English.")
    code: str | None = Field(None, description="Message key for pages (see Problem).")
    params: dict[str, Any] = Field(default_factory=dict)


class RefusedItem(BaseModel):
    code: str = Field(description="The battery (as sent, where it is not a valid code).")
    client_scan_id: str | None = Field(None, description="For a scan: its id.")
    result: Literal["refused", "not_stored"] = Field(
        description="refused: see problem; not_stored: it was fine, but the batch was refused."
    )
    problem: ItemProblem | None = None


class BatchProblem(BaseModel):
    """A refused batch: nothing was recorded. ``status`` is the refusals' own status where they
    all agree (403, 404, 409 or 422), else 422."""

    type: str = Field(examples=["/problems/batch-refused"])
    title: str
    status: int
    detail: str
    code: str = Field(examples=["batch.refused"])
    params: dict[str, Any] = Field(examples=[{"refused": 1, "count": 3}])
    items: list[RefusedItem]


BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **problem_responses(401, 403, 404, 409, 413, 422),
    "4XX": {
        "model": BatchProblem,
        "description": "Some batteries were refused, so none was recorded; `items` says which and why.",
    },
}


# -------------------------------------------------------------------------------- routes
@router.post(
    "/collection-points/{point_id}/handovers",
    response_model=HandoverBatchResponse,
    summary="Hand over several batteries the point holds, all or nothing",
    description=f"By the point's operator: 1 to {MAX_BATCH} batteries held at this point, to one receiver "
    "for one activity, recorded in one transaction. If any battery is refused, nothing is recorded and "
    "the problem's `items` say which and why. A receiver not whitelisted for the activity is recorded "
    "all the same, every battery flagged non-compliant (`compliant: false`).",
    responses=BATCH_RESPONSES,
)
def hand_over_batch(point_id: PointId, body: HandoverBatchRequest, service: Service, caller: Caller) -> Any:
    reporting = body.reporting()
    commands = tuple(
        HandOver(
            actor_id=caller.id,
            code=code,
            receiver_id=body.receiver_id,
            activity=body.activity,
            reporting=reporting,
        )
        for code in body.codes
    )
    batch = Batch(actor_id=caller.id, collection_point_id=point_id, commands=commands)
    try:
        done = service.execute_batch(batch, actor=caller)
    except BatchRefused as refused:
        return refusal(refused)
    items = [_handed_over(outcome) for outcome in done.outcomes]
    return _answer(service, done, items)


@router.post(
    "/collection-points/{point_id}/scans/batch",
    status_code=201,
    response_model=ScanBatchResponse,
    summary="Take in several batteries at once: the scans a page queued offline",
    description=f"By the point's operator: 1 to {MAX_BATCH} scans as text, recorded in one transaction. "
    "Each scan's `client_scan_id` is its request id, as for a single scan: one already recorded is "
    "answered (`replayed`). If any scan is refused, nothing is recorded and the problem's `items` say "
    "which and why; send the rest again. 200 when every scan was a replay.",
    responses={200: {"model": ScanBatchResponse, "description": "Every scan was already recorded."}}
    | BATCH_RESPONSES,
)
def scan_batch(
    point_id: PointId, body: ScanBatchRequest, service: Service, caller: Caller, response: Response
) -> Any:
    commands = tuple(_collect(caller.id, point_id, scan) for scan in body.scans)
    batch = Batch(actor_id=caller.id, collection_point_id=point_id, commands=commands)
    try:
        done = service.execute_batch(batch, actor=caller)
    except BatchRefused as refused:
        return refusal(refused, [scan.client_scan_id for scan in body.scans])
    items = [_taken_in(o, s) for o, s in zip(done.outcomes, body.scans, strict=True)]
    if not any(item["result"] == "taken_in" for item in items):
        response.status_code = 200
    return _answer(service, done, items)


def _collect(actor_id: str, point_id: str, scan: QueuedScan) -> Collect:
    """A queued scan as the ``Collect`` a single scan records; its battery is what the label says
    (``code``: the text, read by the batch as a single scan reads it)."""
    return Collect(
        actor_id=actor_id,
        code=scan.text,
        collection_point_id=point_id,
        mass_kg=scan.mass_kg,
        condition=scan.condition,
        source_vin=scan.source_vin,
        scanned_by=scan.scanned_by,
        reporting=Reporting(occurred_at=scan.occurred_at, request_id=f"scan:{scan.client_scan_id}"),
    )


def _answer(service: BatteryTrace, done: BatchResult, items: list[dict[str, Any]]) -> dict[str, Any]:
    recorded = sum(1 for outcome in done.outcomes if outcome.verdict == "recorded")
    return {**write_fields(service, done.write), "count": len(items), "recorded": recorded, "items": items}


def _handed_over(outcome: Outcome) -> dict[str, Any]:
    """Compliance from the event recorded or, for a replay, from the battery's flags."""
    for event in outcome.events:
        if isinstance(event, Battery.HandedOver):
            return {
                "code": outcome.code,
                "result": "handed_over",
                "compliant": bool(event.compliant),
                "warning": event.non_compliance,
            }
    assert outcome.battery is not None
    flagged = FLAG_NON_COMPLIANT in outcome.battery.flags
    return {
        "code": outcome.code,
        "result": "replayed",
        "compliant": not flagged,
        "warning": "the handover was recorded flagged non-compliant: the receiver was not whitelisted"
        if flagged
        else None,
    }


def _taken_in(outcome: Outcome, scan: QueuedScan) -> dict[str, Any]:
    battery = outcome.battery
    assert battery is not None
    collected = next((e for e in outcome.events if isinstance(e, Battery.Collected)), None)
    at = collected.occurred_at if collected else battery.last_occurred_at
    weighed = battery.mass_kg if battery.weighed_kg is None else battery.weighed_kg
    return {
        "code": outcome.code,
        "client_scan_id": scan.client_scan_id,
        "result": "taken_in" if collected else "replayed",
        "state": str(battery.state),
        "collected_at": at.astimezone(CHINA_STANDARD_TIME).isoformat(),
        "mass_kg": collected.mass_kg if collected else weighed,
    }


def refusal(refused: BatchRefused, scan_ids: list[str] | None = None) -> JSONResponse:
    """The refused batch as a problem with one item per battery; its status is the refusals'
    own where they agree, else 422."""
    items: list[dict[str, Any]] = []
    statuses: set[int] = set()
    for index, outcome in enumerate(refused.outcomes):
        item: dict[str, Any] = {"code": outcome.code, "result": outcome.verdict, "problem": None}
        if scan_ids is not None:
            item["client_scan_id"] = scan_ids[index]
        if outcome.error is not None:
            status = status_of(outcome.error)
            statuses.add(status)
            item["problem"] = {
                "status": status,
                "detail": outcome.error.message,
                "code": outcome.error.message_key,
                "params": outcome.error.params,
            }
        items.append(item)
    status = statuses.pop() if len(statuses) == 1 else 422
    return problem(
        status,
        refused.message,
        kind=refused.kind,
        code=refused.message_key,
        params=refused.params,
        items=items,
    )
