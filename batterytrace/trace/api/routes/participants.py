"""Routes: participants, their whitelist status and API keys, and collection points.

Regulators register enterprises and collection points, grant and revoke whitelist status and
issue and revoke keys. A participant may read its own record, issue and revoke its own keys and
register the collection points it operates; such a point is pending review until a regulator
approves it. The list of approved collection points is public: it is where owners hand batteries in.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ConfigDict, Field

from batterytrace.events.api_key import ApiKey, parse_token
from batterytrace.events.collection_point import Review
from batterytrace.events.credit_code import EXAMPLE_CREDIT_CODE, parse_credit_code
from batterytrace.events.errors import NotAuthorised
from batterytrace.events.participant import Participant, Role
from batterytrace.projections import queries
from batterytrace.trace.api.deps import Caller, Regulator, Service, Views
from batterytrace.trace.api.models import WriteResponse, problem_responses, write_fields
from batterytrace.trace.api.paging import Paged, RegionFilter, ReportPage, list_answer
from batterytrace.trace.presenters import collection_point_record, participant_record

router = APIRouter(tags=["participants"])

EXAMPLE_RECYCLER = "91360700MA35000080"
EXAMPLE_POINT = "CP-110105-0001"
ROLES = ", ".join(r.value for r in Role)

CreditCodePath = Annotated[
    str, Path(description="Unified Social Credit Code (18 characters).", examples=[EXAMPLE_CREDIT_CODE])
]
PointIdPath = Annotated[
    str, Path(max_length=60, description="The collection point's id.", examples=[EXAMPLE_POINT])
]


# ------------------------------------------------------------------------------------- bodies
class ParticipantRegistration(BaseModel):
    """An enterprise or authority to register (as `batterytrace participants add`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "credit_code": EXAMPLE_RECYCLER,
                    "name": "Ganzhou Recycling Co.",
                    "roles": ["recycler", "outlet_operator"],
                    "division_code": "360700",
                },
                {
                    "credit_code": "91350900MA2YE00090",
                    "name": "Ningde Cells Co.",
                    "roles": ["manufacturer"],
                    "manufacturer_codes": ["3CA", "3CB"],
                    "issue_key": True,
                    "key_label": "MES integration",
                },
            ]
        },
    )

    credit_code: str = Field(max_length=40, description="Unified Social Credit Code (GB 32100).")
    name: str = Field(min_length=1, max_length=200, description="Registered name.")
    name_en: str | None = Field(
        None, max_length=200, description="The name in English, shown on English pages (optional)."
    )
    roles: list[str] = Field(min_length=1, max_length=7, description=f"One or more of: {ROLES}.")
    manufacturer_codes: list[str] = Field(
        default_factory=list, max_length=50, description="3-character GB/T 34014 codes the enterprise owns."
    )
    division_code: str | None = Field(None, max_length=6, description="The seat's 6-digit division code.")
    override_check: bool = Field(
        False, description="Accept a known early credit code that fails its check character."
    )
    issue_key: bool = Field(True, description="Issue an API key now; the token is shown once.")
    key_label: str = Field("", max_length=200, description="What the key is for.")


class WhitelistGrant(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"activity": "recycling", "effective_on": "2026-01-01"}]},
    )

    activity: str = Field(description="recycling or cascade_use.")
    effective_on: date | None = Field(None, description="The day it takes effect (default today).")


class WhitelistRevocation(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"activity": "recycling", "reason": "failed the 2026 inspection"}]},
    )

    activity: str = Field(description="recycling or cascade_use.")
    reason: str = Field(min_length=1, max_length=500, description="Why it is revoked.")
    effective_on: date | None = Field(None, description="The first day it no longer holds (default today).")


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"label": "ERP upload"}]})

    label: str = Field("", max_length=200, description="What the key is for.")


class RevokeAllKeys(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "a key leaked", "except_key_id": "3f9c2a71d0b84e15"}]},
    )

    reason: str = Field(min_length=1, max_length=500, description="Why they are revoked.")
    except_key_id: str | None = Field(
        None, max_length=64, description="A live key of the participant to keep, e.g. the one in use."
    )


class CollectionPointRegistration(BaseModel):
    """A recycling service outlet (as `batterytrace collection-points add`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "point_id": EXAMPLE_POINT,
                    "operator_id": EXAMPLE_RECYCLER,
                    "name": "朝阳回收服务网点",
                    "name_en": "Chaoyang collection outlet",
                    "division_code": "110105",
                    "address": "1 Battery Road, Chaoyang, Beijing",
                    "kind": "collection",
                    "capacity_kg": 5000,
                    "latitude": 39.92,
                    "longitude": 116.44,
                }
            ]
        },
    )

    point_id: str = Field(max_length=60, description="CP- followed by capital letters, digits, dashes.")
    operator_id: str = Field(max_length=40, description="The operating enterprise's credit code.")
    name: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(
        None, max_length=200, description="The name in English, shown on English pages (optional)."
    )
    division_code: str = Field(max_length=6, description="6-digit GB/T 2260 division code.")
    address: str = Field("", max_length=300)
    kind: str = Field("collection", description="collection (≤ about 5 t) or central_storage (≥ 30 t).")
    capacity_kg: float = Field(5000.0, gt=0, description="What it may hold, kg.")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class CollectionPointApproval(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "site visited on 2026-03-02"}]}
    )

    note: str = Field("", max_length=500, description="What was checked (optional).")


# ------------------------------------------------------------------------------------ answers
class WhitelistPeriod(BaseModel):
    activity: str
    granted_on: date
    revoked_on: date | None


class ParticipantRecord(BaseModel):
    credit_code: str
    name: str
    name_en: str | None = Field(None, description="The name in English, where it was registered.")
    roles: list[str]
    manufacturer_codes: list[str]
    division_code: str | None
    whitelist: list[WhitelistPeriod]
    check_override: bool = Field(description="Registered although its check character fails.")


class IssuedKey(BaseModel):
    key_id: str
    participant_id: str
    token: str = Field(description="The bearer token, shown this once; only its hash is stored.")


class ParticipantRegistered(WriteResponse):
    participant: ParticipantRecord
    api_key: IssuedKey | None = Field(description="Present unless `issue_key` was false.")


class ParticipantWritten(WriteResponse):
    participant: ParticipantRecord


class KeyRevoked(WriteResponse):
    key_id: str
    revoked: list[str] = Field(
        description="Every key this revoked: the key, and the live keys issued through it (transitively)."
    )


class KeysRevoked(WriteResponse):
    revoked: list[str] = Field(
        description="Every key this revoked: the participant's keys and the keys issued through them."
    )


class KeyRecord(BaseModel):
    """One key as the inventory shows it: who issued it, how, and its use; never its secret or hash.
    Times are China Standard Time (UTC+8) with their offset."""

    key_id: str
    participant_id: str
    label: str
    issued_at: str
    issued_by: str | None = Field(description="Who issued it; null: the operator's CLI on the server.")
    issued_via: str | None = Field(
        description="The key the issuing request was made with: revoking that key revokes this one."
    )
    rotated_at: str | None = Field(description="When its secret was last replaced.")
    revoked: bool
    revoked_at: str | None
    revoked_by: str | None = Field(description="Who revoked it (null while live, or the operator's CLI).")
    revoke_reason: str | None
    revoked_through: str | None = Field(description="The key whose revocation reached this one.")
    last_used_at: str | None = Field(
        description="The last request made with it, to within a minute; null if never used."
    )


class KeyInventory(BaseModel):
    participant_id: str
    items: list[KeyRecord]
    count: int


class CollectionPointRecord(BaseModel):
    id: str
    name: str
    name_en: str | None = Field(None, description="The name in English, where it was registered.")
    operator_id: str
    kind: str
    capacity_kg: float
    address: str
    division_code: str
    latitude: float | None
    longitude: float | None
    review: Review = Field(
        description="approved (shown on public pages) or pending (registered by its operator, "
        "waiting for a regulator's approval)."
    )


class CollectionPointRegistered(WriteResponse):
    collection_point: CollectionPointRecord
    warning: str | None = Field(
        None,
        description="What is unusual about the point's capacity for its kind (a collection-type "
        "outlet above about 5 t: check the unit, or register central storage); the point is "
        "recorded as given. Null when nothing is.",
        examples=[None],
    )


class PublicCollectionPoint(BaseModel):
    id: str
    name: str
    name_en: str | None = Field(None, description="The name in English, where it was registered.")
    kind: str
    capacity_kg: float
    address: str
    division_code: str
    latitude: float | None
    longitude: float | None


# ------------------------------------------------------------------------------------ helpers
def _record(participant: Participant) -> dict[str, Any]:
    return {**participant_record(participant), "division_code": participant.division_code}


def _caller_key_id(request: Request, _caller: Caller) -> str:
    """The id of the key this (authenticated) request was made with: a key issued by the request
    records it, so that revoking that key revokes the new one too."""
    _scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    return parse_token(token)[0]


CallerKeyId = Annotated[str, Depends(_caller_key_id)]
KeyIdPath = Annotated[str, Path(max_length=64, description="The key id (the part after bt_).")]


def _revoked(result: Any) -> list[str]:
    return [key.key_id for key in result.saved if isinstance(key, ApiKey)]


def _self_or_regulator(caller: Participant, credit_code: str, *, to: str) -> str:
    """The normalised code, once the caller is a regulator or that participant itself."""
    code = parse_credit_code(credit_code, allow_bad_check=True)
    if not caller.is_regulator and caller.id != code:
        raise NotAuthorised(
            f"{caller.name} ({caller.id}) cannot {to} of {code}; a regulator can, or {code} itself"
        )
    return code


# ----------------------------------------------------------------------------- participants
@router.post(
    "/participants",
    summary="Register an enterprise (regulator)",
    status_code=status.HTTP_201_CREATED,
    response_model=ParticipantRegistered,
    responses=problem_responses(401, 403, 409, 422),
)
def register_participant(
    body: ParticipantRegistration, service: Service, caller: Regulator, via: CallerKeyId
) -> dict[str, Any]:
    """Answers the participant and, unless `issue_key` is false, a new API key shown once."""
    result = service.register_participant(
        actor_id=caller.id,
        credit_code=body.credit_code,
        name=body.name,
        roles=body.roles,
        manufacturer_codes=body.manufacturer_codes,
        division_code=body.division_code,
        allow_bad_check=body.override_check,
        name_en=body.name_en,
    )
    participant = service.participant(body.credit_code)
    key = None
    if body.issue_key:
        issued = service.issue_api_key(
            actor_id=caller.id, participant_id=participant.id, label=body.key_label, via_key_id=via
        )
        key = {"key_id": issued.key_id, "participant_id": issued.participant_id, "token": issued.token}
    return {**write_fields(service, result), "participant": _record(participant), "api_key": key}


@router.get(
    "/participants",
    summary="List participants (regulator)",
    response_model=ReportPage[ParticipantRecord],
    responses=problem_responses(401, 403, 422),
)
def list_participants(
    request: Request,
    service: Service,
    _caller: Regulator,
    paging: Paged,
    role: Annotated[Role | None, Query(description="Only participants with this role.")] = None,
) -> Any:
    """Roles, manufacturer codes and whitelist history, in order of registration; `total` counts
    them all, `next` is the following page, `format=csv` gives every row as CSV."""
    records = [_record(p) for p in service.participants() if role is None or p.has_role(role)]
    end = None if paging.limit is None else paging.offset + paging.limit
    return list_answer(
        request, "participants", ParticipantRecord, paging, records[paging.offset : end], lambda: len(records)
    )


@router.get(
    "/me",
    summary="The participant behind the API key",
    response_model=ParticipantRecord,
    responses=problem_responses(401),
)
def who_am_i(caller: Caller) -> dict[str, Any]:
    """Roles, manufacturer codes and whitelist history of the caller: what a page shows after
    sign-in, and how a program checks its key."""
    return _record(caller)


@router.get(
    "/participants/{credit_code}",
    summary="One participant (regulator, or the participant itself)",
    response_model=ParticipantRecord,
    responses=problem_responses(401, 403, 404, 422),
)
def get_participant(credit_code: CreditCodePath, service: Service, caller: Caller) -> dict[str, Any]:
    code = _self_or_regulator(caller, credit_code, to="read the record")
    return _record(service.participant(code))


@router.post(
    "/participants/{credit_code}/whitelist",
    summary="Grant whitelist status (regulator)",
    response_model=ParticipantWritten,
    responses=problem_responses(401, 403, 404, 422),
)
def grant_whitelist(
    credit_code: CreditCodePath, body: WhitelistGrant, service: Service, caller: Regulator
) -> dict[str, Any]:
    """For recycling or cascade use, from `effective_on`; handovers to the enterprise for that
    activity on or after that day are compliant. Granting an open grant again changes nothing."""
    result = service.grant_whitelist(
        actor_id=caller.id, participant_id=credit_code, activity=body.activity, effective_on=body.effective_on
    )
    return {**write_fields(service, result), "participant": _record(service.participant(credit_code))}


@router.post(
    "/participants/{credit_code}/whitelist/revoke",
    summary="Revoke whitelist status (regulator)",
    response_model=ParticipantWritten,
    responses=problem_responses(401, 403, 404, 422),
)
def revoke_whitelist(
    credit_code: CreditCodePath, body: WhitelistRevocation, service: Service, caller: Regulator
) -> dict[str, Any]:
    """From `effective_on` on, handovers to the enterprise for that activity are non-compliant."""
    result = service.revoke_whitelist(
        actor_id=caller.id,
        participant_id=credit_code,
        activity=body.activity,
        reason=body.reason,
        effective_on=body.effective_on,
    )
    return {**write_fields(service, result), "participant": _record(service.participant(credit_code))}


# ----------------------------------------------------------------------------------- API keys
def _issued(issued: Any) -> dict[str, Any]:
    return {"key_id": issued.key_id, "participant_id": issued.participant_id, "token": issued.token}


@router.post(
    "/participants/{credit_code}/keys",
    summary="Issue an API key (regulator, or the participant for itself)",
    status_code=status.HTTP_201_CREATED,
    response_model=IssuedKey,
    responses=problem_responses(401, 403, 404, 422),
)
def issue_key(
    credit_code: CreditCodePath,
    service: Service,
    caller: Caller,
    via: CallerKeyId,
    body: KeyRequest | None = None,
) -> dict[str, Any]:
    """The token is in this answer only; only its hash is stored. The new key is issued through
    the key of this request: revoking that key revokes this one too (to replace a key's secret
    and keep its place, rotate it instead)."""
    code = _self_or_regulator(caller, credit_code, to="issue API keys")
    issued = service.issue_api_key(
        actor_id=caller.id, participant_id=code, label=body.label if body else "", via_key_id=via
    )
    return _issued(issued)


@router.get(
    "/participants/{credit_code}/keys",
    summary="List a participant's API keys (regulator, or the participant itself)",
    response_model=KeyInventory,
    responses=problem_responses(401, 403, 404, 422),
)
def list_keys(credit_code: CreditCodePath, service: Service, caller: Caller) -> dict[str, Any]:
    """Every key, live or revoked, oldest first: who issued it and with which key, when it was
    rotated or revoked and why, and when it was last used (to within a minute)."""
    code = _self_or_regulator(caller, credit_code, to="list the API keys")
    items = service.api_keys(code)
    return {"participant_id": code, "items": items, "count": len(items)}


@router.post(
    "/participants/{credit_code}/keys/revoke-all",
    summary="Revoke every API key of a participant (regulator, or the participant itself)",
    response_model=KeysRevoked,
    responses=problem_responses(401, 403, 404, 422),
)
def revoke_all_keys(
    credit_code: CreditCodePath, body: RevokeAllKeys, service: Service, caller: Caller
) -> dict[str, Any]:
    """Every key of the participant but `except_key_id`, and every key issued through them, is
    refused from the next request on. Pass the key you are using as `except_key_id` to keep it."""
    code = _self_or_regulator(caller, credit_code, to="revoke the API keys")
    result = service.revoke_api_keys(
        actor_id=caller.id, participant_id=code, reason=body.reason, except_key_id=body.except_key_id
    )
    return {**write_fields(service, result), "revoked": _revoked(result)}


@router.delete(
    "/keys/{key_id}",
    summary="Revoke an API key (regulator, or the key's owner)",
    response_model=KeyRevoked,
    responses=problem_responses(401, 403, 404),
)
def revoke_key(
    key_id: KeyIdPath,
    service: Service,
    caller: Caller,
    reason: Annotated[str, Query(max_length=500, description="Why it is revoked.")] = "",
) -> dict[str, Any]:
    """The next request with the key, or with any key issued through it, is refused (401).
    Revoking a revoked key revokes only what was issued through it and is still live."""
    result = service.revoke_api_key(actor_id=caller.id, key_id=key_id, reason=reason)
    return {**write_fields(service, result), "key_id": key_id, "revoked": _revoked(result)}


@router.post(
    "/keys/{key_id}/rotate",
    summary="Rotate an API key: a new secret for the same key (regulator, or the key's owner)",
    response_model=IssuedKey,
    responses=problem_responses(401, 403, 404, 422),
)
def rotate_key(key_id: KeyIdPath, service: Service, caller: Caller) -> dict[str, Any]:
    """The new token is in this answer only; the old one is refused from the next request on.
    The key keeps its id and its place: keys issued through it stay live, and it still dies with
    the key it was issued through."""
    return _issued(service.rotate_api_key(actor_id=caller.id, key_id=key_id))


# -------------------------------------------------------------------------- collection points
@router.post(
    "/collection-points",
    summary="Register a collection point (regulator, or the operator for itself)",
    status_code=status.HTTP_201_CREATED,
    response_model=CollectionPointRegistered,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def register_collection_point(
    body: CollectionPointRegistration, service: Service, caller: Caller
) -> dict[str, Any]:
    """A point a regulator registers is approved at once; one its operator registers is pending
    review, and public pages leave it out until a regulator approves it."""
    result = service.register_collection_point(
        actor_id=caller.id,
        point_id=body.point_id,
        operator_id=body.operator_id,
        name=body.name,
        kind=body.kind,
        capacity_kg=body.capacity_kg,
        address=body.address,
        division_code=body.division_code,
        latitude=body.latitude,
        longitude=body.longitude,
        name_en=body.name_en,
    )
    point = service.collection_point(body.point_id)
    return {
        **write_fields(service, result),
        "collection_point": collection_point_record(point),
        "warning": point.capacity_warning,
    }


@router.post(
    "/collection-points/{point_id}/approve",
    summary="Approve a collection point for public pages (regulator)",
    response_model=CollectionPointRegistered,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def approve_collection_point(
    point_id: PointIdPath,
    service: Service,
    caller: Regulator,
    body: CollectionPointApproval | None = None,
) -> dict[str, Any]:
    """A point its operator registered is pending review; once approved, public pages list it.
    Approving an approved point changes nothing (`replayed`)."""
    result = service.approve_collection_point(
        actor_id=caller.id, point_id=point_id, note=body.note if body else ""
    )
    point = service.collection_point(point_id)
    return {
        **write_fields(service, result),
        "collection_point": collection_point_record(point),
        "warning": point.capacity_warning,
    }


@router.get(
    "/collection-points",
    summary="Where batteries can be handed in (public)",
    response_model=ReportPage[PublicCollectionPoint],
    responses=problem_responses(422),
)
def list_collection_points(request: Request, views: Views, paging: Paged, region: RegionFilter) -> Any:
    """Every approved collection point, by id (a point pending review is not listed); `region`
    narrows to a province (2 digits), prefecture (4) or county (6). `total` counts them all,
    `next` is the following page, `format=csv` gives every row. Pass `?after=ID` to include one
    just registered or approved."""
    filters = paging.filters(region=region)
    return list_answer(
        request,
        "collection-points",
        PublicCollectionPoint,
        paging,
        queries.collection_points_rows(views, filters),
        lambda: queries.collection_points_count(views, filters),
    )
