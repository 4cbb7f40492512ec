"""The registry half of the application: enterprises, their whitelist status, collection points.

A mixin of ``BatteryTrace`` (``application.py``), apart so that each module stays readable: these
commands load and save participants and points through the application's own ``participant``,
``collection_point``, ``_commit`` and ``exists``, exactly as the battery commands do, and are
called on the application like every other command.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

from eventsourcing.utils import get_topic

from batterytrace.events.base import TraceAggregate
from batterytrace.events.collection_point import CollectionPoint
from batterytrace.events.errors import AlreadyExists, ConcurrentWrite, NotAuthorised
from batterytrace.events.participant import (
    BOOTSTRAP_ID,
    ManufacturerCodeClaim,
    Participant,
    PlatformBootstrap,
    Role,
)
from batterytrace.trace.battery_commands import parse_activity

if TYPE_CHECKING:
    from batterytrace.trace.application import WriteResult


class Registry:
    """Who takes part (registration, whitelist) and where batteries are collected."""

    # ---------------------------------------------------------------------- participants
    def register_participant(
        self,
        *,
        actor_id: str | None,
        credit_code: str,
        name: str,
        roles: list[str],
        manufacturer_codes: list[str] | None = None,
        division_code: str | None = None,
        allow_bad_check: bool = False,
        name_en: str | None = None,
    ) -> WriteResult:
        """Register an enterprise. A regulator registers everyone, except that the very first
        regulator registers itself (``actor_id=None``) when none exists yet (bootstrap).
        ``name_en`` is its name in English, shown on English pages."""
        if actor_id is None:
            if self.regulators():
                raise NotAuthorised(
                    "a regulator already exists; act as one (--as CREDIT_CODE) to register others"
                )
            if [r.strip().lower() for r in roles] != ["regulator"]:
                raise NotAuthorised(
                    "no participant is registered yet: register the first regulator first "
                    "(roles: regulator), then act as it to register enterprises"
                )
            actor = None
        else:
            actor = self.participant(actor_id)
            actor.require_role(Role.REGULATOR, to="register participants")
        participant = Participant.register(
            credit_code=credit_code,
            name=name,
            roles=roles,
            manufacturer_codes=manufacturer_codes,
            division_code=division_code,
            registered_by=actor,
            allow_bad_check=allow_bad_check,
            name_en=name_en,
        )
        claims: list[TraceAggregate] = [
            ManufacturerCodeClaim(manufacturer_code=code, owner_id=participant.id)
            for code in participant.manufacturer_codes
        ]
        if actor is None:
            claims.append(PlatformBootstrap(regulator_id=participant.id))
        try:
            return self._commit(participant, *claims)
        except ConcurrentWrite:
            if actor is None and self.exists(BOOTSTRAP_ID):
                raise NotAuthorised(
                    "a regulator already exists; act as one (--as CREDIT_CODE) to register others"
                ) from None
            raise AlreadyExists(self._why_registration_collides(participant)) from None

    def _why_registration_collides(self, participant: Participant) -> str:
        if self.exists(participant.id):
            return f"participant {participant.id} is already registered"
        taken = [c for c in participant.manufacturer_codes if self.code_owner(c)]
        owners = ", ".join(f"{c} (owned by {self.code_owner(c)})" for c in taken)
        return f"manufacturer code already assigned: {owners}"

    def grant_whitelist(
        self, *, actor_id: str, participant_id: str, activity: str, effective_on: date | None = None
    ) -> WriteResult:
        participant = self.participant(participant_id)
        participant.grant_whitelist(
            parse_activity(activity), effective_on or self.today(), by=self.participant(actor_id)
        )
        return self._commit(participant)

    def revoke_whitelist(
        self,
        *,
        actor_id: str,
        participant_id: str,
        activity: str,
        reason: str,
        effective_on: date | None = None,
    ) -> WriteResult:
        participant = self.participant(participant_id)
        participant.revoke_whitelist(
            parse_activity(activity),
            effective_on or self.today(),
            by=self.participant(actor_id),
            reason=reason,
        )
        return self._commit(participant)

    def regulators(self) -> list[Participant]:
        return [p for p in self.participants() if p.is_regulator]

    def participants(self) -> list[Participant]:
        ids = self._stream_ids_with_topic(get_topic(Participant.Registered))
        return [self.participant(pid) for pid in ids]

    def _stream_ids_with_topic(self, topic: str) -> Iterator[str]:
        start = 1
        while True:
            page = self.recorder.select_notifications(start=start, limit=1000, topics=[topic])
            if not page:
                return
            for notification in page:
                yield str(notification.originator_id)
            start = page[-1].id + 1

    # ------------------------------------------------------------------ collection points
    def register_collection_point(
        self,
        *,
        actor_id: str,
        point_id: str,
        operator_id: str,
        name: str,
        kind: str,
        capacity_kg: float,
        address: str,
        division_code: str,
        latitude: float | None = None,
        longitude: float | None = None,
        name_en: str | None = None,
    ) -> WriteResult:
        """Register an outlet (``CollectionPoint.register``); ``name_en`` is its name in English,
        shown on English pages."""
        point = CollectionPoint.register(
            point_id=point_id,
            operator=self.participant(operator_id),
            name=name,
            kind=kind,
            capacity_kg=capacity_kg,
            address=address,
            division_code=division_code,
            latitude=latitude,
            longitude=longitude,
            by=self.participant(actor_id),
            name_en=name_en,
        )
        try:
            return self._commit(point)
        except ConcurrentWrite:
            raise AlreadyExists(f"collection point {point.id} is already registered") from None

    def approve_collection_point(self, *, actor_id: str, point_id: str, note: str = "") -> WriteResult:
        """A regulator approves a point its operator registered: public pages then list it.
        Approving an approved point records nothing (``replayed``)."""
        point = self.collection_point(point_id)
        point.approve(by=self.participant(actor_id), note=note)
        return self._commit(point)

    def collection_points(self) -> list[CollectionPoint]:
        ids = self._stream_ids_with_topic(get_topic(CollectionPoint.Registered))
        return [self.collection_point(pid) for pid in ids]
