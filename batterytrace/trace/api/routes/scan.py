"""Routes: the scan — a collection point's operator takes a battery in by scanning its label.

The scanner posts what it read (the QR text: the resolver URL ``…/b/{code}`` or the bare code) as
JSON, or a photo of the label as multipart/form-data, decoded here with zxing-cpp (QR code or Data
Matrix). The scan records ``Collected`` at that point through the same application service as every
other write; the scanner's own ``client_scan_id`` is the request id, so a scan retried after a lost
answer is answered again instead of being recorded twice.

A JSON scan (the busy path: an outlet's handhelds) is read whole first (a few hundred bytes, at
most ``MAX_JSON_SCAN_BYTES``), then queued with the other writes of the moment (``JsonScan``,
``api/written_together.py``): one thread reads the point, battery and maker of every queued scan
in one statement and saves their collections in one transaction; the refusals keep their order
(the point and its operator first, then the body, then the code), as a scan made alone
(``_json_scan``) gives them. A photo is checked against the point before its body (up to the
upload limit) is read, in worker-thread hops.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple

import orjson
from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import Battery
from batterytrace.events.battery_code import EXAMPLE_CODE
from batterytrace.events.collection_point import CollectionPoint, parse_collection_point_id
from batterytrace.events.commands import Collect, Reporting
from batterytrace.events.errors import InvalidInput
from batterytrace.events.participant import Participant
from batterytrace.trace.api.bodies import limited_chunks, media_type, too_large
from batterytrace.trace.api.deps import BEARER_SECURITY, caller_of
from batterytrace.trace.api.errors import PayloadTooLarge
from batterytrace.trace.api.models import BatterySummary, WriteResponse, problem_responses, write_fields
from batterytrace.trace.api.problems import problem
from batterytrace.trace.application import BatteryTrace, WriteResult
from batterytrace.trace.presenters import battery_summary
from batterytrace.trace.scanning import code_from_text, codes_from_image

router = APIRouter(tags=["scan"])

PointId = Annotated[
    str,
    Path(
        description="The collection point's id; the caller must be its operator.", examples=["CP-110105-0001"]
    ),
]
MAX_FORM_FIELDS = 20
MAX_JSON_SCAN_BYTES = 64 * 1024  # a scan as text is a few hundred bytes


class ScanFields(BaseModel):
    """What comes with a scan besides the label itself."""

    model_config = ConfigDict(extra="forbid")

    client_scan_id: str = Field(
        min_length=1,
        max_length=100,
        description="The scanner's own id for this scan (e.g. a UUID). A retry with the same id is "
        "answered again (200, `replayed: true`), not recorded twice.",
        examples=["6f1c2b9e-4d3a-4c55-9a7e-0b8f2d1e7c11"],
    )
    mass_kg: float | None = Field(
        None, gt=0, description="Weighed mass at intake, kg; default: the declared mass.", examples=[108.5]
    )
    condition: str = Field(
        "intact",
        min_length=1,
        max_length=200,
        description="State on arrival, e.g. intact, damaged, swollen, leaking.",
        examples=["intact"],
    )
    source_vin: str | None = Field(
        None,
        max_length=40,
        description="VIN of the vehicle it came from, as the outlet saw it (not filled in from the record: "
        "the vehicle's VIN is shown only to those who had the vehicle).",
        examples=["LSVAU2180N2183294"],
    )
    scanned_by: str | None = Field(
        None, max_length=100, description="Who or which device scanned.", examples=["handheld-07"]
    )
    occurred_at: datetime | None = Field(
        None,
        description="When it was scanned (ISO 8601; no zone = China Standard Time); default: now. "
        "Scanners that queue scans offline send the time of the scan.",
        examples=["2026-05-20T10:15:00+08:00"],
    )


class ScanRequest(ScanFields):
    """A scan as text: what the scanner decoded from the label."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": f"https://trace.example.cn/b/{EXAMPLE_CODE}",
                    "client_scan_id": "6f1c2b9e-4d3a-4c55-9a7e-0b8f2d1e7c11",
                    "mass_kg": 108.5,
                    "condition": "intact",
                    "scanned_by": "handheld-07",
                },
                {"text": EXAMPLE_CODE, "client_scan_id": "scan-0002"},
            ]
        },
    )

    text: str = Field(
        min_length=1,
        max_length=2048,
        description="The QR text: the resolver URL http(s)://…/b/{code}, or the bare 24-character code.",
        examples=[f"https://trace.example.cn/b/{EXAMPLE_CODE}"],
    )


class ScanForm(ScanFields):
    """The form fields of a photo scan (the photo itself is the file field ``photo``)."""

    text: str | None = Field(None, max_length=2048, description="Instead of a photo: the QR text.")


def _multipart_schema() -> dict[str, Any]:
    schema = ScanForm.model_json_schema()
    schema.pop("additionalProperties", None)
    schema["properties"]["photo"] = {
        "type": "string",
        "format": "binary",
        "contentMediaType": "image/png",
        "description": "A PNG or JPEG photo of the label (QR code or Data Matrix).",
    }
    schema["title"] = "ScanPhoto"
    schema["description"] = "A scan as a photo of the label, with the same fields as form fields."
    return schema


_SCAN_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": ScanRequest.model_json_schema()},
        "multipart/form-data": {
            "schema": _multipart_schema(),
            "encoding": {"photo": {"contentType": "image/png, image/jpeg"}},
            "examples": {
                "photo": {
                    "summary": "a photo of the label",
                    "value": {"photo": "(binary PNG or JPEG)", "client_scan_id": "scan-0003"},
                }
            },
        },
    },
}


class Maker(BaseModel):
    id: str = Field(description="Credit code of the maker.")
    name: str = Field(examples=["宁德纪元电芯有限公司"])
    name_en: str | None = Field(None, examples=["Ningde Era Cells Co."], description="Its English name.")
    manufacturer_code: str = Field(examples=["3CA"])


class PointRef(BaseModel):
    id: str = Field(examples=["CP-110105-0001"])
    name: str = Field(examples=["朝阳回收服务网点"])
    name_en: str | None = Field(
        None, examples=["Chaoyang collection outlet"], description="Its English name."
    )


class ScanResponse(WriteResponse):
    """The battery that was taken in, as the scanner's screen shows it."""

    code: str = Field(examples=[EXAMPLE_CODE])
    level: str = Field(examples=["pack"])
    chemistry: str = Field(examples=["lithium iron phosphate"])
    maker: Maker
    state: str = Field(examples=["collected"])
    collection_point: PointRef = Field(description="Where it was collected.")
    collected_at: str = Field(
        description="When the scan's collection happened (real world, China Standard Time).",
        examples=["2026-05-20T10:15:00+08:00"],
    )
    mass_kg: float = Field(description="Mass recorded at intake, kg.", examples=[108.5])
    condition: str = Field(examples=["intact"])
    read_from: Literal["text", "photo"] = Field(description="What the code was read from.")
    battery: BatterySummary


@router.post(
    "/collection-points/{point_id}/scans",
    status_code=201,
    response_model=ScanResponse,
    summary="Take a battery in at a collection point by scanning its label",
    description="Send the QR text as JSON, or a photo of the label (PNG/JPEG; QR code or Data Matrix) as "
    "multipart/form-data with the same fields as form fields. Records `Collected` at this point by its "
    "operator and answers with the battery. A retry with the same `client_scan_id` is answered again "
    "(200, `replayed: true`) and records nothing.",
    openapi_extra={"requestBody": _SCAN_BODY, "security": BEARER_SECURITY},
    responses={
        200: {"model": ScanResponse, "description": "The same scan was already recorded."},
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
)
async def scan(point_id: PointId, request: Request) -> Any:
    """The busiest route: it resolves the service and the caller itself (``deps.caller_of``)."""
    service: BatteryTrace = request.app.state.service
    caller = await caller_of(request)
    kind, _ = media_type(request)
    if kind not in ("application/json", "multipart/form-data"):
        return problem(
            415,
            f"a scan cannot be sent as {kind or '(no content type)'!r}: send JSON (application/json) "
            "with the QR text, or a photo as multipart/form-data",
            kind="unsupported-media-type",
        )
    limit = request.app.state.settings.max_body_bytes
    try:
        if kind == "application/json":
            raw = b"".join(
                [chunk async for chunk in limited_chunks(request, min(limit, MAX_JSON_SCAN_BYTES))]
            )
            answer = await request.app.state.writes.submit(JsonScan(caller, point_id, raw))
        else:
            point = await run_in_threadpool(_operated_point, service, caller, point_id)
            fields, photo = await _photo_scan(request, limit)
            answer = await run_in_threadpool(_record, service, caller, point, fields, photo)
    except PayloadTooLarge as error:
        return too_large(error)
    except MultiPartException as error:
        return problem(400, f"the multipart body cannot be read: {error.message}", kind="bad-multipart")
    return scan_answer(answer)


def scan_answer(answer: dict[str, Any]) -> Response:
    """The answer as JSON, written once by orjson: 201, or 200 for a replayed scan.

    Why not FastAPI's way (return the dict): it validates the dict again through ``ScanResponse``
    and dumps the model through ``json``, on the event loop, which profiles put at about a tenth
    of a scan's CPU. ``_record`` makes the dict in the model's shape and with JSON's types (texts,
    numbers, flags), and ``tests/e2e/test_api_scan.py`` holds every answer equal to its
    validation through the model, so the documented schema (``response_model``) stays true."""
    status = 200 if answer["replayed"] else 201
    return Response(orjson.dumps(answer), status_code=status, media_type="application/json")


def _json_scan(service: BatteryTrace, caller: Participant, point_id: str, raw: bytes) -> dict[str, Any]:
    """A JSON scan, in a worker thread: the point, the battery and (by a hint from earlier scans)
    its maker from one read, then the write. A bad body or code is told only after the point's
    check, as if the body were read after it."""
    refusal: Exception | None = None
    code: str | None = None
    try:
        fields = ScanRequest.model_validate_json(raw)
        code = code_from_text(fields.text, today=service.today())
    except ValidationError as error:
        refusal = _invalid(error)
    except InvalidInput as error:
        refusal = error
    if code is None:
        _operated_point(service, caller, point_id)
        assert refusal is not None
        raise refusal
    point_stream = parse_collection_point_id(point_id)
    found = service.load_together(*_streams_of(code, point_stream))
    point = found.get(point_stream)
    if not isinstance(point, CollectionPoint):
        point = service.collection_point(point_id)  # refused with the usual words
    point.require_operator(caller)
    battery = found.get(code)
    if not isinstance(battery, Battery):
        battery = None
        service.battery(code)  # refused with the usual words (or found: recorded meanwhile)
    maker = found.get(battery.manufacturer_id) if battery is not None else None
    return _record(service, caller, point, fields, None, code=code, battery=battery, maker=maker)


@dataclass
class JsonScan:
    """A JSON scan as the route read it, queued with other writes (``api/written_together.py``)
    and answered as ``_json_scan`` would answer it alone: its point, battery and (by a hint from
    earlier scans) maker are read with the other writes' streams, and its collection is saved in
    their transaction. A bad body or code, a point or battery not found, a caller who is not the
    point's operator or a refusal of the lifecycle make it alone, in its own words."""

    caller: Participant
    point_id: str
    raw: bytes
    fields: ScanRequest | None = None
    code: str = ""
    point_stream: str = ""
    point: CollectionPoint | None = None

    def streams(self, service: BatteryTrace) -> tuple[str, ...]:
        self.fields = ScanRequest.model_validate_json(self.raw)
        self.code = code_from_text(self.fields.text, today=service.today())
        self.point_stream = parse_collection_point_id(self.point_id)
        return _streams_of(self.code, self.point_stream)

    def decide(self, service: BatteryTrace, found: Mapping[str, Any]) -> Battery | None:
        point = found.get(self.point_stream)
        battery = found.get(self.code)
        if self.fields is None or not isinstance(point, CollectionPoint) or not isinstance(battery, Battery):
            return None
        point.require_operator(self.caller)
        self.point = point
        command = _collect(self.caller, point, self.fields, self.code)
        return service.decide(command, actor=self.caller, point=point, batteries=(battery,))[0]

    def answer(self, service: BatteryTrace, result: WriteResult, found: Mapping[str, Any]) -> dict[str, Any]:
        assert self.fields is not None and self.point is not None
        maker = found.get(result.battery(self.code).manufacturer_id)
        return _answer(
            service, self.caller, self.point, self.fields, None, code=self.code, result=result, maker=maker
        )

    def alone(self, service: BatteryTrace) -> dict[str, Any]:
        return _json_scan(service, self.caller, self.point_id, self.raw)


def _streams_of(code: str, point_stream: str) -> tuple[str, ...]:
    """What a JSON scan reads in one statement: its battery (first: a queued batch keys its
    writes by it), its point and, by the hint of earlier scans, the battery's maker."""
    hint = _MAKERS.get(code[:3])
    return (code, point_stream, *([hint] if hint else []))


async def _photo_scan(request: Request, limit: int) -> tuple[ScanForm, bytes | None]:
    parser = MultiPartParser(
        request.headers, limited_chunks(request, limit), max_files=1, max_fields=MAX_FORM_FIELDS
    )
    form = await parser.parse()
    fields: dict[str, str] = {}
    photo: bytes | None = None
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "photo":
                    raise _field_error(name, "only the photo may be a file")
                photo = await value.read()
            elif name == "photo":
                raise _field_error("photo", "send the photo as a file (PNG or JPEG), not as text")
            elif value != "" and name not in fields:  # an empty form input means "not given"
                fields[name] = value
    finally:
        await form.close()
    try:
        parsed = ScanForm.model_validate(fields)
    except ValidationError as error:
        raise _invalid(error) from None
    if photo is None and not parsed.text:
        raise _field_error("photo", "send a photo of the label (a file field named photo) or the QR text")
    if photo is not None and parsed.text:
        raise _field_error("text", "send either a photo or the QR text, not both")
    return parsed, photo


def _invalid(error: ValidationError) -> RequestValidationError:
    return RequestValidationError(
        [{**e, "loc": ("body", *e.get("loc", ()))} for e in error.errors(include_url=False)]
    )


def _field_error(name: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("body", name), "msg": message}])


def _operated_point(service: BatteryTrace, caller: Participant, point_id: str) -> Any:
    point = service.collection_point(point_id)
    point.require_operator(caller)
    return point


def _record(
    service: BatteryTrace,
    caller: Participant,
    point: Any,
    fields: ScanFields,
    photo: bytes | None,
    *,
    code: str | None = None,
    battery: Battery | None = None,
    maker: Participant | None = None,
) -> dict[str, Any]:
    """Record the scan's collection and answer with the battery; ``code``, ``battery`` and
    ``maker`` when the caller has read them already (a JSON scan)."""
    code = code or _code_of(service, fields, photo)
    command = _collect(caller, point, fields, code)
    result = service.execute(command, actor=caller, point=point, batteries=(battery,) if battery else ())
    return _answer(service, caller, point, fields, photo, code=code, result=result, maker=maker)


def _collect(caller: Participant, point: Any, fields: ScanFields, code: str) -> Collect:
    """The command a scan gives: its collection at ``point`` by ``caller``."""
    return Collect(
        actor_id=caller.id,
        code=code,
        collection_point_id=point.id,
        mass_kg=fields.mass_kg,
        condition=fields.condition,
        source_vin=fields.source_vin,
        scanned_by=fields.scanned_by,
        reporting=Reporting(occurred_at=fields.occurred_at, request_id=f"scan:{fields.client_scan_id}"),
    )


def _answer(
    service: BatteryTrace,
    caller: Participant,
    point: Any,
    fields: ScanFields,
    photo: bytes | None,
    *,
    code: str,
    result: WriteResult,
    maker: Participant | None,
) -> dict[str, Any]:
    """The scanner's answer from what the write saved (and the maker, when read already)."""
    battery = result.battery(code)
    collected = _intake(result, battery, fields, point.id)
    if not isinstance(maker, Participant) or maker.id != battery.manufacturer_id:
        maker = service.participant(battery.manufacturer_id)
    _remember_maker(battery.manufacturer_code, maker.id)
    where = point if collected.point_id == point.id else service.collection_point(collected.point_id)
    return {
        **write_fields(service, result),
        "code": battery.code,
        "level": battery.level,
        "chemistry": battery.chemistry,
        "maker": {
            "id": maker.id,
            "name": maker.name,
            "name_en": getattr(maker, "name_en", None),
            "manufacturer_code": battery.manufacturer_code,
        },
        "state": str(battery.state),
        "collection_point": {
            "id": collected.point_id,
            "name": where.name,
            "name_en": getattr(where, "name_en", None),
        },
        "collected_at": collected.occurred_at.astimezone(CHINA_STANDARD_TIME).isoformat(),
        "mass_kg": collected.mass_kg,
        "condition": collected.condition,
        "read_from": "photo" if photo is not None else "text",
        "battery": battery_summary(battery, show_vin=caller.id in battery.vin_known_to),
    }


MAX_MAKER_HINTS = 4096
_MAKERS: dict[str, str] = {}  # manufacturer code -> the maker's id, as the last scan found it


def _remember_maker(manufacturer_code: str, maker_id: str) -> None:
    """Note who made the last battery seen with this manufacturer code, so that the next scan of
    one reads the maker in the same statement as the point and the battery. Only a hint: the
    answer names ``battery.manufacturer_id``, read again when the hint was wrong."""
    if len(_MAKERS) < MAX_MAKER_HINTS or manufacturer_code in _MAKERS:
        _MAKERS[manufacturer_code] = maker_id


def _code_of(service: BatteryTrace, fields: ScanFields, photo: bytes | None) -> str:
    """The battery code a scan carries: decoded from the photo, or read from the QR text."""
    today = service.today()
    if photo is None:
        assert isinstance(fields, ScanRequest | ScanForm) and fields.text
        return code_from_text(fields.text, today=today)
    codes = codes_from_image(photo, today=today)
    if len(codes) > 1:
        raise InvalidInput(
            f"the photo shows {len(codes)} different battery codes ({', '.join(codes)}); "
            "photograph one label at a time"
        )
    return codes[0]


class Intake(NamedTuple):
    """Where, when, at what mass and in what condition a scanned battery was taken in."""

    point_id: str
    occurred_at: datetime
    mass_kg: float
    condition: str


def _intake(result: WriteResult, battery: Battery, fields: ScanFields, point_id: str) -> Intake:
    """The intake this scan recorded or, for a replayed scan (nothing new recorded), the battery's
    as it was saved; the battery keeps no condition, so a replay answers with the one it sends
    again (it is the same scan)."""
    for event in result.recorded:
        if isinstance(event, Battery.Collected):
            return Intake(event.collection_point_id, event.occurred_at, event.mass_kg, event.condition)
    return Intake(
        battery.collection_point_id or point_id,
        battery.last_occurred_at,
        battery.mass_kg if battery.weighed_kg is None else battery.weighed_kg,
        fields.condition,
    )
