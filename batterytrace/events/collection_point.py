"""Collection points (recycling service outlets, 回收服务网点) where owners hand in batteries.

A collection point is operated by one enterprise; only that operator may record collections there.
Its kind and capacity come from the national outlet conditions (domain.md): a collection-type outlet
stores about 5 t at most, a central storage point 30 t or more.

Public pages send owners to collection points, so a point an operator registers for itself is
*pending review* until a regulator approves it; only approved points are shown to the public. A
point a regulator registers is approved at registration (recorded in its Registered event).
"""

from __future__ import annotations

import re
from enum import StrEnum

from eventsourcing.domain import event

from batterytrace.events.base import TraceAggregate, require_measurement
from batterytrace.events.errors import InvalidInput, NotAuthorised
from batterytrace.events.participant import OUTLET_ROLES, Participant, Role
from batterytrace.events.regions import check_division_code

COLLECTION_POINT_ID = re.compile(r"CP-[A-Z0-9][A-Z0-9-]{0,39}")


class CollectionPointKind(StrEnum):
    COLLECTION = "collection"
    CENTRAL_STORAGE = "central_storage"


class Review(StrEnum):
    """Whether a regulator has checked the point: only approved points are shown to the public."""

    PENDING = "pending"
    APPROVED = "approved"


def review_at_registration(approved: bool | None, *, registered_by: str, operator_id: str) -> Review:
    """The review state a Registered event leaves. Events recorded before review existed carry no
    ``approved``: then only the operator or a regulator could register a point, so one registered
    by someone other than its operator was registered by a regulator, hence approved."""
    if approved is None:
        approved = registered_by != operator_id
    return Review.APPROVED if approved else Review.PENDING


def parse_collection_point_id(value: str) -> str:
    point_id = "".join(c.upper() if c.isascii() else c for c in value.strip())
    if not COLLECTION_POINT_ID.fullmatch(point_id):
        raise InvalidInput(
            f"collection point id {value!r} must start with 'CP-' followed by up to 40 capital "
            "letters, digits or dashes, e.g. CP-110105-0001"
        )
    return point_id


class CollectionPoint(TraceAggregate):
    """A registered outlet: who runs it, where it is, how much it may hold."""

    @staticmethod
    def create_id(point_id: str, **_: object) -> str:
        return point_id

    @event("Registered")
    def __init__(
        self,
        *,
        point_id: str,
        operator_id: str,
        name: str,
        kind: str,
        capacity_kg: float,
        address: str,
        division_code: str,
        latitude: float | None,
        longitude: float | None,
        registered_by: str,
        approved: bool | None = None,
    ) -> None:
        self.point_id = point_id
        self.operator_id = operator_id
        self.name = name
        self.kind = kind
        self.capacity_kg = capacity_kg
        self.address = address
        self.division_code = division_code
        self.latitude = latitude
        self.longitude = longitude
        self.registered_by = registered_by
        self.review = review_at_registration(approved, registered_by=registered_by, operator_id=operator_id)
        self.reviewed_by: str | None = registered_by if self.review == Review.APPROVED else None

    @classmethod
    def register(
        cls,
        *,
        point_id: str,
        operator: Participant,
        name: str,
        kind: str,
        capacity_kg: float,
        address: str,
        division_code: str,
        latitude: float | None = None,
        longitude: float | None = None,
        by: Participant,
    ) -> CollectionPoint:
        """Register an outlet; a regulator may register any (approved at once), an enterprise only
        its own (pending review until a regulator approves it)."""
        if not by.is_regulator and by.id != operator.id:
            raise NotAuthorised(
                f"{by.name} ({by.id}) cannot register a collection point operated by "
                f"{operator.name} ({operator.id}); only the operator itself or a regulator can"
            )
        operator.require_role(*sorted(OUTLET_ROLES), to="operate a collection point")
        try:
            kind_value = CollectionPointKind(kind.strip().lower().replace("-", "_"))
        except ValueError:
            raise InvalidInput(
                f"collection point kind {kind!r} is unknown; use collection or central_storage"
            ) from None
        try:
            division = check_division_code(division_code)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        if latitude is not None and not -90 <= latitude <= 90:
            raise InvalidInput(f"latitude {latitude} must be between -90 and 90")
        if longitude is not None and not -180 <= longitude <= 180:
            raise InvalidInput(f"longitude {longitude} must be between -180 and 180")
        if not name.strip():
            raise InvalidInput("a collection point needs a name")
        return cls(
            point_id=parse_collection_point_id(point_id),
            operator_id=operator.id,
            name=name.strip(),
            kind=kind_value.value,
            capacity_kg=require_measurement("capacity_kg", capacity_kg),
            address=address.strip(),
            division_code=division,
            latitude=latitude,
            longitude=longitude,
            registered_by=by.id,
            approved=by.is_regulator,
        )

    # -- review -------------------------------------------------------------------------------
    @property
    def is_approved(self) -> bool:
        return self.review == Review.APPROVED

    def approve(self, *, by: Participant, note: str = "") -> None:
        """A regulator has checked the point: from now on public pages may send owners to it.
        Approving an approved point changes nothing."""
        by.require_role(Role.REGULATOR, to=f"approve collection point {self.id}")
        if self.is_approved:
            return
        self._approved(approved_by=by.id, note=note.strip())

    @event("Approved")
    def _approved(self, approved_by: str, note: str) -> None:
        self.review = Review.APPROVED
        self.reviewed_by = approved_by

    def require_operator(self, actor: Participant) -> None:
        """Only the operating enterprise records what happens at its outlet."""
        if actor.id != self.operator_id:
            raise NotAuthorised(
                f"{actor.name} ({actor.id}) does not operate collection point {self.id}; only its "
                "operator records what happens there",
                detail=f"operated by {self.operator_id}",
            )


__all__ = [
    "CollectionPoint",
    "CollectionPointKind",
    "Review",
    "Role",
    "parse_collection_point_id",
    "review_at_registration",
]
