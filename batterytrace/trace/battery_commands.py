"""Running lifecycle commands: one handler per command class, each a direct call of the battery's
method of the same name (or, for a vehicle's batteries, of the domain function that acts on them
together: ``battery_vehicles.swap`` and ``scrap_vehicle``).

``BatteryTrace.execute`` does what every command shares — load the battery and the acting
participant, save, retry a lost race once — and looks the handler up in ``HANDLERS`` by the
command's class: a command without a handler fails at once (and the test that enumerates the
commands fails first), where a method named by a string would fail only when called. A handler
loads what its own action needs (a receiver, a collection point) and lets the aggregate decide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from batterytrace.events.battery import Battery
from batterytrace.events.battery_vehicles import scrap_vehicle, swap
from batterytrace.events.collection_point import CollectionPoint, parse_collection_point_id
from batterytrace.events.commands import (
    Collect,
    Command,
    Deliver,
    HandOver,
    Install,
    Recycle,
    Remove,
    Retire,
    ScrapVehicle,
    Swap,
    VehicleCommand,
)
from batterytrace.events.errors import InvalidInput
from batterytrace.events.lifecycle import Action
from batterytrace.events.participant import Activity, Participant

if TYPE_CHECKING:
    from batterytrace.trace.application import BatteryTrace


@dataclass(frozen=True)
class Attempt:
    """One try at a command: the batteries as just loaded (in the order of the command's
    ``battery_codes``), who acts, and how the event is reported (``occurred_at`` already checked
    against the clock). A lost race makes a new attempt."""

    app: BatteryTrace
    batteries: tuple[Battery, ...]
    actor: Participant
    occurred_at: datetime
    request_id: str | None
    late_correction: bool
    point: CollectionPoint | None = None
    # How the other party of a transfer is read: a batch reads each receiver once for all.
    participant_lookup: Callable[[str], Participant] | None = None

    def participant(self, participant_id: str) -> Participant:
        """The other party of a transfer (a receiver), read after the holder check."""
        return (self.participant_lookup or self.app.participant)(participant_id)

    @property
    def battery(self) -> Battery:
        """The battery of a one-battery command."""
        return self.batteries[0]

    @property
    def reported(self) -> dict[str, Any]:
        """The reporting keywords every battery command takes."""
        return {
            "occurred_at": self.occurred_at,
            "request_id": self.request_id,
            "late_correction": self.late_correction,
        }

    def require_holder(self, action: Action) -> None:
        """For a transfer: the actor must hold the battery (or be replaying its own request)
        before the other party is looked up, so that whether a receiver is registered is told
        only to the holder, never 404-or-403 to anyone who asks."""
        if not self.battery.has_seen(self.actor, self.request_id, action):
            self.battery.require_can(action)
            self.battery.require_held_by(self.actor, action)


def _deliver(attempt: Attempt, command: Deliver) -> None:
    attempt.require_holder(Action.DELIVER)
    receiver = attempt.participant(command.receiver_id)
    attempt.battery.deliver(actor=attempt.actor, receiver=receiver, **attempt.reported)


def _install(attempt: Attempt, command: Install) -> None:
    attempt.battery.install(
        actor=attempt.actor,
        vin=command.vin,
        site=command.site,
        application=command.application,
        **attempt.reported,
    )


def _remove(attempt: Attempt, command: Remove) -> None:
    attempt.battery.remove(actor=attempt.actor, reason=command.reason, **attempt.reported)


def _retire(attempt: Attempt, command: Retire) -> None:
    attempt.battery.retire(
        actor=attempt.actor,
        reason=command.reason,
        state_of_health_pct=command.state_of_health_pct,
        **attempt.reported,
    )


def _collect(attempt: Attempt, command: Collect) -> None:
    """``attempt.point`` is the point a caller has just loaded and checked (a scan), if any."""
    point = attempt.point
    if point is None:
        point = attempt.app.collection_point(command.collection_point_id)
    elif point.id != parse_collection_point_id(command.collection_point_id):
        raise ValueError(f"point {point.id} is not {command.collection_point_id}")
    attempt.battery.collect(
        actor=attempt.actor,
        collection_point=point,
        mass_kg=command.mass_kg,
        condition=command.condition,
        source_vin=command.source_vin,
        scanned_by=command.scanned_by,
        **attempt.reported,
    )


def _hand_over(attempt: Attempt, command: HandOver) -> None:
    attempt.require_holder(Action.HAND_OVER)
    receiver = attempt.participant(command.receiver_id)
    attempt.battery.hand_over(
        actor=attempt.actor, receiver=receiver, activity=parse_activity(command.activity), **attempt.reported
    )


def _recycle(attempt: Attempt, command: Recycle) -> None:
    attempt.battery.recycle(actor=attempt.actor, recovered_kg=dict(command.recovered_kg), **attempt.reported)


def _swap(attempt: Attempt, command: Swap) -> None:
    removed, installed = attempt.batteries
    swap(
        removed,
        installed,
        actor=attempt.actor,
        vin=command.vin,
        station=command.station,
        division_code=command.division_code,
        **attempt.reported,
    )


def _scrap_vehicle(attempt: Attempt, command: ScrapVehicle) -> None:
    scrap_vehicle(
        attempt.batteries,
        actor=attempt.actor,
        vin=command.vin,
        scrapped_on=command.scrapped_on,
        **attempt.reported,
    )


HANDLERS: dict[type[Command | VehicleCommand], Callable[[Attempt, Any], None]] = {
    Deliver: _deliver,
    Install: _install,
    Remove: _remove,
    Retire: _retire,
    Collect: _collect,
    HandOver: _hand_over,
    Recycle: _recycle,
    Swap: _swap,
    ScrapVehicle: _scrap_vehicle,
}


def handler_for(command: Command | VehicleCommand) -> Callable[[Attempt, Any], None]:
    """The handler of a command's class; a command class without one is a programming error."""
    try:
        return HANDLERS[type(command)]
    except KeyError:
        raise TypeError(f"no handler for {type(command).__name__}; add it to HANDLERS") from None


def parse_activity(value: str) -> Activity:
    """An activity as a person types it ("cascade-use", "Recycling")."""
    try:
        return Activity(value.strip().lower().replace("-", "_"))
    except ValueError:
        raise InvalidInput(f"activity {value!r} is unknown; use recycling or cascade_use") from None
