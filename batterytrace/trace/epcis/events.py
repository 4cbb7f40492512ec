"""One stored battery event as an EPCIS 2.0 event (JSON-LD), by the table in ``epcis_mapping.py``.

``eventTime`` is when it happened in the real world and ``recordTime`` when it was recorded (the
library's timestamp), so a late report stays visible as such; ``eventTimeZoneOffset`` is China
Standard Time's. Every field the table puts in no standard slot is an extension under the
service's prefix (``bt:reason``), so that capture can record the same event again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from batterytrace.events.custody import NOBODY, Custody, HolderKind
from batterytrace.events.disclosure import VIN_FIELDS
from batterytrace.events.epcis_mapping import (
    BOOKKEEPING,
    COMMON_FIELDS,
    OBJECT_FIELD,
    OWN,
    EpcisEvent,
    IdKind,
    Link,
    mapping_of,
)
from batterytrace.projections.event_data import plain
from batterytrace.trace.epcis.identifiers import Identifiers

TIME_ZONE_OFFSET = "+08:00"  # China Standard Time, the zone every event is reported in
MDA_NAME = "urn:epcglobal:cbv:mda#name"


@dataclass(frozen=True)
class Seen:
    """A stored battery event as one caller may read it: the holder before it (what a removal
    was taken out of) and whether the caller may know the vehicle's VIN."""

    event: Any
    before: Custody = NOBODY
    knows_vin: bool = True


@dataclass
class References:
    """The places and parties a document's events name, for its header's master data: kept
    as ids (a bounded set, whatever the number of events)."""

    points: set[str] = field(default_factory=set)
    parties: set[str] = field(default_factory=set)
    stations: dict[tuple[str, str], str] = field(default_factory=dict)  # (operator, label) -> division


def event_name(event: Any) -> str:
    return type(event).__name__


@cache
def _fact_names(event_class: type) -> tuple[str, ...]:
    skipped = {*BOOKKEEPING, *COMMON_FIELDS, OBJECT_FIELD}
    return tuple(f.name for f in dataclasses.fields(event_class) if f.name not in skipped)


def facts_of(event: Any) -> dict[str, Any]:
    """An event's own facts (every dataclass field but the bookkeeping and common ones)."""
    return {name: getattr(event, name) for name in _fact_names(type(event))}


class EventWriter:
    """Builds EPCIS events under one public URL, noting what the header must describe."""

    def __init__(self, ids: Identifiers) -> None:
        self.ids = ids
        self.references = References()
        self._own_terms: dict[tuple[str, str], str] = {}

    def link(self, link: Link, facts: Mapping[str, Any], seen: Seen, code: str) -> str | list[str] | None:
        """The URI (or URIs) one link names in this event, None when its field is empty."""
        if link.kind == IdKind.HOLDER_BEFORE:
            before = seen.before
            if before.holder_kind == HolderKind.VEHICLE:
                return self._vehicle(before.holder_id, seen, code)
            if before.holder_kind == HolderKind.SITE and before.holder_id:
                return self.ids.uri(IdKind.SITE, before.holder_id, holder=before.responsible_id)
            return None
        value = seen.event.actor_id if link.field == "actor_id" else facts.get(link.field)
        if value is None or value == []:
            return None
        if isinstance(value, list | tuple):
            return [self.ids.uri(link.kind, str(item)) for item in value]
        if link.kind == IdKind.VEHICLE:
            return self._vehicle(str(value), seen, code)
        if link.kind == IdKind.PARTY:
            self.references.parties.add(str(value))
        if link.kind == IdKind.POINT:
            self.references.points.add(str(value))
        if link.kind == IdKind.STATION:
            operator = str(facts.get("operator_id"))
            self.references.stations[(operator, str(value))] = str(facts.get("division_code"))
            return self.ids.uri(IdKind.STATION, str(value), holder=operator)
        holder = seen.event.actor_id if link.kind == IdKind.SITE else None
        return self.ids.uri(link.kind, str(value), holder=holder)

    def _vehicle(self, vin: str | None, seen: Seen, code: str) -> str:
        if vin and seen.knows_vin:
            return self.ids.vehicle(vin)
        return self.ids.undisclosed_vehicle(code)

    def term(self, kind: str, term: str | None) -> str | None:
        if term is None or not term.startswith(OWN):
            return term
        if (kind, term) not in self._own_terms:
            self._own_terms[(kind, term)] = self.ids.own(kind, term)
        return self._own_terms[(kind, term)]

    def event(self, seen: Seen) -> dict[str, Any]:
        """The EPCIS event of one stored battery event."""
        stored = seen.event
        mapping = mapping_of(event_name(stored))
        code = str(stored.originator_id)
        facts = facts_of(stored)
        battery = self.ids.battery(code)
        out: dict[str, Any] = {
            "type": mapping.event_type,
            "eventID": self.ids.event_id(code, stored.originator_version),
            "eventTime": plain(stored.occurred_at),
            "recordTime": plain(stored.timestamp),
            "eventTimeZoneOffset": TIME_ZONE_OFFSET,
        }
        out.update(self._objects(mapping, facts, seen, code, battery))
        if mapping.action:
            out["action"] = mapping.action
        out["bizStep"] = self.term("bizStep", mapping.biz_step)
        if mapping.disposition:
            out["disposition"] = self.term("disposition", mapping.disposition)
        if mapping.place and (place := self.link(mapping.place, facts, seen, code)):
            out["readPoint"] = {"id": place}
            out["bizLocation"] = {"id": place}
        for key, ends, name in (
            ("sourceList", mapping.sources, "source"),
            ("destinationList", mapping.destinations, "destination"),
        ):
            listed = [
                {"type": kind, name: uri}
                for kind, link in ends
                if (uri := self.link(link, facts, seen, code))
            ]
            if listed:
                out[key] = listed
        reports = [
            {"type": sensor.measurement, "value": facts[sensor.field], "uom": sensor.uom}
            for sensor in mapping.sensors
            if facts.get(sensor.field) is not None
        ]
        if reports:
            out["sensorElementList"] = [{"sensorReport": reports}]
        if mapping.ilmd:
            out["ilmd"] = self._ilmd(mapping, facts, seen, code)
        out.update(self._extensions(mapping, facts, seen, code))
        return out

    def _objects(
        self, mapping: EpcisEvent, facts: Mapping[str, Any], seen: Seen, code: str, battery: str
    ) -> dict[str, Any]:
        if mapping.event_type == "AssociationEvent":
            parent = next(
                (uri for link in mapping.parent if (uri := self.link(link, facts, seen, code))), None
            )
            return {"parentID": parent or self.ids.undisclosed_vehicle(code), "childEPCs": [battery]}
        if mapping.event_type == "TransformationEvent":
            objects: dict[str, Any] = {"inputEPCList": [battery]}
            if mapping.output and (product := self.link(mapping.output, facts, seen, code)):
                objects["outputEPCList"] = [product]
                objects["transformationID"] = product
            if mapping.output_quantities:
                objects["outputQuantityList"] = [
                    {"epcClass": self.ids.material(name), "quantity": kg, "uom": "KGM"}
                    for name, kg in sorted(facts[mapping.output_quantities].items())
                ]
            return objects
        return {"epcList": [battery]}

    def _ilmd(self, mapping: EpcisEvent, facts: Mapping[str, Any], seen: Seen, code: str) -> dict[str, Any]:
        ilmd: dict[str, Any] = {}
        for item in mapping.ilmd:
            if isinstance(item, Link):
                ilmd[f"bt:{item.field}"] = self.link(item, facts, seen, code) or []
            else:
                ilmd[f"bt:{item}"] = plain(facts[item])
        return ilmd

    def _extensions(
        self, mapping: EpcisEvent, facts: Mapping[str, Any], seen: Seen, code: str
    ) -> dict[str, Any]:
        stored = seen.event
        self.references.parties.add(stored.actor_id)
        extensions: dict[str, Any] = {"bt:actor": self.ids.uri(IdKind.PARTY, stored.actor_id)}
        if getattr(stored, "late_correction", False):
            extensions["bt:late_correction"] = True
        linked = {link.field: link for link in mapping.linked_extensions}
        for name, value in facts.items():
            if name in mapping.standard_fields or value is None:
                continue
            if name in VIN_FIELDS and not seen.knows_vin:
                continue
            if name in linked:
                value = self.link(linked[name], facts, seen, code)
            extensions[f"bt:{name}"] = plain(value)
        return extensions
