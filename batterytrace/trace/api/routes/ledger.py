"""Routes: the tamper-evidence ledger: its signed checkpoint, proofs, a battery's evidence file,
and the public key at a well-known path.

The checkpoint, the proofs and the public key are public (hashes and a signature: what a
transparency log publishes so that anyone can check it). A battery's evidence holds its records
whole (actors, details), so it is read like the battery's history: by regulators and by the
participants involved with it, from their first involvement on (``events/disclosure.py``), and
refused to a participant that may not know a VIN one of those records names (a record cannot be
cut without breaking its hash). Request ids are not in the records (``ledger_record.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from batterytrace.events.battery_code import EXAMPLE_CODE, parse_battery_code
from batterytrace.events.disclosure import VIN_FIELDS
from batterytrace.events.errors import NotAuthorised, NotFound
from batterytrace.projections.database import read_session
from batterytrace.projections.ledger_config import LedgerConfig
from batterytrace.trace.access import disclosure_of
from batterytrace.trace.api.deps import Caller, Service, Views
from batterytrace.trace.api.models import problem_responses
from batterytrace.trace.ledger.reading import consistency, evidence, inclusion, latest_checkpoint
from batterytrace.trace.presenters import event_record

router = APIRouter(tags=["ledger"])
well_known_router = APIRouter(tags=["ledger"])
PUBLIC_KEY_PATH = "/.well-known/batterytrace-ledger.pub"
MAX_INDEX = 2**62  # far beyond any tree; keeps the numbers within a database integer


class InclusionProof(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str = Field(description="Base64 SHA-256 leaf hash (RFC 9162: SHA-256(0x00 || record)).")
    root_hash: str = Field(description="Base64 root of the tree of `tree_size` leaves.")
    hashes: list[str] = Field(
        description="Base64 hashes of the audit path, leaf side first (RFC 9162 §2.1.3)."
    )


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root_hash: str
    second_root_hash: str
    hashes: list[str] = Field(description="Base64 hashes of the consistency proof (RFC 9162 §2.1.4).")


class EvidenceRecord(BaseModel):
    index: int = Field(description="The record's leaf index in the ledger's tree.")
    record: str = Field(description="The canonical record v1 (RFC 8785 JSON), exactly as hashed.")


class EvidenceProof(BaseModel):
    index: int
    tree_size: int
    hashes: list[str]


class Evidence(BaseModel):
    format: str = Field(examples=["batterytrace-evidence/1"])
    aggregate: str = Field(examples=[EXAMPLE_CODE])
    records: list[EvidenceRecord]
    proof: EvidenceProof
    checkpoint: str = Field(description="The signed checkpoint (C2SP signed note) the proof is for.")


@router.get(
    "/ledger/checkpoint",
    summary="The ledger's latest signed checkpoint (C2SP checkpoint, signed note)",
    response_class=PlainTextResponse,
    responses=problem_responses(404),
)
def get_checkpoint(views: Views) -> PlainTextResponse:
    """The origin line, the tree size and the base64 root, then a blank line and the Ed25519
    signature line. Keep copies: a later checkpoint must be consistent with yours
    (`/ledger/proofs/consistency`)."""
    with read_session(views) as connection:
        checkpoint = latest_checkpoint(connection)
    if checkpoint is None:
        raise NotFound("the ledger has signed no checkpoint yet")
    return PlainTextResponse(checkpoint.note, headers={"Cache-Control": "no-cache"})


@router.get(
    "/ledger/proofs/inclusion",
    summary="Inclusion proof of one leaf in the tree of `tree_size` leaves",
    response_model=InclusionProof,
    responses=problem_responses(422),
)
def get_inclusion(
    views: Views,
    index: Annotated[int, Query(ge=0, le=MAX_INDEX, description="Leaf index, from 0.")],
    tree_size: Annotated[int, Query(ge=1, le=MAX_INDEX, description="A checkpoint's tree size.")],
) -> dict[str, Any]:
    return inclusion(views, index, tree_size)


@router.get(
    "/ledger/proofs/consistency",
    summary="Consistency proof between the trees of `first` and `second` leaves",
    response_model=ConsistencyProof,
    responses=problem_responses(422),
)
def get_consistency(
    views: Views,
    first: Annotated[int, Query(ge=1, le=MAX_INDEX, description="The older checkpoint's tree size.")],
    second: Annotated[int, Query(ge=1, le=MAX_INDEX, description="The newer checkpoint's tree size.")],
) -> dict[str, Any]:
    return consistency(views, first, second)


@router.get(
    "/batteries/{code}/evidence",
    summary="A battery's records, their hash chain, an inclusion proof and the signed checkpoint",
    response_model=Evidence,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def get_evidence(code: str, service: Service, views: Views, caller: Caller) -> dict[str, Any]:
    """One file that `batterytrace verify-evidence FILE --key PUB` checks offline. For regulators
    and the participants involved with the battery (records from their first involvement on);
    records naming a vehicle's VIN only for those who may know it. The records name who acted and
    who was named (facts of the history) but no request ids: a client's retry keys are not facts,
    and not another participant's to read. 409 while the battery's last event is not yet covered
    by a signed checkpoint."""
    parsed = parse_battery_code(code, today=service.today())
    events = service.history(parsed.code)
    disclosure = disclosure_of(caller, [event_record(e) for e in events])
    if not disclosure.involved:
        raise NotAuthorised(
            f"{caller.name} ({caller.id}) has not been involved with battery {parsed.code}; its evidence is "
            "for regulators and for participants that made, handled or hold it"
        )
    first = disclosure.involved_from or 1
    if not disclosure.knows_vin and any(
        getattr(e, name, None) for e in events[first - 1 :] for name in VIN_FIELDS
    ):
        raise NotAuthorised(
            f"battery {parsed.code}'s records name a vehicle (VIN) you may not see, and a record cannot be "
            "cut without breaking its hash; ask a regulator for the evidence"
        )
    return evidence(views, parsed.code, events, from_version=first)


@well_known_router.get(
    PUBLIC_KEY_PATH,
    summary="The ledger's public key (signed-note verifier key)",
    response_class=PlainTextResponse,
    responses=problem_responses(404),
)
def get_public_key(service: Service) -> PlainTextResponse:
    """`<name>+<key id>+<base64 key>`: give it to `batterytrace verify-evidence --key`."""
    signer = LedgerConfig.from_environment(service.settings.database_url).signer()
    if signer is None:
        raise NotFound("the ledger has no signing key; run `batterytrace init`")
    return PlainTextResponse(signer.verifier().text() + "\n")
