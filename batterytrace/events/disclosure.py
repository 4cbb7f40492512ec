"""What a participant may read of a battery's life besides its public page.

Regulators read everything. Any other participant reads a battery's history from the event at
which it became involved (the first event it acted in or that names it: made, received, took in,
holds), never what happened before it: an outlet that takes in a retired battery learns nothing of
the vehicle years it was not part of. The vehicle's VIN is personal data of the vehicle's owner; it
is shown only to those who had the vehicle or made the battery: the manufacturer, whoever installed
the battery in the vehicle (a vehicle maker, a swap operator swapping it in), whoever took it out
of the vehicle (removal, retirement, a swap) and whoever took the vehicle in with the battery in it
(a dismantler's scrapping record).

The rule is here once, over plain event facts, so that the lifecycle view (timeline rows), the
event store (history) and write answers all apply it the same way. Whether a battery is in a
vehicle is read from its holder after each event (``custody.py``), so that every event that puts
a battery into a vehicle or takes it out counts, whatever its name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from batterytrace.events.custody import NOBODY, HolderKind, custody_after

# Event fields that name a participant who took part in the event besides its actor.
PARTICIPANT_FIELDS = (
    "manufacturer_id",
    "receiver_id",
    "operator_id",
    "enterprise_id",
    "recycler_id",
    "dismantler_id",
)
# Event fields ending in ``_id`` that name no participant (a client's request, a collection
# point): listed so that a new ``…_id`` field is a decision (tests/unit/test_event_catalogue.py).
OTHER_ID_FIELDS = ("request_id", "collection_point_id", "from_collection_point_id")
VIN_FIELDS = ("vin", "source_vin")


@dataclass(frozen=True)
class EventFacts:
    """The facts of one battery event that decide who may read what."""

    version: int
    name: str
    actor_id: str
    details: Mapping[str, Any]

    def names(self, participant_id: str) -> bool:
        return self.actor_id == participant_id or any(
            self.details.get(key) == participant_id for key in PARTICIPANT_FIELDS
        )


@dataclass(frozen=True)
class Disclosure:
    """What one participant may read of one battery."""

    involved_from: int | None  # first event version it may read; None: not involved at all
    knows_vin: bool

    @property
    def involved(self) -> bool:
        return self.involved_from is not None

    def visible(self, version: int) -> bool:
        return self.involved_from is not None and version >= self.involved_from


FULL = Disclosure(involved_from=1, knows_vin=True)


def disclosure_for(participant_id: str, events: Iterable[EventFacts], *, is_regulator: bool) -> Disclosure:
    """What ``participant_id`` may read, from the battery's events (oldest first)."""
    if is_regulator:
        return FULL
    involved_from: int | None = None
    knows_vin = False
    custody = NOBODY
    for event in events:
        names_it = event.names(participant_id)
        if names_it and involved_from is None:
            involved_from = event.version
        was_in_vehicle = custody.holder_kind == HolderKind.VEHICLE
        custody = custody_after(event.name, {**event.details, "actor_id": event.actor_id}, custody)
        if custody.holder_kind == HolderKind.MANUFACTURER and names_it:
            knows_vin = True  # the manufacturer answers for its battery's whole life
        if was_in_vehicle or custody.holder_kind == HolderKind.VEHICLE:
            # Who puts it into a vehicle, takes it out or takes the vehicle in with it had it.
            knows_vin = knows_vin or names_it
    return Disclosure(involved_from=involved_from, knows_vin=knows_vin)


def without_vin(details: Mapping[str, Any]) -> dict[str, Any]:
    """Event details with the vehicle's VIN left out."""
    return {key: value for key, value in details.items() if key not in VIN_FIELDS}
