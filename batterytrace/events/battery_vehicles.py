"""What happens to batteries together with their vehicle: battery swapping (换电) and vehicle
scrapping (车电一体报废), the stages the 2026 interim measures add (domain.md).

**Swapping.** A swap operator takes the battery out of a vehicle at one of its stations and puts
a charged one in, at one moment: one command (``swap``), two batteries, one VIN. The removed
battery stays with the operator at that station (``at swap station``) until it goes into another
vehicle; the installed one comes from the operator's own stock, or new from a manufacturer that
delivered it to the operator. The operator answers for the battery it swapped in while the
vehicle drives (battery as a service: the operator owns it), so only the operator swaps it out
again or retires it. Which swap operator may take a battery out of a vehicle: any, provided it
names the vehicle the battery is in. The driver chooses the station; the platform does not know
which vehicles an operator serves, and a request naming the right VIN and pack code is the
evidence it has the vehicle. A wrong VIN is refused without saying which vehicle the battery is in.

**Scrapping.** A dismantler that takes a scrapped vehicle in records it (``scrap_vehicle``, 1-8
batteries of that VIN, all or nothing): custody of the installed batteries passes with the
vehicle. Only then may it retire them (``Battery.retire`` refuses a dismantler's retirement of an
installed battery it does not hold, with ``battery.scrapping_not_recorded``).

The command methods live here, in a mixin of ``Battery``, and not in ``battery.py``: that module
was about 850 lines with one command-and-event pair per action, and these commands add their own
rules (VINs, stations, division codes, replays across batteries). Their ``@event`` methods stay on
``Battery``: the eventsourcing library defines an aggregate's event classes from the decorated
methods in the aggregate class's own body only, so a decorated method here would define none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from batterytrace.events.custody import HolderKind
from batterytrace.events.errors import ChronologyViolation, InvalidInput, NotAuthorised
from batterytrace.events.lifecycle import Action
from batterytrace.events.regions import check_division_code
from batterytrace.events.roles import Role
from batterytrace.events.zone import CHINA_STANDARD_TIME

if TYPE_CHECKING:
    from batterytrace.events.battery import Battery
    from batterytrace.events.participant import Participant

VIN_ALPHABET = set("0123456789ABCDEFGHJKLMNPRSTUVWXYZ")  # ISO 3779 / GB 16735: no I, O, Q
MAX_STATION_LENGTH = 64
# A passenger vehicle carries one traction pack; commercial vehicles and buses up to a few. Eight
# bounds one request (and one transaction) while covering any vehicle the sources describe.
MAX_BATTERIES_PER_VEHICLE = 8


def parse_vin(value: str) -> str:
    vin = "".join(char.upper() if char.isascii() else char for char in value.strip())
    if len(vin) != 17 or not set(vin) <= VIN_ALPHABET:
        raise InvalidInput(
            f"VIN {value!r} must be 17 characters, digits and capital letters without I, O, Q "
            "(GB 16735), e.g. LSVAU2180N2183294"
        )
    return vin


def parse_station(value: str) -> str:
    """A swap station's label as its operator names it (its holder id while a battery is there):
    1-64 printable characters, so that it fits a table cell and a page."""
    station = value.strip()
    if not 1 <= len(station) <= MAX_STATION_LENGTH or not station.isprintable():
        raise InvalidInput(
            f"station {value!r} must be 1-{MAX_STATION_LENGTH} printable characters naming one of "
            "your swap stations, e.g. 'Shenzhen Futian 03'"
        )
    return station


def parse_station_division(code: str) -> str:
    """Where a swap station is: a listed prefecture or county code (GB/T 2260). A province code
    alone is refused: swaps are counted per province from the code, but a station is a place the
    regulator must be able to find."""
    try:
        checked = check_division_code(code)
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    if checked.endswith("0000"):
        raise InvalidInput(
            f"division code {checked} names a whole province; give the station's prefecture or "
            "county code, e.g. 440304 (Futian, Shenzhen)"
        )
    return checked


def _replayed(actor: Participant, request_id: str | None, steps: Sequence[tuple[Battery, Action]]) -> bool:
    """True when every battery of a multi-battery request has already seen it (a client replay);
    a request id some of them saw and others did not was used for another request."""
    seen = [battery.has_seen(actor, request_id, action) for battery, action in steps]
    if seen and all(seen):
        return True
    if any(seen):
        raise InvalidInput(
            f"request id {request_id!r} was already used for another request on "
            f"{', '.join(b.code for (b, _), s in zip(steps, seen, strict=True) if s)}; use a new "
            "request id for each swap or scrapping"
        )
    return False


def swap(
    removed: Battery,
    installed: Battery,
    *,
    actor: Participant,
    vin: str,
    station: str,
    division_code: str,
    occurred_at: datetime,
    request_id: str | None = None,
    late_correction: bool = False,
) -> None:
    """One swap: ``removed`` out of vehicle ``vin`` into the station's stock, ``installed`` from
    the operator's stock into the vehicle, at the same moment. Both sides are checked before
    either changes, so that a refusal leaves both batteries as they were (and the caller saves
    both together, or neither)."""
    actor.require_role(Role.SWAP_OPERATOR, to="swap batteries")
    if removed.code == installed.code:
        raise InvalidInput(f"a swap takes one battery out and puts another in; both codes are {removed.code}")
    vin = parse_vin(vin)
    station = parse_station(station)
    division_code = parse_station_division(division_code)
    if _replayed(actor, request_id, [(removed, Action.SWAP_OUT), (installed, Action.SWAP_IN)]):
        return
    facts: dict[str, Any] = {
        "actor": actor,
        "vin": vin,
        "station": station,
        "division_code": division_code,
        "occurred_at": occurred_at,
        "request_id": request_id,
        "late_correction": late_correction,
    }
    removed.check_swap_out(actor, vin, occurred_at, late_correction)
    installed.check_swap_in(actor, occurred_at, late_correction)
    removed.swap_out(**facts)
    installed.swap_in(**facts)


def scrap_vehicle(
    batteries: Sequence[Battery],
    *,
    actor: Participant,
    vin: str,
    scrapped_on: date | None,
    occurred_at: datetime,
    request_id: str | None = None,
    late_correction: bool = False,
) -> None:
    """A dismantler takes in scrapped vehicle ``vin`` with its batteries (every one named must be
    installed in it; all or nothing). ``occurred_at`` is when the vehicle passed to the dismantler;
    ``scrapped_on``, the scrapping date on its certificate, defaults to that day (China time)."""
    actor.require_role(Role.DISMANTLER, to="take in a scrapped vehicle")
    codes = [battery.code for battery in batteries]
    if not 1 <= len(codes) <= MAX_BATTERIES_PER_VEHICLE:
        raise InvalidInput(
            f"name the 1 to {MAX_BATTERIES_PER_VEHICLE} batteries installed in the scrapped vehicle; "
            f"got {len(codes)}"
        )
    if len(set(codes)) != len(codes):
        raise InvalidInput("a battery is listed twice")
    vin = parse_vin(vin)
    if _replayed(actor, request_id, [(battery, Action.SCRAP_WITH_VEHICLE) for battery in batteries]):
        return
    for battery in batteries:  # every one is checked before any changes
        battery.check_scrap_with_vehicle(actor, vin, scrapped_on, occurred_at, late_correction)
    for battery in batteries:
        battery.scrap_with_vehicle(
            actor=actor,
            vin=vin,
            scrapped_on=scrapped_on,
            occurred_at=occurred_at,
            request_id=request_id,
            late_correction=late_correction,
        )


class VehicleChanges:
    """The swap and scrap commands of ``Battery`` (see the module docstring). Each checks one
    battery's side; ``swap`` and ``scrap_vehicle`` above check what concerns the request as a
    whole (its role, its codes, a replay) first."""

    def require_in_vehicle(self: Battery, vin: str, action: Action) -> None:
        """The battery must be installed in the vehicle the caller names. The refusal does not say
        which vehicle it is in (a VIN is the vehicle owner's personal data), nor whether it is in
        one at all beyond what its state already says."""
        self.require_can(action)
        if self.holder_kind != HolderKind.VEHICLE or self.holder_id != vin:
            raise NotAuthorised(
                f"battery {self.code} is not installed in the vehicle you named ({vin}); check the "
                "VIN and the pack code",
                detail=f"held by {self.responsible_id} ({self.holder_kind} {self.holder_id})",
                key="battery.not_in_vehicle",
                params={"code": self.code, "vin": vin},
            )

    def check_swap_out(
        self: Battery, actor: Participant, vin: str, occurred_at: datetime, late: bool
    ) -> datetime:
        """The rules of ``swap_out``; the moment it happens, checked against the battery's past."""
        actor.require_role(Role.SWAP_OPERATOR, to="swap batteries")
        self.require_in_vehicle(vin, Action.SWAP_OUT)
        return self._check_when(Action.SWAP_OUT, occurred_at, late)

    def check_swap_in(self: Battery, actor: Participant, occurred_at: datetime, late: bool) -> datetime:
        """The rules of ``swap_in``: a battery in the actor's hands, new or from its stock."""
        actor.require_role(Role.SWAP_OPERATOR, to="swap batteries")
        self.require_can(Action.SWAP_IN)
        self.require_held_by(actor, Action.SWAP_IN)
        return self._check_when(Action.SWAP_IN, occurred_at, late)

    def check_scrap_with_vehicle(
        self: Battery,
        actor: Participant,
        vin: str,
        scrapped_on: date | None,
        occurred_at: datetime,
        late: bool,
    ) -> tuple[datetime, date]:
        """The rules of ``scrap_with_vehicle``: the moment and the scrapping date."""
        actor.require_role(Role.DISMANTLER, to="take in a scrapped vehicle")
        self.require_in_vehicle(vin, Action.SCRAP_WITH_VEHICLE)
        moment = self._check_when(Action.SCRAP_WITH_VEHICLE, occurred_at, late)
        day = moment.astimezone(CHINA_STANDARD_TIME).date()
        scrapped = scrapped_on or day
        produced = date.fromisoformat(self.production_date)
        if not produced <= scrapped <= day:
            # Handed over as scrapped means scrapped by then; and not before the battery existed.
            raise ChronologyViolation(
                f"scrapping date {scrapped.isoformat()} of the vehicle with battery {self.code} must "
                f"lie between the battery's production ({produced.isoformat()}) and the day the "
                f"vehicle passed to the dismantler ({day.isoformat()})"
            )
        return moment, scrapped

    def swap_out(
        self: Battery,
        *,
        actor: Participant,
        vin: str,
        station: str,
        division_code: str,
        occurred_at: datetime,
        request_id: str | None = None,
        late_correction: bool = False,
    ) -> None:
        """Take the battery out of vehicle ``vin`` into the stock of the actor's ``station``."""
        moment = self.check_swap_out(actor, vin, occurred_at, late_correction)
        self._swapped_out(
            vin=vin,
            station=station,
            division_code=division_code,
            operator_id=actor.id,
            actor_id=actor.id,
            occurred_at=moment,
            request_id=request_id,
            late_correction=late_correction,
        )

    def swap_in(
        self: Battery,
        *,
        actor: Participant,
        vin: str,
        station: str,
        division_code: str,
        occurred_at: datetime,
        request_id: str | None = None,
        late_correction: bool = False,
    ) -> None:
        """Put the battery, new or from the actor's stock, into vehicle ``vin``."""
        moment = self.check_swap_in(actor, occurred_at, late_correction)
        self._swapped_in(
            vin=vin,
            station=station,
            division_code=division_code,
            operator_id=actor.id,
            actor_id=actor.id,
            occurred_at=moment,
            request_id=request_id,
            late_correction=late_correction,
        )

    def scrap_with_vehicle(
        self: Battery,
        *,
        actor: Participant,
        vin: str,
        scrapped_on: date | None,
        occurred_at: datetime,
        request_id: str | None = None,
        late_correction: bool = False,
    ) -> None:
        """The battery passes with scrapped vehicle ``vin`` to the dismantler ``actor``."""
        moment, scrapped = self.check_scrap_with_vehicle(
            actor, vin, scrapped_on, occurred_at, late_correction
        )
        self._vehicle_scrapped(
            vin=vin,
            dismantler_id=actor.id,
            scrapped_on=scrapped.isoformat(),
            actor_id=actor.id,
            occurred_at=moment,
            request_id=request_id,
            late_correction=late_correction,
        )
