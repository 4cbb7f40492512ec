"""Collection points (recycling service outlets, 回收服务网点) where owners hand in batteries.

A collection point is operated by one enterprise; only that operator may record collections there.
Its kind and capacity come from the national outlet conditions (domain.md): a collection-type outlet
stores about 5 t at most, a central storage point 30 t or more. The two bounds are enforced
differently, on purpose:

- *central storage below 30 t is refused*. 30 t is what makes a point central storage: one that
  holds less is a collection-type outlet registered under the wrong kind, and reports that count
  storage capacity by kind would be wrong.
- *a collection-type outlet above 5 t is accepted, with a warning* (``capacity_warning``). The
  guideline says "in principle" (原则上) at most 5 t, so a larger outlet is unusual but not
  forbidden; refusing it would push the operator to declare a smaller capacity than it has, and
  then the over-capacity compliance check would flag an outlet that is really within its means.

Both are checked when a point is registered, never when its events are replayed: a point recorded
before the checks existed still loads.

Public pages send owners to collection points, so a point an operator registers for itself is
*pending review* until a regulator approves it; only approved points are shown to the public. A
point a regulator registers is approved at registration (recorded in its Registered event).
"""

from __future__ import annotations

import re
from enum import StrEnum

from eventsourcing.domain import event

from batterytrace.events.base import TraceAggregate, require_measurement
from batterytrace.events.conventions import CENTRAL_STORAGE_MIN_KG, COLLECTION_GUIDE_MAX_KG
from batterytrace.events.errors import InvalidInput, NotAuthorised
from batterytrace.events.participant import OUTLET_ROLES, Participant, Role
from batterytrace.events.regions import check_division_code
from batterytrace.events.review import Review

COLLECTION_POINT_ID = re.compile(r"CP-[A-Z0-9][A-Z0-9-]{0,39}")


class CollectionPointKind(StrEnum):
    COLLECTION = "collection"
    CENTRAL_STORAGE = "central_storage"


def review_at_registration(approved: bool | None, *, registered_by: str, operator_id: str) -> Review:
    """The review state a Registered event leaves. Events recorded before review existed carry no
    ``approved``: then only the operator or a regulator could register a point, so one registered
    by someone other than its operator was registered by a regulator, hence approved."""
    if approved is None:
        approved = registered_by != operator_id
    return Review.APPROVED if approved else Review.PENDING


def require_kind_capacity(kind: CollectionPointKind, capacity_kg: float) -> None:
    """Refuse a central storage point that holds less than the 30 t its kind means."""
    if kind == CollectionPointKind.CENTRAL_STORAGE and capacity_kg < CENTRAL_STORAGE_MIN_KG:
        raise InvalidInput(
            f"a central storage point stores at least {_tonnes(CENTRAL_STORAGE_MIN_KG)}; give "
            f"capacity_kg ≥ {CENTRAL_STORAGE_MIN_KG:g} or register a collection-type point "
            f"(got capacity_kg {capacity_kg:g})"
        )


def capacity_warning(kind: str, capacity_kg: float) -> str | None:
    """What is unusual about an accepted capacity, for the registering person; None if nothing.

    A collection-type outlet above about 5 t is allowed (the guideline says "in principle"), but
    worth a second look: usually the capacity was typed in the wrong unit or the point is really
    central storage.
    """
    if kind == CollectionPointKind.COLLECTION and capacity_kg > COLLECTION_GUIDE_MAX_KG:
        return (
            f"a collection-type outlet stores in principle at most about {_tonnes(COLLECTION_GUIDE_MAX_KG)}; "
            f"capacity_kg {capacity_kg:g} is recorded as given. Check the unit (kg), or register a "
            f"central storage point (≥ {CENTRAL_STORAGE_MIN_KG:g} kg) if the site is one"
        )
    return None


def _tonnes(kg: float) -> str:
    return f"{kg / 1000:g} t"


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
        name_en: str | None = None,
    ) -> None:
        self.point_id = point_id
        self.operator_id = operator_id
        self.name = name
        # The name in English, for English pages; optional (events recorded before it have none).
        self.name_en = name_en
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
        name_en: str | None = None,
    ) -> CollectionPoint:
        """Register an outlet; a regulator may register any (approved at once), an enterprise only
        its own (pending review until a regulator approves it). The division must be a listed
        GB/T 2260 province, prefecture or county; the capacity must fit the kind (module doc)."""
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
        capacity = require_measurement("capacity_kg", capacity_kg)
        require_kind_capacity(kind_value, capacity)
        return cls(
            point_id=parse_collection_point_id(point_id),
            operator_id=operator.id,
            name=name.strip(),
            kind=kind_value.value,
            capacity_kg=capacity,
            address=address.strip(),
            division_code=division,
            latitude=latitude,
            longitude=longitude,
            registered_by=by.id,
            approved=by.is_regulator,
            name_en=(name_en or "").strip() or None,
        )

    @property
    def capacity_warning(self) -> str | None:
        """What is unusual about the registered capacity (module doc), for whoever registered it."""
        return capacity_warning(self.kind, self.capacity_kg)

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
                key="point.not_operator",
                params={"point": self.id},
            )


__all__ = [
    "CENTRAL_STORAGE_MIN_KG",
    "COLLECTION_GUIDE_MAX_KG",
    "CollectionPoint",
    "CollectionPointKind",
    "Review",
    "Role",
    "capacity_warning",
    "parse_collection_point_id",
    "require_kind_capacity",
    "review_at_registration",
]
