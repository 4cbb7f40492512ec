"""Routes: GS1 EPCIS 2.0 out (one battery's document, the event query) and in (capture), and the
resolver pages of the places and parties EPCIS documents name (``/loc/…``, ``/party/…``).

Documents are JSON-LD (``application/ld+json``), streamed. Each caller reads what it reads of a
battery elsewhere (``trace/epcis/source.py``): a regulator everything, a participant a battery's
events from its involvement on, the public no events (an EPCIS event carries exact times and
parties, which the public page does not show).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from batterytrace.events.battery_code import EXAMPLE_CODE, parse_battery_code
from batterytrace.events.collection_point import parse_collection_point_id
from batterytrace.events.errors import InvalidInput, NotFound
from batterytrace.projections.event_data import plain
from batterytrace.trace.api.deps import Caller, OptionalCaller, Service
from batterytrace.trace.api.models import WriteResponse, problem_responses, write_fields
from batterytrace.trace.epcis.capture import capture
from batterytrace.trace.epcis.document import MEDIA_TYPE, context, document_chunks, store_master_data
from batterytrace.trace.epcis.identifiers import Identifiers
from batterytrace.trace.epcis.query import EventQuery, run_query
from batterytrace.trace.epcis.source import battery_events

router = APIRouter(tags=["epcis"])
resolver_router = APIRouter(tags=["resolver"])

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
CodePath = Annotated[
    str, Path(description="GB/T 34014 battery code (24 characters).", examples=[EXAMPLE_CODE])
]
EPCIS_RESPONSE = {200: {"content": {MEDIA_TYPE: {}}, "description": "An EPCIS 2.0 JSON-LD document."}}


@router.get(
    "/batteries/{code}/epcis",
    summary="One battery's life as an EPCIS 2.0 document",
    response_class=StreamingResponse,
    responses={**EPCIS_RESPONSE, **problem_responses(404, 422)},
)
def battery_document(code: CodePath, service: Service, caller: OptionalCaller) -> StreamingResponse:
    """From the event store: `eventTime` when it happened, `recordTime` when it was reported. A
    regulator reads every event, a participant involved with the battery its events from its
    involvement on (the VIN only if it had the vehicle), anyone else none."""
    parsed = parse_battery_code(code, today=service.today())
    seen = battery_events(service, parsed.code, caller) if caller is not None else []
    if caller is None:
        service.battery(parsed.code)  # 404 for a battery never recorded
    ids = Identifiers(service.settings.public_url)
    chunks = document_chunks(ids, seen, master_data=store_master_data(service, ids), created=service.clock())
    return StreamingResponse(chunks, media_type=MEDIA_TYPE)


def _times(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(f"{name} needs its offset, e.g. 2026-05-01T00:00:00+08:00")
    return value


def _listed(values: list[str] | None) -> tuple[str, ...]:
    return tuple(item.strip() for value in values or () for item in value.split(",") if item.strip())


@router.get(
    "/epcis/events",
    summary="EPCIS 2.0 events query (REST binding subset)",
    responses={**EPCIS_RESPONSE, **problem_responses(401, 422)},
)
def events(
    request: Request,
    service: Service,
    caller: Caller,
    match_epc: Annotated[
        list[str] | None, Query(alias="MATCH_epc", description="Battery URIs ({public}/b/{code}) or codes.")
    ] = None,
    eq_biz_step: Annotated[list[str] | None, Query(alias="EQ_bizStep", examples=["collecting"])] = None,
    ge_event_time: Annotated[datetime | None, Query(alias="GE_eventTime")] = None,
    lt_event_time: Annotated[datetime | None, Query(alias="LT_eventTime")] = None,
    ge_record_time: Annotated[datetime | None, Query(alias="GE_recordTime")] = None,
    per_page: Annotated[int, Query(alias="perPage", ge=1, le=MAX_PER_PAGE)] = DEFAULT_PER_PAGE,
    next_page_token: Annotated[str | None, Query(alias="nextPageToken")] = None,
) -> JSONResponse:
    """The events you may read that match every filter given, in the order they were recorded.
    Own business steps are given as their URIs ({public}/voc/bizStep/retiring). A `Link` header
    with `rel="next"` (and `nextPageToken` in it) leads to the next page while there is one."""
    ids = Identifiers(service.settings.public_url)
    query = EventQuery(
        epcs=tuple(epc if "/" in epc else ids.battery(epc.upper()) for epc in _listed(match_epc)),
        biz_steps=_listed(eq_biz_step),
        ge_event_time=_times("GE_eventTime", ge_event_time),
        lt_event_time=_times("LT_eventTime", lt_event_time),
        ge_record_time=_times("GE_recordTime", ge_record_time),
    )
    page = run_query(service, caller, query, token=next_page_token, per_page=per_page)
    body = {
        "@context": context(ids),
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": plain(service.clock()),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {
                    "eventList": page.events,
                    "vocabularyList": store_master_data(service, ids)(page.references),
                },
            }
        },
    }
    headers = {}
    if page.next_token is not None:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "nextPageToken"]
        params.append(("nextPageToken", page.next_token))
        headers["Link"] = f'<{request.url.path}?{urlencode(params)}>; rel="next"'
    return JSONResponse(body, media_type=MEDIA_TYPE, headers=headers)


@router.post(
    "/epcis/capture",
    status_code=201,
    response_model=WriteResponse,
    summary="Capture an EPCIS 2.0 document: record the events that map back",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def capture_document(
    service: Service,
    caller: Caller,
    response: Response,
    document: Annotated[dict[str, Any], Body(description="An EPCISDocument (JSON or JSON-LD).")],
) -> dict[str, Any]:
    """Commissioning (production), installing, removing, retiring, collecting, shipping (delivery
    or hand-over) and destroying (recycling), each recorded as the same request would be by you:
    all of the document's events or none. A refusal names the event's index (from 0) and why. The
    eventIDs are request ids: the same document sent again records nothing (200, `replayed`)."""
    result = capture(service, document, caller=caller)
    if result.replayed:
        response.status_code = 200
    return write_fields(service, result)


# ------------------------------------------------------------------ places and parties (resolver)
@resolver_router.get("/loc/{point_id}", summary="A collection point an EPCIS document names")
def location(point_id: str, service: Service) -> dict[str, Any]:
    """An approved collection point's public facts (JSON)."""
    point = service.collection_point(parse_collection_point_id(point_id))
    if not point.is_approved:
        raise NotFound(
            f"collection point {point.id} is not public",
            key="not_found.collection_point",
            params={"id": point.id},
        )
    return {
        "id": point.id,
        "name": point.name,
        "name_en": getattr(point, "name_en", None),
        "operator_id": point.operator_id,
        "division_code": point.division_code,
        "address": point.address,
        "latitude": point.latitude,
        "longitude": point.longitude,
    }


@resolver_router.get("/loc/{operator_id}/{station}", summary="A swap station an EPCIS document names")
def station(operator_id: str, station: str, service: Service) -> dict[str, Any]:
    """A swap operator's station, by the label the operator gives it."""
    operator = service.participant(operator_id)
    return {"operator_id": operator.id, "operator_name": operator.name, "station": station}


@resolver_router.get("/party/{credit_code}", summary="A participant an EPCIS document names")
def party(credit_code: str, service: Service) -> dict[str, Any]:
    """A registered enterprise's name and roles (the register is public)."""
    participant = service.participant(credit_code)
    return {
        "credit_code": participant.id,
        "name": participant.name,
        "name_en": getattr(participant, "name_en", None),
        "roles": sorted(str(role) for role in participant.roles),
    }
