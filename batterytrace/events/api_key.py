"""API keys: how a participant proves who it is to the HTTP service.

A key is shown once, when it is issued, and never stored: the stream keeps only its SHA-256 digest
(keys are 256 random bits, so a fast hash is enough; a slow password hash would only slow every
request). Each key is its own small stream keyed by a public key id, so a request finds its key in
one primary-key read and a revocation is seen by the very next request.

Token format: ``bt_<key id>_<secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from eventsourcing.domain import event

from batterytrace.events.base import TraceAggregate
from batterytrace.events.errors import InvalidInput, NotAuthorised
from batterytrace.events.participant import Participant, Role

TOKEN_PREFIX = "bt"


def key_stream_id(key_id: str) -> str:
    return f"KEY-{key_id}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    """What the caller sees once: the token to hand to the participant."""

    key_id: str
    participant_id: str
    token: str


def parse_token(token: str) -> tuple[str, str]:
    """(key id, secret) of a bearer token, or InvalidInput saying what a token looks like."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        raise InvalidInput("an API key looks like bt_<key id>_<secret>")
    return parts[1], parts[2]


class ApiKey(TraceAggregate):
    """One issued key of one participant."""

    @staticmethod
    def create_id(key_id: str, **_: object) -> str:
        return key_stream_id(key_id)

    @classmethod
    def issue(
        cls, participant: Participant, *, by: Participant | None, label: str = ""
    ) -> tuple[ApiKey, IssuedKey]:
        """A regulator issues keys to anyone; ``by=None`` is the operator's own CLI on the server
        (it has the database already), used by ``participants add`` and the demo."""
        if by is not None and not by.is_regulator and by.id != participant.id:
            raise NotAuthorised(
                f"{by.name} ({by.id}) cannot issue API keys for {participant.name}; a regulator can, "
                "or the participant for itself"
            )
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        key = cls(
            key_id=key_id,
            participant_id=participant.id,
            secret_digest=digest(secret),
            label=label,
            issued_by=by.id if by else None,
        )
        return key, IssuedKey(key_id, participant.id, f"{TOKEN_PREFIX}_{key_id}_{secret}")

    @event("Issued")
    def __init__(
        self, *, key_id: str, participant_id: str, secret_digest: str, label: str, issued_by: str | None
    ) -> None:
        self.key_id = key_id
        self.participant_id = participant_id
        self.secret_digest = secret_digest
        self.label = label
        self.issued_by = issued_by
        self.revoked = False

    def matches(self, secret: str) -> bool:
        """Constant-time comparison, so timing does not leak how much of a guess was right."""
        return not self.revoked and hmac.compare_digest(self.secret_digest, digest(secret))

    def revoke(self, *, by: Participant, reason: str = "") -> None:
        if not by.has_role(Role.REGULATOR) and by.id != self.participant_id:
            raise NotAuthorised(f"{by.name} ({by.id}) cannot revoke another participant's API key")
        if self.revoked:
            return
        self._revoked(revoked_by=by.id, reason=reason)

    @event("Revoked")
    def _revoked(self, revoked_by: str, reason: str) -> None:
        self.revoked = True
