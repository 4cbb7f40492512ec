"""Routes: participants and their whitelist status.

Regulators register enterprises (with a first API key, unless told not to) and grant and revoke
whitelist status; a participant reads its own record. API keys are in ``api_keys.py``, collection
points in ``collection_points.py``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from batterytrace.events.participant import Participant, Role
from batterytrace.trace.api.deps import (
    Caller,
    CallerKeyId,
    CreditCodePath,
    Regulator,
    Service,
    self_or_regulator,
)
from batterytrace.trace.api.models import (
    IssuedKey,
    WriteResponse,
    issued_key,
    problem_responses,
    write_fields,
)
from batterytrace.trace.api.paging import Paged, ReportPage, list_answer
from batterytrace.trace.presenters import participant_record

router = APIRouter(tags=["participants"])

EXAMPLE_RECYCLER = "91360700MA35000080"
ROLES = ", ".join(r.value for r in Role)


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
    roles: list[str] = Field(min_length=1, max_length=len(Role), description=f"One or more of: {ROLES}.")
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


class ParticipantRegistered(WriteResponse):
    participant: ParticipantRecord
    api_key: IssuedKey | None = Field(description="Present unless `issue_key` was false.")


class ParticipantWritten(WriteResponse):
    participant: ParticipantRecord


def _record(participant: Participant) -> dict[str, Any]:
    return {**participant_record(participant), "division_code": participant.division_code}


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
        key = issued_key(issued)
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
    code = self_or_regulator(caller, credit_code, to="read the record")
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
