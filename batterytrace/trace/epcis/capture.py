"""Capture: a partner's EPCIS 2.0 document recorded as the commands its events map back to.

All or nothing per document: every event is read, turned into its command and run against the
batteries as they stand in memory (a battery commissioned by event 0 is installed by event 1),
and only when every one was accepted is everything saved, in one transaction, in the document's
order. A refusal names the event's index and the reason, and nothing is recorded.

Each event is authorised as the same command would be: a participant posting a document acts
in every event itself (an event naming another actor in ``bt:actor`` is refused); the operator's
migration between stores (``caller=None``) acts as each event's ``bt:actor``, which must be given.
The EPCIS eventID becomes the command's request id, so that a document posted again records
nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from batterytrace.events.battery import Battery, ProductionSpec, production_record
from batterytrace.events.battery_code import parse_battery_code
from batterytrace.events.commands import (
    Collect,
    Command,
    Deliver,
    HandOver,
    Install,
    Recycle,
    Remove,
    Reporting,
    Retire,
)
from batterytrace.events.errors import AlreadyExists, DomainError, InvalidInput, NotAuthorised
from batterytrace.events.participant import Participant
from batterytrace.trace.battery_commands import Attempt, handler_for
from batterytrace.trace.epcis.identifiers import Identifiers
from batterytrace.trace.epcis.reading import EventReader, Read

MAX_EVENTS = 10_000  # events in one captured document (one transaction)


@dataclass
class Recorded:
    """The events a capture recorded, in the document's order: what ``BatteryTrace.commit``
    saves for an aggregate (it asks each for ``collect_events``)."""

    id: str = "EPCIS capture"
    pending: list[Any] = field(default_factory=list)

    def collect_events(self) -> list[Any]:
        events, self.pending = self.pending, []
        return events


def document_events(document: Any) -> list[Any]:
    """The event list of an EPCIS document; InvalidInput for anything else."""
    if not isinstance(document, dict) or document.get("type") != "EPCISDocument":
        raise InvalidInput('an EPCIS 2.0 document is a JSON object with "type": "EPCISDocument"')
    body = document.get("epcisBody")
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise InvalidInput("the document has no epcisBody.eventList")
    if len(events) > MAX_EVENTS:
        raise InvalidInput(f"a captured document holds at most {MAX_EVENTS} events; send it in parts")
    return events


class Capture:
    """One document's capture into ``app`` by ``caller`` (None: the operator, as recorded)."""

    def __init__(self, app: Any, caller: Participant | None) -> None:
        self.app = app
        self.caller = caller
        self.reader = EventReader(Identifiers(app.settings.public_url))
        self.batteries: dict[str, Battery] = {}
        self.actors: dict[str, Participant] = {}
        self.recorded = Recorded()

    def run(self, document: Any) -> Any:
        """Record every event of ``document`` or none; the write's ``WriteResult``."""
        for index, event in enumerate(document_events(document)):
            try:
                self._one(self.reader.read(event))
            except DomainError as refused:
                refused.message = f"event {index}: {refused.message}"
                refused.args = (refused.message,)
                raise
            except (TypeError, AttributeError, ValueError) as malformed:
                # A member of the wrong JSON type (a list where an object belongs, a number for a
                # reason): the partner's document is malformed, not the service broken.
                raise InvalidInput(f"event {index}: a member has the wrong type ({malformed})") from None
        return self.app.commit(self.recorded)  # one transaction, the document's order

    # ------------------------------------------------------------------------------ events
    def _actor(self, read: Read) -> Participant:
        if self.caller is not None:
            if read.actor_id not in (None, self.caller.id):
                raise NotAuthorised(
                    f"the event was done by {read.actor_id} (bt:actor); a participant captures only "
                    "its own events"
                )
            return self.caller
        if read.actor_id is None:
            raise InvalidInput("bt:actor is needed to record the event as it was done")
        if read.actor_id not in self.actors:
            self.actors[read.actor_id] = self.app.participant(read.actor_id)
        return self.actors[read.actor_id]

    def _battery(self, code: str) -> Battery:
        parsed = parse_battery_code(code, today=self.app.today()).code
        if parsed not in self.batteries:
            self.batteries[parsed] = self.app.battery(parsed)
        return self.batteries[parsed]

    def _keep(self, *batteries: Battery) -> None:
        for battery in batteries:
            self.recorded.pending.extend(battery.collect_events())

    def _one(self, read: Read) -> None:
        actor = self._actor(read)
        if read.name == "Produced":
            self._produce(read, actor)
        elif read.name == "AssembledInto":
            self._assembled(read)
        else:
            battery = self._battery(read.code)
            command = self._command(read, actor)
            attempt = Attempt(
                app=self.app,
                batteries=(battery,),
                actor=actor,
                occurred_at=self.app.when(read.occurred_at),
                request_id=read.event_id,
                late_correction=read.late_correction,
            )
            handler_for(command)(attempt, command)
            self._keep(battery)

    def _command(self, read: Read, actor: Participant) -> Command:
        facts = read.facts
        common: dict[str, Any] = {
            "actor_id": actor.id,
            "code": read.code,
            "reporting": Reporting(read.occurred_at, read.event_id, read.late_correction),
        }
        try:
            if read.name == "Delivered":
                return Deliver(**common, receiver_id=facts["receiver_id"])
            if read.name == "Installed":
                return Install(
                    **common,
                    vin=facts.get("vin"),
                    site=facts.get("site"),
                    application=facts.get("application"),
                )
            if read.name == "Removed":
                return Remove(**common, reason=facts["reason"])
            if read.name == "Retired":
                return Retire(
                    **common, reason=facts["reason"], state_of_health_pct=facts.get("state_of_health_pct")
                )
            if read.name == "Collected":
                return Collect(
                    **common,
                    collection_point_id=facts["collection_point_id"],
                    mass_kg=facts.get("mass_kg"),
                    condition=facts.get("condition") or "intact",
                    source_vin=facts.get("source_vin"),
                    scanned_by=facts.get("scanned_by"),
                )
            if read.name == "HandedOver":
                return HandOver(**common, receiver_id=facts["receiver_id"], activity=facts["activity"])
            if read.name == "Recycled":
                return Recycle(**common, recovered_kg=facts["recovered_kg"])
        except KeyError as missing:
            raise InvalidInput(
                f"a {read.name} event needs bt:{missing.args[0]} (or its EPCIS slot)"
            ) from None
        raise InvalidInput(f"{read.name} is not captured from EPCIS")

    def _produce(self, read: Read, actor: Participant) -> None:
        facts = read.facts
        if facts.get("derived_from"):
            raise InvalidInput(
                "a second-life product is recorded with its originals: POST /api/v1/batteries/"
                "{original}/cascade-reuse"
            )
        try:
            spec = ProductionSpec(
                code=read.code,
                rated_capacity_ah=facts["rated_capacity_ah"],
                nominal_voltage_v=facts["nominal_voltage_v"],
                energy_kwh=facts["energy_kwh"],
                mass_kg=facts["mass_kg"],
                level=facts.get("level"),
                chemistry=facts.get("battery_type"),
                production_date=parse_battery_code(read.code, today=self.app.today()).production_date,
                components=tuple(facts.get("components") or ()),
                occurred_at=self.app.when(read.occurred_at),
                request_id=read.event_id,
            )
        except KeyError as missing:
            raise InvalidInput(f"commissioning needs ilmd bt:{missing.args[0]}") from None
        parsed = parse_battery_code(read.code, today=self.app.today())
        if parsed.code in self.batteries or self.app.exists(parsed.code):
            self._already(spec, actor)
            return
        components = [self._battery(code) for code in spec.components]
        battery = Battery.produce(
            spec,
            actor=actor,
            code_owner_id=self.app.code_owner(parsed.manufacturer_code),
            components=components,
            today=self.app.today(),
        )
        for component in components:
            component.assemble_into(battery)
        self.batteries[battery.code] = battery
        self._keep(battery, *components)

    def _already(self, spec: ProductionSpec, actor: Participant) -> None:
        """A commissioning of a battery already recorded: the same production again (a document
        sent twice) records nothing; any other is a second battery claiming the code."""
        stored = self._battery(spec.code)
        again = Battery.produce(
            replace(spec, components=()),
            actor=actor,
            code_owner_id=self.app.code_owner(stored.manufacturer_code),
            today=self.app.today(),
        )
        again.components = list(spec.components)
        if production_record(again) != production_record(stored):
            raise AlreadyExists(f"battery {stored.code} is already recorded with different data")

    def _assembled(self, read: Read) -> None:
        """Assembling is recorded with its pack's commissioning (``ilmd`` ``bt:components``):
        accepted only as what that commissioning already recorded."""
        child = self._battery(read.code)
        if child.pack != read.facts.get("pack_code"):
            raise InvalidInput(
                "assembling is recorded with the pack's commissioning: list the part in its "
                "ilmd bt:components"
            )


def capture(app: Any, document: Any, *, caller: Participant | None) -> Any:
    """Record ``document``'s events as ``caller`` (None: the operator, each event by its
    ``bt:actor``), all or none; the ``WriteResult``."""
    return Capture(app, caller).run(document)
