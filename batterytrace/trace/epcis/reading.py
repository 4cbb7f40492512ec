"""A partner's EPCIS event read back into a battery event's facts, by the same table that writes it.

The table (``events/epcis_mapping.py``) is read in reverse: the event type, action and business step
say which battery event it is, and each field is taken from the slot the table puts it in
(``parentID``, ``readPoint``, a party of ``sourceList``, a sensor report, ``ilmd``, an extension
``bt:…``). Whatever does not fit is refused with the reason, naming no more than the caller sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batterytrace.events.epcis_mapping import LEDGER_LEAF, MAPPING, OWN, EpcisEvent, IdKind, Link
from batterytrace.events.errors import InvalidInput
from batterytrace.trace.epcis.identifiers import Identifiers
from batterytrace.trace.production_rows import MAX_REQUEST_ID_LENGTH

# The battery events a captured EPCIS event may record, as the issue names them: production
# (commissioning), installing, removing, collecting, shipping (delivery or hand-over), destroying
# (recycling), and retiring; assembling only as the consequence of its pack's commissioning.
CAPTURED = ("Produced", "Delivered", "Installed", "Removed", "Retired", "Collected", "HandedOver", "Recycled")
_SWAP = "a swap is recorded as one command with its other battery: POST /api/v1/swaps"
NOT_CAPTURED = {
    "SwappedOut": _SWAP,
    "SwappedIn": _SWAP,
    "VehicleScrapped": "a vehicle's scrapping is recorded with all its batteries: POST /api/v1/scrappings",
    "CascadeReused": "a second-life product is recorded with its originals: "
    "POST /api/v1/batteries/{original}/cascade-reuse",
}


@dataclass(frozen=True)
class Read:
    """One EPCIS event read back: which battery event, of which battery, by whom, with what."""

    name: str
    code: str
    actor_id: str | None
    occurred_at: datetime
    late_correction: bool
    event_id: str | None
    facts: dict[str, Any]


class EventReader:
    """Reads EPCIS events written under the same public URL."""

    def __init__(self, ids: Identifiers) -> None:
        self.ids = ids

    def term(self, kind: str, value: Any) -> Any:
        """An own term's URI (or ``bt:`` form) as the table writes it (``bt:retiring``)."""
        prefix = f"{self.ids.vocabulary}{kind}/"
        if isinstance(value, str) and value.startswith(prefix):
            return OWN + value[len(prefix) :]
        return value

    def which(self, event: dict[str, Any]) -> str:
        """The battery event an EPCIS event is, by its type, action, bizStep and what it names."""
        step = self.term("bizStep", event.get("bizStep"))
        matches = [
            name
            for name, mapping in MAPPING.items()
            if (mapping.event_type, mapping.action, mapping.biz_step)
            == (event.get("type"), event.get("action"), step)
        ]
        if len(matches) > 1:  # told apart by what only one of them names
            if "readPoint" in event and {"Removed", "Installed"} & set(matches):
                matches = [m for m in matches if m.startswith("Swapped")]
            elif "readPoint" not in event:
                matches = [m for m in matches if not m.startswith("Swapped")]
            if {"Delivered", "HandedOver"} <= set(matches):
                matches = ["HandedOver" if "bt:activity" in event else "Delivered"]
        if not matches:
            raise InvalidInput(
                f"a {event.get('type')} {event.get('action') or ''} with bizStep {event.get('bizStep')!r} "
                "is no battery event this service records"
            )
        name = matches[0]
        if name in NOT_CAPTURED:
            raise InvalidInput(f"{name} is not captured from EPCIS: {NOT_CAPTURED[name]}")
        return name

    def read(self, event: dict[str, Any]) -> Read:
        if not isinstance(event, dict):
            raise InvalidInput("an event must be a JSON object")
        name = self.which(event)
        mapping = MAPPING[name]
        facts: dict[str, Any] = {}
        code = self._object(mapping, event, facts)
        self._parent(mapping, event, facts)
        if mapping.place and "readPoint" in event:
            facts[mapping.place.field] = self.ids.value(mapping.place.kind, _id(event["readPoint"]))
        for key, ends, slot in (
            ("sourceList", mapping.sources, "source"),
            ("destinationList", mapping.destinations, "destination"),
        ):
            given = {
                entry.get("type"): entry.get(slot) for entry in event.get(key, []) if isinstance(entry, dict)
            }
            for kind, link in ends:
                if link.field != "actor_id" and kind in given:
                    facts[link.field] = self.ids.value(link.kind, given[kind])
        self._sensors(mapping, event, facts)
        self._ilmd(mapping, event, facts)
        self._extensions(mapping, event, facts)
        actor = event.get("bt:actor")
        return Read(
            name=name,
            code=code,
            actor_id=self.ids.value(IdKind.PARTY, actor) if actor is not None else None,
            occurred_at=_time(event.get("eventTime")),
            late_correction=event.get("bt:late_correction") is True,
            event_id=_event_id(event.get("eventID")),
            facts=facts,
        )

    def _object(self, mapping: EpcisEvent, event: dict[str, Any], facts: dict[str, Any]) -> str:
        key = {"AssociationEvent": "childEPCs", "TransformationEvent": "inputEPCList"}.get(
            mapping.event_type, "epcList"
        )
        objects = event.get(key)
        if not isinstance(objects, list) or len(objects) != 1:
            raise InvalidInput(f"{key} must name exactly one battery ({self.ids.battery('{code}')})")
        if mapping.output:
            outputs = event.get("outputEPCList")
            if not isinstance(outputs, list) or len(outputs) != 1:
                raise InvalidInput("outputEPCList must name exactly one product")
            facts[mapping.output.field] = self.ids.value(IdKind.BATTERY, outputs[0])
        if mapping.output_quantities:
            facts[mapping.output_quantities] = {
                self._material(entry): _number(entry.get("quantity"), "quantity")
                for entry in event.get("outputQuantityList", [])
            }
        return self.ids.value(IdKind.BATTERY, objects[0])

    def _material(self, entry: Any) -> str:
        prefix = self.ids.material("")
        if not isinstance(entry, dict) or not str(entry.get("epcClass", "")).startswith(prefix):
            raise InvalidInput(f"an output quantity's epcClass must be a material {prefix}{{element}}")
        if entry.get("uom") != "KGM":
            raise InvalidInput("output quantities are masses in kilograms (uom KGM)")
        return str(entry["epcClass"])[len(prefix) :]

    def _parent(self, mapping: EpcisEvent, event: dict[str, Any], facts: dict[str, Any]) -> None:
        if not mapping.parent or mapping.parent[0].kind == IdKind.HOLDER_BEFORE:
            return
        parent = event.get("parentID")
        for link in mapping.parent:
            try:
                facts[link.field] = self.ids.value(link.kind, parent)
                return
            except InvalidInput:
                continue
        raise InvalidInput(f"parentID {parent!r} is no vehicle, site or pack of this service")

    def _sensors(self, mapping: EpcisEvent, event: dict[str, Any], facts: dict[str, Any]) -> None:
        reports = [
            report
            for element in event.get("sensorElementList", [])
            if isinstance(element, dict)
            for report in element.get("sensorReport", [])
            if isinstance(report, dict)
        ]
        for sensor in mapping.sensors:
            for report in reports:
                if (report.get("type"), report.get("uom")) == (sensor.measurement, sensor.uom):
                    facts[sensor.field] = _number(report.get("value"), sensor.measurement)

    def _ilmd(self, mapping: EpcisEvent, event: dict[str, Any], facts: dict[str, Any]) -> None:
        ilmd = event.get("ilmd") or {}
        for item in mapping.ilmd:
            name = item.field if isinstance(item, Link) else item
            if f"bt:{name}" not in ilmd:
                continue
            value = ilmd[f"bt:{name}"]
            if isinstance(item, Link):
                value = [self.ids.value(item.kind, uri) for uri in value or []]
            facts[name] = value

    def _extensions(self, mapping: EpcisEvent, event: dict[str, Any], facts: dict[str, Any]) -> None:
        linked = {link.field: link for link in mapping.linked_extensions}
        for key, value in event.items():
            # the ledger leaf is the sender's log's, not a fact: this store logs the event anew
            if not key.startswith("bt:") or key in ("bt:actor", "bt:late_correction", LEDGER_LEAF):
                continue
            name = key[3:]
            facts[name] = self.ids.value(linked[name].kind, value) if name in linked else value


def _id(slot: Any) -> Any:
    return slot.get("id") if isinstance(slot, dict) else None


def _event_id(value: Any) -> str | None:
    """The eventID, which becomes the command's request id: a string of a request id's length."""
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_REQUEST_ID_LENGTH:
        raise InvalidInput(f"eventID must be a URI of at most {MAX_REQUEST_ID_LENGTH} characters")
    return value


def _time(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"eventTime {value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"eventTime {value!r} needs its offset (EPCIS times carry one)")
    return moment


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a number, got {value!r}")
    return float(value)
