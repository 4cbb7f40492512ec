"""Routes: production — a manufacturer records one battery, or a whole file of them (streamed).

What every write route answers with lives in ``api/models.py``, the body reader that stops at the
configured size in ``api/bodies.py``.
"""

from __future__ import annotations

import codecs
import io
import tempfile
from typing import IO, Any

from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from batterytrace.events.battery_code import EXAMPLE_CODE
from batterytrace.events.errors import InvalidInput
from batterytrace.events.participant import Role
from batterytrace.store import StoreUnavailable
from batterytrace.trace.api.bodies import limited_chunks, media_type, too_large
from batterytrace.trace.api.deps import Caller, Service
from batterytrace.trace.api.errors import PayloadTooLarge
from batterytrace.trace.api.models import (
    BatteryWriteResponse,
    ProductFacts,
    battery_write,
    problem_responses,
)
from batterytrace.trace.api.problems import problem
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.bulk_import import ImportReport, ProductionImporter
from batterytrace.trace.production_rows import (
    KNOWN_COLUMNS,
    MAX_CODE_LENGTH,
    MAX_COMPONENTS,
    MAX_LINE_CHARS,
    MAX_REQUEST_ID_LENGTH,
    REQUIRED_COLUMNS,
    read_rows,
)

router = APIRouter(tags=["production"])

EXAMPLE_MODULE = "3CAMB120A1B2C3R7F0000001"


# ------------------------------------------------------------------------------- production
class ProductionRequest(ProductFacts):
    """One production: a pack, module or cell under a manufacturer code the caller owns."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": EXAMPLE_CODE,
                    "rated_capacity_ah": 150,
                    "nominal_voltage_v": 100,
                    "energy_kwh": 15,
                    "mass_kg": 110,
                    "level": "pack",
                    "chemistry": "LFP",
                    "production_date": "2024-07-15",
                    "components": [EXAMPLE_MODULE],
                    "occurred_at": "2024-07-15T08:30:00+08:00",
                    "request_id": "prod-3CAPB120A1B2C3R7F0000123",
                }
            ]
        },
    )

    code: str = Field(
        min_length=1,
        max_length=MAX_CODE_LENGTH,
        description="GB/T 34014 code, 24 characters.",
        examples=[EXAMPLE_CODE],
    )
    components: list[str] = Field(
        default_factory=list,
        max_length=MAX_COMPONENTS,
        description="Codes of the modules or cells built in (already recorded).",
        examples=[[EXAMPLE_MODULE]],
    )


@router.post(
    "/batteries",
    status_code=201,
    response_model=BatteryWriteResponse,
    summary="Record the production of one battery",
    description="The caller must own the code's manufacturer code. Components are linked in the same "
    "transaction. The same production sent again is answered (200, `replayed`), not recorded twice; "
    "different data under an existing code is a conflict.",
    responses={
        200: {"model": BatteryWriteResponse, "description": "The same production was already recorded."},
        **problem_responses(401, 403, 404, 409, 413, 422),
    },
)
def produce(body: ProductionRequest, service: Service, caller: Caller, response: Response) -> dict[str, Any]:
    spec = body.spec(body.code, body.components)
    result = service.produce(actor_id=caller.id, spec=spec)
    answer = battery_write(service, result, body.code, caller)
    if result.replayed:
        response.status_code = 200
    else:
        response.headers["Location"] = f"/api/v1/batteries/{answer['battery']['code']}"
    return answer


# ------------------------------------------------------------------------------ bulk import
BULK_FORMATS = {
    "application/x-ndjson": "jsonl",
    "application/ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "text/csv": "csv",
}
_CSV_EXAMPLE = (
    ",".join(REQUIRED_COLUMNS)
    + "\n"
    + f"{EXAMPLE_CODE},150,100,15,110\n"
    + "3CAPB120A1B2C3R7F0000124,150,100,15,110\n"
)
_JSONL_EXAMPLE = (
    f'{{"code": "{EXAMPLE_CODE}", "rated_capacity_ah": 150, "nominal_voltage_v": 100, '
    '"energy_kwh": 15, "mass_kg": 110}\n'
    '{"code": "3CAPB120A1B2C3R7F0000124", "rated_capacity_ah": 150, "nominal_voltage_v": 100, '
    '"energy_kwh": 15, "mass_kg": 110, "level": "pack"}\n'
)
_BULK_BODY = {
    "required": True,
    "description": "One production per line (JSON lines) or row (CSV with a header). Columns/fields: "
    f"{', '.join(KNOWN_COLUMNS)}; required: {', '.join(REQUIRED_COLUMNS)}. CSV components are "
    "separated by ';'. UTF-8 (a byte-order mark is fine).",
    "content": {
        **{
            kind: {"schema": {"type": "string"}, "examples": {"two packs": {"value": _JSONL_EXAMPLE}}}
            for kind, fmt in BULK_FORMATS.items()
            if fmt == "jsonl"
        },
        "text/csv": {"schema": {"type": "string"}, "examples": {"two packs": {"value": _CSV_EXAMPLE}}},
    },
}


class RefusedRow(BaseModel):
    line: int = Field(description="Line of the file (CSV: counting the header as line 1).", examples=[3])
    code: str | None = Field(examples=["3CAPB120A1B2C3R7F0000124"])
    reason: str = Field(examples=["rated_capacity_ah must be a number, got 'abc'"])


class BulkImportResponse(BaseModel):
    """Per-row results of an import."""

    rows: int = Field(description="Rows read (blank JSON lines are skipped).", examples=[2])
    stored: int = Field(description="New productions recorded.", examples=[1])
    already_present: int = Field(description="Rows identical to a production already recorded.", examples=[0])
    refused_count: int = Field(description="Rows refused, all counted.", examples=[1])
    refused: list[RefusedRow] = Field(description="Refused rows by line (the first 10,000).")
    notification_id: int = Field(
        description="The store head after the import; pass it as `?after=` to read the imported batteries.",
        examples=[1042],
    )
    seconds: float = Field(description="Time the import took.", examples=[0.12])


@router.post(
    "/batteries/bulk",
    response_model=BulkImportResponse,
    summary="Record many productions from a JSON-lines or CSV body (streamed)",
    description="The body is streamed to a temporary file (never held in memory), then imported row by row "
    "with the same rules as a single production, in transactions of the configured batch size. Refused "
    "rows are reported by line with the reason; the other rows are stored. A repeated file stores nothing "
    "twice. A CSV header that lacks a required column refuses the whole body before anything is stored. "
    f"Each field has the single production's limits (request_id at most {MAX_REQUEST_ID_LENGTH} characters "
    f"…); a line over {MAX_LINE_CHARS:,} characters, deep nesting or a value of the wrong type refuses that "
    "row only. If the store fails part-way, the answer is a 503 (500 for anything else) problem that "
    "still carries this summary and `interrupted_at_line`; the same body sent again finishes the import. "
    "Content-Type: `application/x-ndjson` or `application/jsonl` (JSON lines) or `text/csv`.",
    openapi_extra={"requestBody": _BULK_BODY},
    responses=problem_responses(401, 403, 413, 415, 422, 503),
)
async def bulk_produce(request: Request, service: Service, caller: Caller) -> Any:
    kind, params = media_type(request)
    fmt = BULK_FORMATS.get(kind)
    charset = params.get("charset", "utf-8").lower().replace("_", "-")
    if fmt is None or charset not in ("utf-8", "utf8"):
        why = f"charset {charset}" if fmt else f"content type {kind or '(none)'!r}"
        return problem(
            415,
            f"a bulk production body cannot be {why}: send UTF-8 JSON lines (Content-Type: "
            "application/x-ndjson or application/jsonl) or CSV (Content-Type: text/csv)",
            kind="unsupported-media-type",
        )
    caller.require_role(Role.MANUFACTURER, Role.CASCADE_USER, to="record the production of batteries")
    limit = request.app.state.settings.max_body_bytes
    with tempfile.TemporaryFile() as spool:
        try:
            await _spool(request, limit, spool)
        except PayloadTooLarge as error:
            return too_large(error)
        spool.seek(0)
        report, store_head = await run_in_threadpool(_import_spooled, service, caller.id, spool, fmt)
    answer = BulkImportResponse(
        rows=report.rows,
        stored=report.stored,
        already_present=report.already_present,
        refused_count=report.refused_count,
        refused=[RefusedRow(line=r.line, code=r.code, reason=r.reason) for r in report.refused],
        notification_id=store_head or 0,
        seconds=round(report.seconds, 4),
    )
    if report.interrupted_at is not None:
        return _interrupted(report, answer)
    return answer


def _interrupted(report: ImportReport, answer: BulkImportResponse) -> Response:
    """The store failed part-way: earlier batches are committed, so the answer is a problem that
    still carries the whole summary (what was stored, what was refused, where it stopped), never a
    bare 500. 503 (retry later) when the store was unavailable, 500 for anything else."""
    store_failed = isinstance(report.error, StoreUnavailable | PersistenceError | DBAPIError)
    return problem(
        503 if store_failed else 500,
        report.interruption or "the import stopped",
        kind="bulk-import-interrupted",
        interrupted_at_line=report.interrupted_at,
        **answer.model_dump(),
    )


async def _spool(request: Request, limit: int, spool: IO[bytes]) -> None:
    """Write the body to ``spool`` while counting it and checking that it is UTF-8, so that a
    body that is too large or not text is refused before any row is stored."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        async for chunk in limited_chunks(request, limit):
            decoder.decode(chunk)
            spool.write(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"the body is not UTF-8 text (bad byte near offset {offset + error.start}); save the file "
            "as UTF-8 and send it again"
        ) from None


def _import_spooled(
    service: BatteryTrace, actor_id: str, spool: IO[bytes], fmt: str
) -> tuple[ImportReport, int | None]:
    """Import the spooled body (in a worker thread); the report and the store head after it (none
    when an interrupted import left the store unreachable)."""
    importer = ProductionImporter(service, actor_id)
    text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]
    try:
        report = importer.run(read_rows(text, fmt))
    finally:
        text.detach()
    try:
        return report, service.recorder.max_notification_id() or 0
    except Exception:
        if report.interrupted_at is None:
            raise
        return report, None
