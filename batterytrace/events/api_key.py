"""API keys: how a participant proves who it is to the HTTP service.

A key is shown once, when it is issued, and never stored: the stream keeps only its SHA-256 digest
(keys are 256 random bits, so a fast hash is enough; a slow password hash would only slow every
request). Each key is its own small stream keyed by a public key id, so a request finds its key in
one primary-key read and a revocation is seen by the very next request.

Keys issued with a key form a chain: the new key records the key it was issued with
(``issued_via``) and that key records the new one (``issued``), both in the same transaction. A
revocation follows ``issued`` down the chain, so a key minted with a stolen key dies with it.
A participant's keys are listed in its ``KeyRing`` (one stream per participant), written in the
same transaction as each key, so that finding them never scans the store.

Token format: ``bt_<key id>_<secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from batterytrace.events.base import TraceAggregate
from batterytrace.events.errors import InvalidInput, NotAuthenticated, NotAuthorised
from batterytrace.events.participant import Participant, Role

TOKEN_PREFIX = "bt"
# The stream that says every key issued before key rings existed has been put in its ring.
KEY_RINGS_COMPLETE = "KEYRINGS-COMPLETE"


def key_stream_id(key_id: str) -> str:
    return f"KEY-{key_id}"


def key_ring_id(participant_id: str) -> str:
    return f"KEYS-{participant_id}"


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


def _token(key_id: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}_{key_id}_{secret}"


class ApiKey(TraceAggregate):
    """One issued key of one participant."""

    @staticmethod
    def create_id(key_id: str, **_: object) -> str:
        return key_stream_id(key_id)

    @classmethod
    def issue(
        cls,
        participant: Participant,
        *,
        by: Participant | None,
        via: ApiKey | None = None,
        label: str = "",
    ) -> tuple[ApiKey, IssuedKey]:
        """A regulator issues keys to anyone, a participant to itself; ``via`` is the key the
        request was made with, which records the new key so that revoking it revokes this one
        too. ``by=None`` is the operator's own CLI on the server (it has the database already),
        used by ``participants add`` and the demo: its keys start a chain."""
        if by is not None and not by.is_regulator and by.id != participant.id:
            raise NotAuthorised(
                f"{by.name} ({by.id}) cannot issue API keys for {participant.name}; a regulator can, "
                "or the participant for itself"
            )
        if via is not None:
            via.check_can_issue(by)
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        key = cls(
            key_id=key_id,
            participant_id=participant.id,
            secret_digest=digest(secret),
            label=label,
            issued_by=by.id if by else None,
            issued_via=via.key_id if via else None,
        )
        if via is not None:
            via._issued_another(key_id=key_id)
        return key, IssuedKey(key_id, participant.id, _token(key_id, secret))

    @event("Issued")
    def __init__(
        self,
        *,
        key_id: str,
        participant_id: str,
        secret_digest: str,
        label: str,
        issued_by: str | None,
        issued_via: str | None = None,
    ) -> None:
        self.key_id = key_id
        self.participant_id = participant_id
        self.secret_digest = secret_digest
        self.label = label
        self.issued_by = issued_by
        self.issued_via = issued_via
        self.issued: list[str] = []
        self.revoked = False
        self.revoked_at: datetime | None = None
        self.revoked_by: str | None = None
        self.revoke_reason = ""
        self.revoked_through: str | None = None
        self.rotated_at: datetime | None = None

    @property
    def issued_at(self) -> datetime:
        """When the key was issued (its first event's recording time)."""
        return self.created_on

    def matches(self, secret: str) -> bool:
        """Constant-time comparison, so timing does not leak how much of a guess was right."""
        return not self.revoked and hmac.compare_digest(self.secret_digest, digest(secret))

    def check_can_issue(self, by: Participant | None) -> None:
        """Only a live key issues keys, and only for the participant it belongs to."""
        if by is None or by.id != self.participant_id:
            raise NotAuthorised(f"API key {self.key_id} does not belong to {by.id if by else 'the operator'}")
        if self.revoked:
            raise NotAuthenticated("invalid or revoked API key")

    @event("IssuedAnother")
    def _issued_another(self, key_id: str) -> None:
        self.issued.append(key_id)

    # ---------------------------------------------------------------------------- revoking
    def revoke(self, *, by: Participant | None, reason: str = "", through: str | None = None) -> bool:
        """Revoke the key; True if this changed it. ``through`` is the key whose revocation
        reaches this one down the chain: whoever may revoke that key may revoke the keys issued
        with it. ``by=None`` is the operator's CLI on the server."""
        if through is None:
            self._check_can_revoke(by)
        if self.revoked:
            return False
        self.trigger_event(self.Revoked, revoked_by=by.id if by else None, reason=reason, through=through)
        return True

    def _check_can_revoke(self, by: Participant | None) -> None:
        if by is None or by.has_role(Role.REGULATOR) or by.id == self.participant_id:
            return
        raise NotAuthorised(f"{by.name} ({by.id}) cannot revoke another participant's API key")

    class Revoked(TraceAggregate.Event):
        """The key stops working. Version 2 added ``through`` (revoked down the chain)."""

        class_version = 2

        revoked_by: str | None
        reason: str
        through: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["through"] = None

        def apply(self, aggregate: Any) -> None:
            aggregate.revoked = True
            aggregate.revoked_at = self.timestamp
            aggregate.revoked_by = self.revoked_by
            aggregate.revoke_reason = self.reason
            aggregate.revoked_through = self.through

    # --------------------------------------------------------------------------- rotating
    def rotate(self, *, by: Participant | None) -> IssuedKey:
        """A new secret for the same key: the old token stops working at once, while the key's
        place in the chain (what it was issued with, what was issued with it) stays."""
        if by is not None and not by.is_regulator and by.id != self.participant_id:
            raise NotAuthorised(f"{by.name} ({by.id}) cannot rotate another participant's API key")
        if self.revoked:
            raise InvalidInput(
                f"API key {self.key_id} is revoked; a revoked key stays revoked: issue a new one"
            )
        secret = secrets.token_urlsafe(32)
        self.trigger_event(self.Rotated, secret_digest=digest(secret), rotated_by=by.id if by else None)
        return IssuedKey(self.key_id, self.participant_id, _token(self.key_id, secret))

    class Rotated(TraceAggregate.Event):
        """The key's secret was replaced."""

        secret_digest: str
        rotated_by: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.secret_digest = self.secret_digest
            aggregate.rotated_at = self.timestamp


class KeyRing(TraceAggregate):
    """The ids of one participant's keys, so that its keys are found in one read."""

    @staticmethod
    def create_id(participant_id: str, **_: object) -> str:
        return key_ring_id(participant_id)

    @event("Started")
    def __init__(self, *, participant_id: str) -> None:
        self.participant_id = participant_id
        self.key_ids: list[str] = []

    def add(self, key: ApiKey) -> None:
        if key.participant_id != self.participant_id:
            raise InvalidInput(
                f"API key {key.key_id} belongs to {key.participant_id}, not {self.participant_id}"
            )
        if key.key_id not in self.key_ids:
            self._added(key_id=key.key_id)

    @event("KeyAdded")
    def _added(self, key_id: str) -> None:
        self.key_ids.append(key_id)

    @event("AllRevoked")
    def all_revoked(
        self, revoked_by: str | None, reason: str, except_key_id: str | None, key_ids: list[str]
    ) -> None:
        """Recorded with a revocation of every key, so that a key issued meanwhile (which adds
        itself to the ring) makes one of the two writes fail and retry, rather than survive."""


class KeyRingsComplete(TraceAggregate):
    """Every key issued before key rings existed has been added to its participant's ring."""

    @staticmethod
    def create_id(**_: object) -> str:
        return KEY_RINGS_COMPLETE

    @event("Completed")
    def __init__(self, *, keys: int) -> None:
        self.keys = keys
