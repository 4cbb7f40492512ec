"""Lifecycle commands as values: what a participant asks to be done to one battery.

A command names the request — who acts (``actor_id``), on which battery (``code``), with the
action's own facts — and nothing about how it is carried out. The API, the CLI and the tests build
one and hand it to ``BatteryTrace.execute``, which loads the battery, lets it decide and saves what
it recorded; the application finds the handler by the command's class, so that no caller names a
method as a string, and adding an action is adding one class here, one handler and one aggregate
method (the shape of cosmicpython's ``commands.py`` and of the eventsourcing library's
cargo-shipping example, whose interface builds requests the application runs).

Field names are those of the aggregate's and the API's fields, so that a request body maps onto a
command one to one. Commands are frozen: a command is a fact about a request, replayed as sent.
They are pure values (no I/O, no validation): the aggregate checks them, and refuses in the
domain's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class Reporting:
    """How any lifecycle event is reported, whatever the action: when it happened in the real
    world (``None``: now), the client's request id (the same id again is answered, not recorded
    twice) and whether it is a late correction (it happened before the battery's previous event).

    One value instead of three keyword arguments on every command and every caller."""

    occurred_at: datetime | None = None
    request_id: str | None = None
    late_correction: bool = False


@dataclass(frozen=True, kw_only=True)
class Command:
    """A lifecycle action by ``actor_id`` (a credit code) on the battery ``code``."""

    actor_id: str
    code: str
    reporting: Reporting = field(default_factory=Reporting)

    @property
    def battery_codes(self) -> tuple[str, ...]:
        """The batteries the command acts on, loaded and saved together by ``execute``."""
        return (self.code,)


@dataclass(frozen=True, kw_only=True)
class VehicleCommand:
    """An action by ``actor_id`` on the batteries of one vehicle, named by its ``vin``: the VIN
    is what the actor shows it has the vehicle by. All of them change in one transaction, or none.
    Not a ``Command``: it names several batteries, not one ``code``."""

    actor_id: str
    vin: str
    reporting: Reporting = field(default_factory=Reporting)

    @property
    def battery_codes(self) -> tuple[str, ...]:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Swap(VehicleCommand):
    """A swap operator takes ``removed_code`` out of the vehicle at its ``station`` (a label of its
    own, in division ``division_code``) and puts ``installed_code``, from its stock, in."""

    removed_code: str
    installed_code: str
    station: str
    division_code: str

    @property
    def battery_codes(self) -> tuple[str, ...]:
        return (self.removed_code, self.installed_code)


@dataclass(frozen=True, kw_only=True)
class ScrapVehicle(VehicleCommand):
    """A dismantler takes the scrapped vehicle in with its batteries ``codes`` (1-8), scrapped on
    ``scrapped_on`` (default: the day it was taken in)."""

    codes: tuple[str, ...]
    scrapped_on: date | None = None

    @property
    def battery_codes(self) -> tuple[str, ...]:
        return tuple(self.codes)


@dataclass(frozen=True, kw_only=True)
class Deliver(Command):
    """The holder of a new battery (its manufacturer) delivers it to a vehicle maker, which may
    then install it: custody passes only with this record."""

    receiver_id: str


@dataclass(frozen=True, kw_only=True)
class Install(Command):
    """Install in a vehicle (``vin``, by a vehicle maker holding the battery) or, for a
    second-life product, at a ``site`` for an ``application`` such as energy storage."""

    vin: str | None = None
    site: str | None = None
    application: str | None = None


@dataclass(frozen=True, kw_only=True)
class Remove(Command):
    """Take an installed battery out for repair or replacement; it may be installed again."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class Retire(Command):
    """End a battery's first (or second) life, with its state of health when measured."""

    reason: str
    state_of_health_pct: float | None = None


@dataclass(frozen=True, kw_only=True)
class Collect(Command):
    """Take a battery in at a collection point, by the point's operator (a scan is one)."""

    collection_point_id: str
    mass_kg: float | None = None
    condition: str = "intact"
    source_vin: str | None = None
    scanned_by: str | None = None


@dataclass(frozen=True, kw_only=True)
class HandOver(Command):
    """Pass a battery to a recycler or cascade-use enterprise for ``activity`` (recycling or
    cascade_use); a receiver not whitelisted for it is recorded all the same, flagged."""

    receiver_id: str
    activity: str


@dataclass(frozen=True, kw_only=True)
class Recycle(Command):
    """Record the materials recovered from a battery (kg by element); its life ends."""

    recovered_kg: Mapping[str, float]
