"""What each battery event leaves behind: the battery's state after it and who holds it then.

One table, keyed by the event's name (the class name of ``Battery.Installed`` and its kin, read
from the class by ``event_kind``), so that the aggregate applying its own events, the lifecycle
view rebuilding a battery from stored events and the disclosure rule reading a timeline all
derive state and custody from the same facts and can never disagree. ``lifecycle.py`` says which
action each state allows; this module says where each event leads.

A holder is a triple: what kind of thing holds the battery (an enterprise, a vehicle by its VIN, a
collection point, the pack or second-life product it is part of …), which one, and the
participant that answers for it there (the enterprise that installed it in the vehicle, the
collection point's operator, the maker of the pack). Only the responsible participant acts on the
battery (``Battery.require_held_by``).

The functions are pure and read the event's facts as a mapping (an event's fields, or a timeline
row's details with its actor), so events recorded before a field existed still read: a missing
field is None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from batterytrace.events.lifecycle import State


class HolderKind(StrEnum):
    MANUFACTURER = "manufacturer"  # made and not yet passed on
    ENTERPRISE = "enterprise"  # a vehicle maker, dismantler, recycler, cascade-use enterprise …
    VEHICLE = "vehicle"  # installed in a vehicle, held by its VIN
    SWAP_STATION = "swap_station"  # between vehicles at a swap operator's station, by its label
    SITE = "site"  # a second-life product at its site of use
    COLLECTION_POINT = "collection_point"  # taken in at a recycling service outlet
    PACK = "pack"  # built into a pack, held by the pack's code
    PRODUCT = "product"  # lives on in a second-life product, held by its code


class Custody(NamedTuple):
    """Who holds a battery: (holder kind, holder id, responsible participant), stored as text."""

    holder_kind: str | None
    holder_id: str | None
    responsible_id: str | None


NOBODY = Custody(None, None, None)  # recycled: the battery no longer exists

Facts = Mapping[str, Any]


def _by_enterprise(participant_id: str | None) -> Custody:
    """Held by an enterprise that answers for it itself."""
    return Custody(HolderKind.ENTERPRISE.value, participant_id, participant_id)


def _produced(facts: Facts, _: Custody) -> Custody:
    maker = facts.get("manufacturer_id")
    return Custody(HolderKind.MANUFACTURER.value, maker, maker)


def _assembled_into(facts: Facts, before: Custody) -> Custody:
    # The pack's maker, who answered for the module before, still answers for it inside the pack.
    return Custody(HolderKind.PACK.value, facts.get("pack_code"), before.responsible_id)


def _installed(facts: Facts, _: Custody) -> Custody:
    vin = facts.get("vin")
    kind = HolderKind.VEHICLE if vin else HolderKind.SITE
    return Custody(kind.value, vin or facts.get("site"), facts.get("actor_id"))


def _swapped_out(facts: Facts, _: Custody) -> Custody:
    return Custody(HolderKind.SWAP_STATION.value, facts.get("station"), facts.get("operator_id"))


def _swapped_in(facts: Facts, _: Custody) -> Custody:
    # Battery as a service: the swap operator keeps answering for the battery in the vehicle.
    return Custody(HolderKind.VEHICLE.value, facts.get("vin"), facts.get("operator_id"))


def _scrapped_with_vehicle(facts: Facts, _: Custody) -> Custody:
    # Custody passes with the vehicle: still held by its VIN, now answered for by the dismantler.
    return Custody(HolderKind.VEHICLE.value, facts.get("vin"), facts.get("dismantler_id"))


def _taken_out_by_actor(facts: Facts, _: Custody) -> Custody:
    # Whoever removes or retires a battery has it in hand afterwards.
    return _by_enterprise(facts.get("actor_id"))


def _received(facts: Facts, _: Custody) -> Custody:
    return _by_enterprise(facts.get("receiver_id"))


def _collected(facts: Facts, _: Custody) -> Custody:
    return Custody(
        HolderKind.COLLECTION_POINT.value, facts.get("collection_point_id"), facts.get("operator_id")
    )


def _cascade_reused(facts: Facts, _: Custody) -> Custody:
    return Custody(HolderKind.PRODUCT.value, facts.get("product_code"), facts.get("enterprise_id"))


def _recycled(_facts: Facts, _before: Custody) -> Custody:
    return NOBODY


@dataclass(frozen=True)
class Consequence:
    """What one kind of battery event does: the state it leaves and the holder it leaves."""

    state: State
    holder: Callable[[Facts, Custody], Custody]


CONSEQUENCES: Mapping[str, Consequence] = MappingProxyType(
    {
        "Produced": Consequence(State.PRODUCED, _produced),
        "AssembledInto": Consequence(State.ASSEMBLED, _assembled_into),
        # A delivered battery is still new (produced); only its holder changes.
        "Delivered": Consequence(State.PRODUCED, _received),
        "Installed": Consequence(State.INSTALLED, _installed),
        "Removed": Consequence(State.REMOVED, _taken_out_by_actor),
        "SwappedOut": Consequence(State.SWAP_STOCK, _swapped_out),
        "SwappedIn": Consequence(State.INSTALLED, _swapped_in),
        "VehicleScrapped": Consequence(State.IN_SCRAPPED_VEHICLE, _scrapped_with_vehicle),
        "Retired": Consequence(State.RETIRED, _taken_out_by_actor),
        "Collected": Consequence(State.COLLECTED, _collected),
        "HandedOver": Consequence(State.HANDED_OVER, _received),
        "CascadeReused": Consequence(State.CASCADE_REUSED, _cascade_reused),
        "Recycled": Consequence(State.RECYCLED, _recycled),
    }
)


def event_kind(event: type | str) -> str:
    """The name an event class is known by in tables and timelines (``Battery.Retired`` →
    ``Retired``); a name passes through unchanged."""
    return event if isinstance(event, str) else event.__name__


def consequence_of(event: type | str) -> Consequence:
    """The consequence of a battery event (its class or its name); KeyError names an event
    without one, which ``tests/unit/test_event_catalogue.py`` reports before any run does."""
    return CONSEQUENCES[event_kind(event)]


def state_after(event: type | str) -> State:
    return consequence_of(event).state


def custody_after(event: type | str, facts: Facts, before: Custody = NOBODY) -> Custody:
    """Who holds the battery after ``event`` with these facts, the holder before being ``before``."""
    return consequence_of(event).holder(facts, before)
