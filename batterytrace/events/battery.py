"""The battery aggregate: one event stream per GB/T 34014 code, from production to recycling.

Each public method is a command: it checks the lifecycle table (``lifecycle.py``), who is acting,
and the real-world chronology, then triggers the event declared with ``@event`` right below it.
The event methods only change state, because they run again every time the battery is rebuilt
from its stream. Every event carries who acted (``actor_id``), when it happened in the real world
(``occurred_at``), whether it is a late correction, and the client's request id; when it was
recorded is the library's own ``timestamp``.

A repeated command with a request id the battery has already seen changes nothing and is not an
error: outlets with bad connections replay scans, and importers retry batches.

Long because the library needs every ``@event`` in the class body, each beside its command; the
swap and scrap commands are a mixin of their own (``battery_vehicles.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from eventsourcing.domain import event

from batterytrace.events.base import CHINA_STANDARD_TIME, TraceAggregate, as_aware, require_measurement
from batterytrace.events.battery_code import BatteryCode, parse_battery_code
from batterytrace.events.battery_vehicles import VehicleChanges, parse_vin
from batterytrace.events.collection_point import CollectionPoint
from batterytrace.events.conventions import (
    BATTERY_TYPES,
    CHEMISTRY_ALIASES,
    REQUIRED_RECOVERED_MATERIALS,
)
from batterytrace.events.custody import Custody, HolderKind, consequence_of
from batterytrace.events.errors import (
    ChronologyViolation,
    InvalidInput,
    LifecycleViolation,
    NotAuthorised,
)
from batterytrace.events.lifecycle import ALLOWED, DEAD_ENDS, Action, State, allowed_actions
from batterytrace.events.participant import ROLE_FOR_ACTIVITY, Activity, Participant, Role

LEVEL_RANK = {"cell": 0, "module": 1, "pack": 2}
ENERGY_TOLERANCE = 0.2  # rated energy may differ this much from capacity × voltage
FLAG_CUSTODY_UNVERIFIED = "retired by a dismantler without a vehicle scrapping record"
FLAG_NON_COMPLIANT = "non-compliant handover"
# Why a state ends a battery's own life, as the message-key suffix of its refusal.
_DEAD_END_REASONS = {
    State.ASSEMBLED: "in_pack",
    State.CASCADE_REUSED: "in_product",
    State.RECYCLED: "recycled",
}


@dataclass(frozen=True)
class ProductionSpec:
    """What a manufacturer declares when a battery is made (one CSV/JSON row, one API body)."""

    code: str
    rated_capacity_ah: float
    nominal_voltage_v: float
    energy_kwh: float
    mass_kg: float
    level: str | None = None
    chemistry: str | None = None
    production_date: date | None = None
    components: tuple[str, ...] = field(default_factory=tuple)
    occurred_at: datetime | None = None
    request_id: str | None = None


def production_record(battery: Battery) -> dict[str, Any]:
    """The facts of a ``Produced`` event that make two productions the same production."""
    return {
        "code": battery.code,
        "manufacturer_id": battery.manufacturer_id,
        "level": battery.level,
        "battery_type": battery.battery_type,
        "rated_capacity_ah": battery.rated_capacity_ah,
        "nominal_voltage_v": battery.nominal_voltage_v,
        "energy_kwh": battery.energy_kwh,
        "mass_kg": battery.mass_kg,
        "production_date": battery.production_date,
        "components": list(battery.components),
        "derived_from": list(battery.derived_from),
    }


class Battery(VehicleChanges, TraceAggregate):
    """A pack, module or cell, or a second-life product made from retired ones. Its swap and
    scrap commands are in ``battery_vehicles.py`` (``VehicleChanges``), their events here."""

    @staticmethod
    def create_id(code: str, **_: object) -> str:
        return code

    # ------------------------------------------------------------------------------- produce
    @classmethod
    def produce(
        cls,
        spec: ProductionSpec,
        *,
        actor: Participant,
        code_owner_id: str | None,
        components: Iterable[Battery] = (),
        originals: Iterable[Battery] = (),
        today: date | None = None,
        second_life: bool = False,
    ) -> Battery:
        """Record a new battery made by ``actor``.

        ``code_owner_id`` is the participant that owns the code's manufacturer code (looked up by
        the application); ``components`` are the already-recorded modules or cells built into a
        pack, ``originals`` the retired batteries a second-life product is made from. Both get
        their side of the link by the caller saving them in the same transaction. ``second_life``
        says that a product's originals are linked by the caller instead (to compare a replayed
        product with the stored one, whose originals are no longer available).
        """
        parsed = parse_battery_code(spec.code, today=today)
        originals = list(originals)
        components = list(components)
        if originals or second_life:
            actor.require_role(Role.CASCADE_USER, to="make a second-life product")
        else:
            actor.require_role(Role.MANUFACTURER, Role.CASCADE_USER, to="record the production of a battery")
        if code_owner_id != actor.id or parsed.manufacturer_code not in actor.manufacturer_codes:
            raise NotAuthorised(
                f"{actor.name} ({actor.id}) cannot produce {parsed.code}: manufacturer code "
                f"{parsed.manufacturer_code} is not one of yours; you own "
                f"{', '.join(actor.manufacturer_codes) or 'no manufacturer code'} (a regulator "
                "assigns manufacturer codes)",
                detail=f"manufacturer code {parsed.manufacturer_code} belongs to "
                f"{code_owner_id or 'nobody registered'}",
            )
        if not (originals or second_life or actor.has_role(Role.MANUFACTURER)):
            # A second-life product exists only through the retired batteries it is made from;
            # one recorded without them would be a battery from nowhere.
            raise NotAuthorised(
                "a cascade-use enterprise records a second-life product together with the retired "
                "batteries it is made from: use cascade reuse (POST /api/v1/batteries/{original}/"
                "cascade-reuse, or 'batterytrace cascade-reuse'), naming at least one original"
            )
        _check_declared_matches_code(spec, parsed)
        capacity = require_measurement("rated_capacity_ah", spec.rated_capacity_ah)
        voltage = require_measurement("nominal_voltage_v", spec.nominal_voltage_v)
        energy = require_measurement("energy_kwh", spec.energy_kwh)
        mass = require_measurement("mass_kg", spec.mass_kg)
        expected_energy = capacity * voltage / 1000
        if abs(energy - expected_energy) > ENERGY_TOLERANCE * expected_energy:
            raise InvalidInput(
                f"energy_kwh {energy:g} does not match rated capacity × nominal voltage = "
                f"{capacity:g} Ah × {voltage:g} V = {expected_energy:.3f} kWh (within "
                f"{ENERGY_TOLERANCE:.0%}); check the units (Ah, V, kWh)"
            )
        _check_components(parsed, components)
        for original in originals:
            original.require_can(Action.CASCADE_REUSE)
            original.require_held_by(actor, Action.CASCADE_REUSE)
            if original.code == parsed.code:
                raise InvalidInput("a second-life product needs a new code of its own")
        occurred_at = as_aware(spec.occurred_at) if spec.occurred_at else _start_of(parsed)
        for linked in (*components, *originals):
            if linked.last_occurred_at.astimezone(CHINA_STANDARD_TIME).date() > parsed.production_date:
                raise ChronologyViolation(
                    f"{parsed.code} is dated {parsed.production_date} but {linked.code}, which it is "
                    f"made from, had an event as late as {linked.last_occurred_at.isoformat()}; "
                    "a battery cannot be made before its parts were available"
                )
        if occurred_at.astimezone(CHINA_STANDARD_TIME).date() != parsed.production_date:
            raise InvalidInput(
                f"production time {occurred_at.isoformat()} is not on the code's production "
                f"date {parsed.production_date.isoformat()} (China Standard Time)"
            )
        return cls(
            code=parsed.code,
            manufacturer_id=actor.id,
            manufacturer_code=parsed.manufacturer_code,
            level=parsed.level,
            battery_type=parsed.battery_type,
            rated_capacity_ah=capacity,
            nominal_voltage_v=voltage,
            energy_kwh=energy,
            mass_kg=mass,
            production_date=parsed.production_date.isoformat(),
            components=[c.code for c in components],
            derived_from=[o.code for o in originals],
            actor_id=actor.id,
            occurred_at=occurred_at,
            request_id=spec.request_id,
        )

    @event("Produced")
    def __init__(
        self,
        *,
        code: str,
        manufacturer_id: str,
        manufacturer_code: str,
        level: str,
        battery_type: str,
        rated_capacity_ah: float,
        nominal_voltage_v: float,
        energy_kwh: float,
        mass_kg: float,
        production_date: str,
        components: list[str],
        derived_from: list[str],
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
    ) -> None:
        self.code = code
        self.manufacturer_id = manufacturer_id
        self.manufacturer_code = manufacturer_code
        self.level = level
        self.battery_type = battery_type
        self.rated_capacity_ah = rated_capacity_ah
        self.nominal_voltage_v = nominal_voltage_v
        self.energy_kwh = energy_kwh
        self.mass_kg = mass_kg
        self.production_date = production_date
        self.components = list(components)
        self.derived_from = list(derived_from)
        self.holder_kind: str | None = None
        self.holder_id: str | None = None
        self.responsible_id: str | None = None
        self._follow(Battery.Produced, manufacturer_id=manufacturer_id)
        self.pack: str | None = None
        self.second_life_product: str | None = None
        self.vin: str | None = None
        self.collection_point_id: str | None = None
        self.flags: list[str] = []
        self.handover_activity: str | None = None
        self.weighed_kg: float | None = None
        self.request_ids: dict[tuple[str, str], str] = {}  # (actor, request id) -> action
        # Who may see the vehicle's VIN: disclosure.disclosure_for's rule, kept as events apply so
        # that a write's answer needs no history read.
        self.vin_known_to: set[str] = {manufacturer_id}
        self.produced_at = occurred_at
        self._happened(occurred_at, request_id, actor_id=actor_id)

    # ----------------------------------------------------------------------------- queries
    @property
    def chemistry(self) -> str:
        return BATTERY_TYPES[self.battery_type]

    @property
    def is_second_life(self) -> bool:
        return bool(self.derived_from)

    def require_can(self, action: Action) -> None:
        if action not in ALLOWED[self.state]:
            dead_end = DEAD_ENDS.get(self.state)
            instead = {State.ASSEMBLED: self.pack, State.CASCADE_REUSED: self.second_life_product}
            if dead_end and instead.get(self.state):
                dead_end = f"{dead_end}: {instead[self.state]}"
            raise LifecycleViolation(
                self.code,
                str(self.state),
                str(action),
                dead_end or allowed_actions(self.state),
                why=_DEAD_END_REASONS.get(self.state) if dead_end else None,
            )

    def require_held_by(self, actor: Participant, action: Action) -> None:
        """Only the holder acts on a battery. The refusal tells the caller only that it is not
        the holder: who is (an enterprise, a vehicle's VIN) is not the caller's to know."""
        if actor.id != self.responsible_id and self.last_act == (actor.id, action.value):
            # It held the battery and just did this very thing (two identical requests, the
            # second one late): a conflict to read again, not a refusal of its rights.
            raise LifecycleViolation(
                self.code,
                str(self.state),
                str(action),
                f"you have just done so with another request, so it is no longer yours to {action}; "
                "read it again",
                why="just_done",
            )
        if actor.id != self.responsible_id:
            raise NotAuthorised(
                f"{actor.name} ({actor.id}) cannot {action} battery {self.code}: you do not hold it; "
                "only the enterprise holding a battery may do that",
                detail=f"held by {self.responsible_id} ({self.holder_kind} {self.holder_id})",
                key="battery.not_holder",
                params={"code": self.code, "action": str(action)},
            )

    def require_handed_over_for(self, activity: Activity, action: Action) -> None:
        """A battery received for one activity is not silently used for the other: the
        whitelist the regulator checked at the handover was the one for that activity."""
        if self.handover_activity != activity.value:
            raise LifecycleViolation(
                self.code,
                str(self.state),
                str(action),
                f"it was handed over for {self.handover_activity}; hand it over again for "
                f"{activity.value} first",
                why="other_activity",
            )

    def has_seen(self, actor: Participant, request_id: str | None, action: Action) -> bool:
        """True when this actor already sent this request: the retry is answered, not re-recorded.
        Request ids are the client's own, so they are kept per actor: another participant that
        sends the same id is a new request, authorised like any other (a replay never skips the
        rules, and never tells a stranger that the id exists). An actor reusing its own id for a
        different action is a client bug, refused rather than hidden."""
        if request_id is None or (actor.id, request_id) not in self.request_ids:
            return False
        done = self.request_ids[(actor.id, request_id)]
        if done != action.value:
            raise InvalidInput(
                f"request id {request_id!r} was already used to {done} battery {self.code}; use a new "
                "request id for each action"
            )
        return True

    def _check_when(self, action: Action, occurred_at: datetime, late_correction: bool) -> datetime:
        moment = as_aware(occurred_at)
        if moment < self.produced_at:
            raise ChronologyViolation(
                f"cannot {action} battery {self.code} at {moment.isoformat()}: that is before it was "
                f"produced at {self.produced_at.isoformat()}, even as a late correction; fix the date"
            )
        if moment < self.last_occurred_at and not late_correction:
            raise ChronologyViolation(
                f"cannot {action} battery {self.code} at {moment.isoformat()}: that is before its "
                f"previous event at {self.last_occurred_at.isoformat()}; fix the date, or flag "
                "the report as a late correction if the real-world order really was so"
            )
        return moment

    def _happened(
        self,
        occurred_at: datetime,
        request_id: str | None,
        action: str = "produce",
        *,
        actor_id: str,
    ) -> None:
        previous = getattr(self, "last_occurred_at", None)
        self.last_occurred_at = occurred_at if previous is None else max(previous, occurred_at)
        self.last_act = (actor_id, action)
        if request_id:
            self.request_ids[(actor_id, request_id)] = action

    # ---------------------------------------------------------------------------- assemble
    def assemble_into(self, pack: Battery) -> None:
        """Link this module or cell to the pack it was built into (saved with the pack)."""
        self.require_can(Action.ASSEMBLE)
        self._assembled_into(
            pack_code=pack.code,
            actor_id=pack.manufacturer_id,
            occurred_at=max(pack.last_occurred_at, self.last_occurred_at),
            request_id=None,
            late_correction=False,
        )

    @event("AssembledInto")
    def _assembled_into(
        self,
        pack_code: str,
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
        late_correction: bool,
    ) -> None:
        self._follow(Battery.AssembledInto, pack_code=pack_code)
        self.pack = pack_code
        self._happened(occurred_at, request_id, Action.ASSEMBLE.value, actor_id=actor_id)

    def _leave_vehicle(self, actor_id: str) -> None:
        if self.holder_kind == HolderKind.VEHICLE:
            self.vin_known_to.add(actor_id)  # whoever takes it out of the vehicle had the vehicle

    @property
    def custody(self) -> Custody:
        return Custody(self.holder_kind, self.holder_id, self.responsible_id)

    def _follow(self, event_class: type, **facts: Any) -> None:
        """State and holder after one of this battery's events, as ``custody.CONSEQUENCES`` has
        them for the views too (each event method passes the facts its consequence reads)."""
        consequence = consequence_of(event_class)
        holder = consequence.holder(facts, self.custody)
        self.state = consequence.state
        self.holder_kind, self.holder_id, self.responsible_id = holder

    # ----------------------------------------------------------------------------- deliver
    def deliver(
        self,
        *,
        actor: Participant,
        receiver: Participant,
        occurred_at: datetime,
        request_id: str | None = None,
        late_correction: bool = False,
    ) -> None:
        """The manufacturer (or whoever holds a new battery) delivers it to a vehicle maker, or to
        a swap operator (how batteries enter a swap pool).

        Custody passes only with this record: a vehicle maker installs a battery delivered to it,
        or one it made itself, never any battery whose code it happens to know; a swap operator
        swaps in only batteries delivered to it or in its stock. The battery stays ``produced``
        (new, not yet in use); its holder changes."""
        if self.has_seen(actor, request_id, Action.DELIVER):
            return
        self.require_can(Action.DELIVER)
        self.require_held_by(actor, Action.DELIVER)
        receiver.require_role(Role.VEHICLE_MAKER, Role.SWAP_OPERATOR, to="receive new batteries for vehicles")
        if receiver.id == actor.id:
            raise InvalidInput("a delivery needs a receiver other than the current holder")
        moment = self._check_when(Action.DELIVER, occurred_at, late_correction)
        self._delivered(
            receiver_id=receiver.id,
            actor_id=actor.id,
            occurred_at=moment,
            request_id=request_id,
            late_correction=late_correction,
        )

    @event("Delivered")
    def _delivered(
        self,
        receiver_id: str,
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
        late_correction: bool,
    ) -> None:
        self._follow(Battery.Delivered, receiver_id=receiver_id)
        self._happened(occurred_at, request_id, Action.DELIVER.value, actor_id=actor_id)

    # ----------------------------------------------------------------------------- install
    def install(
        self,
        *,
        actor: Participant,
        occurred_at: datetime,
        vin: str | None = None,
        site: str | None = None,
        application: str | None = None,
        request_id: str | None = None,
        late_correction: bool = False,
    ) -> None:
        """Install into a vehicle (VIN, by a vehicle maker) or, for a second-life product, at a
        site (energy storage, base-station backup …, by the product's maker)."""
        if self.has_seen(actor, request_id, Action.INSTALL):
            return
        self.require_can(Action.INSTALL)
        if bool(vin) == bool(site):
            raise InvalidInput("give either a VIN (vehicle) or a site (second-life use), not both")
        if vin:
            actor.require_role(Role.VEHICLE_MAKER, to="install a battery in a vehicle")
            vin = parse_vin(vin)
        if actor.id != self.responsible_id and self.state == State.PRODUCED and vin:
            raise NotAuthorised(
                f"{actor.name} ({actor.id}) cannot install battery {self.code}: it has not been "
                "delivered to you; its manufacturer records the delivery first (deliver)",
                detail=f"held by {self.responsible_id} ({self.holder_kind} {self.holder_id})",
            )
        self.require_held_by(actor, Action.INSTALL)
        moment = self._check_when(Action.INSTALL, occurred_at, late_correction)
        self._installed(
            vin=vin,
            site=site.strip() if site else None,
            application=application,
            actor_id=actor.id,
            occurred_at=moment,
            request_id=request_id,
            late_correction=late_correction,
        )

    @event("Installed")
    def _installed(
        self,
        vin: str | None,
        site: str | None,
        application: str | None,
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
        late_correction: bool,
    ) -> None:
        self._follow(Battery.Installed, vin=vin, site=site, actor_id=actor_id)
        self.vin = vin
        if vin:
            self.vin_known_to.add(actor_id)
        self._happened(occurred_at, request_id, Action.INSTALL.value, actor_id=actor_id)

    # ------------------------------------------------------------------------------ remove
    def remove(
        self,
        *,
        actor: Participant,
        occurred_at: datetime,
        reason: str,
        request_id: str | None = None,
        late_correction: bool = False,
    ) -> None:
        """Take the battery out for repair or replacement; it may be reinstalled later."""
        if self.has_seen(actor, request_id, Action.REMOVE):
            return
        self.require_can(Action.REMOVE)
        self.require_held_by(actor, Action.REMOVE)
        if reason not in ("repair", "replacement"):
            raise InvalidInput(f"removal reason {reason!r} must be repair or replacement")
        moment = self._check_when(Action.REMOVE, occurred_at, late_correction)
        self._removed(
            reason=reason,
            actor_id=actor.id,
            occurred_at=moment,
            request_id=request_id,
            late_correction=late_correction,
        )

    @event("Removed")
    def _removed(
        self,
        reason: str,
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
        late_correction: bool,
    ) -> None:
        self._leave_vehicle(actor_id)
        self._follow(Battery.Removed, actor_id=actor_id)
        self._happened(occurred_at, request_id, Action.REMOVE.value, actor_id=actor_id)

    # ------------------------------------------------------- swap and scrap (battery_vehicles.py)
    @event("SwappedOut")
    def _swapped_out(
        self,
        vin: str,
        station: str,
        division_code: str,
        operator_id: str,
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
        late_correction: bool,
    ) -> None:
        self._leave_vehicle(actor_id)
        self._follow(Battery.SwappedOut, station=station, operator_id=operator_id)
        self._happened(occurred_at, request_id, Action.SWAP_OUT.value, actor_id=actor_id)

    @event("SwappedIn")
    def _swapped_in(
        self,
        vin: str,
        station: str,
        division_code: str,
        operator_id: str,
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
        late_correction: bool,
    ) -> None:
        self._follow(Battery.SwappedIn, vin=vin, operator_id=operator_id)
        self.vin = vin
        self.vin_known_to.add(operator_id)
        self._happened(occurred_at, request_id, Action.SWAP_IN.value, actor_id=actor_id)

    @event("VehicleScrapped")
    def _vehicle_scrapped(
        self,
        vin: str,
        dismantler_id: str,
        scrapped_on: str,
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
        late_correction: bool,
    ) -> None:
        self._follow(Battery.VehicleScrapped, vin=vin, dismantler_id=dismantler_id)
        self.vin_known_to.add(dismantler_id)  # the dismantler has the vehicle
        self._happened(occurred_at, request_id, Action.SCRAP_WITH_VEHICLE.value, actor_id=actor_id)

    # ------------------------------------------------------------------------------ retire
    def retire(
        self,
        *,
        actor: Participant,
        occurred_at: datetime,
        reason: str,
        state_of_health_pct: float | None = None,
        request_id: str | None = None,
        late_correction: bool = False,
    ) -> None:
        """End the battery's (first or second) life, by its holder: for a battery in a scrapped
        vehicle, the dismantler that took the vehicle in (``scrap_vehicle``)."""
        if self.has_seen(actor, request_id, Action.RETIRE):
            return
        self.require_can(Action.RETIRE)
        if (
            actor.has_role(Role.DISMANTLER)
            and self.state == State.INSTALLED
            and actor.id != self.responsible_id
        ):
            # Custody of an installed battery passes to a dismantler only with its vehicle's
            # scrapping record; retirements recorded before that record existed were flagged
            # (``custody_unverified``) and still read so.
            raise NotAuthorised(
                f"{actor.name} ({actor.id}) cannot retire battery {self.code} from a vehicle whose "
                "scrapping is not recorded: record the vehicle's scrapping first (batterytrace "
                "scrap / POST /api/v1/scrappings), naming its VIN and this battery",
                detail=f"held by {self.responsible_id} ({self.holder_kind} {self.holder_id})",
                key="battery.scrapping_not_recorded",
                params={"code": self.code},
            )
        self.require_held_by(actor, Action.RETIRE)
        if not reason.strip():
            raise InvalidInput("give a retirement reason, e.g. 'capacity below 80%'")
        if state_of_health_pct is not None and not 0 <= float(state_of_health_pct) <= 100:
            raise InvalidInput(f"state of health {state_of_health_pct}% must be 0-100")
        moment = self._check_when(Action.RETIRE, occurred_at, late_correction)
        self._retired(
            reason=reason.strip(),
            state_of_health_pct=(None if state_of_health_pct is None else float(state_of_health_pct)),
            actor_id=actor.id,
            occurred_at=moment,
            request_id=request_id,
            late_correction=late_correction,
        )

    @event("Retired")
    def _retired(
        self,
        reason: str,
        state_of_health_pct: float | None,
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
        late_correction: bool,
        custody_unverified: bool = False,  # True only in events recorded before scrapping records
    ) -> None:
        self._leave_vehicle(actor_id)
        self._follow(Battery.Retired, actor_id=actor_id)
        self.retired_at = occurred_at
        if custody_unverified:
            self.flags.append(FLAG_CUSTODY_UNVERIFIED)
        self._happened(occurred_at, request_id, Action.RETIRE.value, actor_id=actor_id)

    # ----------------------------------------------------------------------------- collect
    def collect(
        self,
        *,
        actor: Participant,
        collection_point: CollectionPoint,
        occurred_at: datetime,
        mass_kg: float | None = None,
        condition: str = "intact",
        source_vin: str | None = None,
        scanned_by: str | None = None,
        request_id: str | None = None,
        late_correction: bool = False,
    ) -> None:
        """Take the battery in at a collection point; only its operator may record that."""
        if self.has_seen(actor, request_id, Action.COLLECT):
            return
        self.require_can(Action.COLLECT)
        collection_point.require_operator(actor)
        if self.state == State.HANDED_OVER:
            self.require_held_by(actor, Action.COLLECT)  # a receiver's own intake point only
        moment = self._check_when(Action.COLLECT, occurred_at, late_correction)
        self._collected(
            collection_point_id=collection_point.id,
            operator_id=actor.id,
            mass_kg=require_measurement("mass_kg", mass_kg if mass_kg is not None else self.mass_kg),
            energy_kwh=self.energy_kwh,
            condition=condition.strip() or "intact",
            # Only what the outlet saw: the record's VIN is not the outlet's to learn (disclosure.py).
            source_vin=parse_vin(source_vin) if source_vin else None,
            scanned_by=scanned_by,
            actor_id=actor.id,
            occurred_at=moment,
            request_id=request_id,
            late_correction=late_correction,
        )

    @event("Collected")
    def _collected(
        self,
        collection_point_id: str,
        operator_id: str,
        mass_kg: float,
        energy_kwh: float,
        condition: str,
        source_vin: str | None,
        scanned_by: str | None,
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
        late_correction: bool,
    ) -> None:
        self._follow(Battery.Collected, collection_point_id=collection_point_id, operator_id=operator_id)
        self.collection_point_id = collection_point_id
        self.weighed_kg = mass_kg
        self._happened(occurred_at, request_id, Action.COLLECT.value, actor_id=actor_id)

    # ---------------------------------------------------------------------------- hand over
    def hand_over(
        self,
        *,
        actor: Participant,
        receiver: Participant,
        activity: Activity,
        occurred_at: datetime,
        request_id: str | None = None,
        late_correction: bool = False,
    ) -> None:
        """Pass the battery from its holder (an outlet, a dismantler …) to a recycler or
        cascade-use enterprise. A receiver not whitelisted for the activity on that date is
        recorded all the same, flagged non-compliant, so that the regulator sees it."""
        if self.has_seen(actor, request_id, Action.HAND_OVER):
            return
        self.require_can(Action.HAND_OVER)
        self.require_held_by(actor, Action.HAND_OVER)
        receiver.require_role(ROLE_FOR_ACTIVITY[activity], to=f"receive batteries for {activity}")
        if receiver.id == actor.id:
            raise InvalidInput("a handover needs a receiver other than the current holder")
        moment = self._check_when(Action.HAND_OVER, occurred_at, late_correction)
        day = moment.astimezone(CHINA_STANDARD_TIME).date()
        compliant = receiver.is_whitelisted(activity, day)
        self._handed_over(
            receiver_id=receiver.id,
            mass_kg=self.weighed_kg if self.state == State.COLLECTED else self.mass_kg,
            energy_kwh=self.energy_kwh,
            activity=activity.value,
            from_collection_point_id=(self.collection_point_id if self.state == State.COLLECTED else None),
            compliant=compliant,
            non_compliance=(
                None
                if compliant
                else f"{receiver.name} ({receiver.id}) is not whitelisted for {activity} on {day}"
            ),
            actor_id=actor.id,
            occurred_at=moment,
            request_id=request_id,
            late_correction=late_correction,
        )

    @event("HandedOver")
    def _handed_over(
        self,
        receiver_id: str,
        mass_kg: float,
        energy_kwh: float,
        activity: str,
        from_collection_point_id: str | None,
        compliant: bool,
        non_compliance: str | None,
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
        late_correction: bool,
    ) -> None:
        self._follow(Battery.HandedOver, receiver_id=receiver_id)
        self.collection_point_id = None
        self.handover_activity = activity
        if not compliant:
            self.flags.append(FLAG_NON_COMPLIANT)
        self._happened(occurred_at, request_id, Action.HAND_OVER.value, actor_id=actor_id)

    # ------------------------------------------------------------------------ cascade reuse
    def cascade_reuse(self, product: Battery, *, actor: Participant) -> None:
        """Link this retired battery to the second-life product made from it (saved with it)."""
        self.require_can(Action.CASCADE_REUSE)
        self.require_held_by(actor, Action.CASCADE_REUSE)
        self.require_handed_over_for(Activity.CASCADE_USE, Action.CASCADE_REUSE)
        self._cascade_reused(
            product_code=product.code,
            enterprise_id=actor.id,
            actor_id=actor.id,
            occurred_at=max(product.last_occurred_at, self.last_occurred_at),
            request_id=None,
            late_correction=False,
        )

    @event("CascadeReused")
    def _cascade_reused(
        self,
        product_code: str,
        enterprise_id: str,
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
        late_correction: bool,
    ) -> None:
        self._follow(Battery.CascadeReused, product_code=product_code, enterprise_id=enterprise_id)
        self.second_life_product = product_code
        self._happened(occurred_at, request_id, Action.CASCADE_REUSE.value, actor_id=actor_id)

    # ------------------------------------------------------------------------------ recycle
    def recycle(
        self,
        *,
        actor: Participant,
        occurred_at: datetime,
        recovered_kg: dict[str, float],
        request_id: str | None = None,
        late_correction: bool = False,
    ) -> None:
        """Record material recovery by the recycler holding the battery; Li, Ni, Co and Mn
        masses are required (0 where the chemistry has none, e.g. Co in LFP)."""
        if self.has_seen(actor, request_id, Action.RECYCLE):
            return
        self.require_can(Action.RECYCLE)
        actor.require_role(Role.RECYCLER, to="recycle a battery")
        self.require_held_by(actor, Action.RECYCLE)
        self.require_handed_over_for(Activity.RECYCLING, Action.RECYCLE)
        materials = _check_recovered(recovered_kg, self.mass_kg)
        moment = self._check_when(Action.RECYCLE, occurred_at, late_correction)
        self._recycled(
            recycler_id=actor.id,
            recovered_kg=materials,
            actor_id=actor.id,
            occurred_at=moment,
            request_id=request_id,
            late_correction=late_correction,
        )

    @event("Recycled")
    def _recycled(
        self,
        recycler_id: str,
        recovered_kg: dict[str, float],
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
        late_correction: bool,
    ) -> None:
        self._follow(Battery.Recycled)
        self.recovered_kg = dict(recovered_kg)
        self._happened(occurred_at, request_id, Action.RECYCLE.value, actor_id=actor_id)


def _start_of(parsed: BatteryCode) -> datetime:
    return datetime.combine(parsed.production_date, time(0, 0), tzinfo=CHINA_STANDARD_TIME)


def _check_declared_matches_code(spec: ProductionSpec, parsed: BatteryCode) -> None:
    """Level, chemistry and date are in the code; a declared value that differs is a data error."""
    if spec.level and spec.level.strip().lower() != parsed.level:
        raise InvalidInput(
            f"level {spec.level!r} does not match code {parsed.code}, whose product type "
            f"{parsed.product_type} means {parsed.level}"
        )
    if spec.chemistry:
        declared = spec.chemistry.strip()
        letter = CHEMISTRY_ALIASES.get(declared.upper(), declared.upper())
        if letter != parsed.battery_type and declared.lower() != parsed.chemistry.lower():
            raise InvalidInput(
                f"chemistry {declared!r} does not match code {parsed.code}, whose battery type "
                f"{parsed.battery_type} means {parsed.chemistry}"
            )
    if spec.production_date and spec.production_date != parsed.production_date:
        raise InvalidInput(
            f"production date {spec.production_date} does not match code {parsed.code}, which "
            f"says {parsed.production_date}"
        )


def _check_components(parsed: BatteryCode, components: list[Battery]) -> None:
    seen: set[str] = set()
    for component in components:
        if component.code in seen:
            raise InvalidInput(f"component {component.code} is listed twice")
        seen.add(component.code)
        if LEVEL_RANK[component.level] >= LEVEL_RANK[parsed.level]:
            raise InvalidInput(
                f"a {parsed.level} cannot contain {component.code}, a {component.level}; packs "
                "contain modules or cells, modules contain cells"
            )
        component.require_can(Action.ASSEMBLE)


def _check_recovered(recovered_kg: dict[str, float], battery_mass_kg: float) -> dict[str, float]:
    missing = [m for m in REQUIRED_RECOVERED_MATERIALS if m not in recovered_kg]
    if missing:
        raise InvalidInput(
            f"recovered material masses must include {', '.join(REQUIRED_RECOVERED_MATERIALS)} "
            f"(kg; 0 where none); missing: {', '.join(missing)}"
        )
    materials: dict[str, float] = {}
    for name, mass in recovered_kg.items():
        try:
            value = float(mass)
        except (TypeError, ValueError):
            raise InvalidInput(f"recovered {name} must be a mass in kg, got {mass!r}") from None
        if not 0 <= value < float("inf"):
            raise InvalidInput(f"recovered {name} must be 0 kg or more, got {mass!r}")
        materials[name] = value
    if sum(materials.values()) > battery_mass_kg:
        raise InvalidInput(
            f"recovered materials weigh {sum(materials.values()):g} kg in all, more than the "
            f"battery itself ({battery_mass_kg:g} kg)"
        )
    return materials
