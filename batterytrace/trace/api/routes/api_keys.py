"""Routes: API keys — issued, listed, revoked and rotated by a participant for itself or by a regulator.

A key issued by a request records the key the request was made with (``CallerKeyId``), so that
revoking that key revokes the keys it issued too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from batterytrace.events.api_key import ApiKey
from batterytrace.trace.api.deps import Caller, CallerKeyId, CreditCodePath, Service, self_or_regulator
from batterytrace.trace.api.models import (
    IssuedKey,
    WriteResponse,
    issued_key,
    problem_responses,
    write_fields,
)

router = APIRouter(tags=["participants"])

KeyIdPath = Annotated[str, Path(max_length=64, description="The key id (the part after bt_).")]


# --------------------------------------------------------------------------- bodies and answers
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


def _revoked(result: Any) -> list[str]:
    return [key.key_id for key in result.saved if isinstance(key, ApiKey)]


# ----------------------------------------------------------------------------------- API keys
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
    code = self_or_regulator(caller, credit_code, to="issue API keys")
    issued = service.issue_api_key(
        actor_id=caller.id, participant_id=code, label=body.label if body else "", via_key_id=via
    )
    return issued_key(issued)


@router.get(
    "/participants/{credit_code}/keys",
    summary="List a participant's API keys (regulator, or the participant itself)",
    response_model=KeyInventory,
    responses=problem_responses(401, 403, 404, 422),
)
def list_keys(credit_code: CreditCodePath, service: Service, caller: Caller) -> dict[str, Any]:
    """Every key, live or revoked, oldest first: who issued it and with which key, when it was
    rotated or revoked and why, and when it was last used (to within a minute)."""
    code = self_or_regulator(caller, credit_code, to="list the API keys")
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
    code = self_or_regulator(caller, credit_code, to="revoke the API keys")
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
    return issued_key(service.rotate_api_key(actor_id=caller.id, key_id=key_id))
