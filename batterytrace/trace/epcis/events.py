"""One stored battery event as an EPCIS 2.0 event (JSON-LD), by the table in ``epcis_mapping.py``.

``eventTime`` is when it happened in the real world and ``recordTime`` when it was recorded (the
library's timestamp), so a late report stays visible as such; ``eventTimeZoneOffset`` is China
Standard Time's. Every field the table puts in no standard slot is an extension under the
service's prefix (``bt:reason``), so that capture can record the same event again.

An event the ledger has logged names its leaf, last (``bt:ledgerLeaf``, see ``epcis_mapping.py``):
not a fact of the event (capture ignores it), the handle for asking the ledger for its evidence.

Built once per event of a whole store's export, so what every event of a type shares (its
mapping's terms, which facts are extensions) is worked out once per type and document, and the
values a fact can hold are converted on a fast path for the plain ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NamedTuple

from batterytrace.events.custody import NOBODY, Custody, HolderKind
from batterytrace.events.disclosure import VIN_FIELDS
from batterytrace.events.epcis_mapping import (
    BOOKKEEPING,
    COMMON_FIELDS,
    LEDGER_LEAF,
    OBJECT_FIELD,
    OWN,
    EpcisEvent,
    IdKind,
    Link,
    mapping_of,
)
from batterytrace.events.zone import CHINA_STANDARD_TIME, in_china_time
from batterytrace.projections.event_data import plain
from batterytrace.trace.epcis.identifiers import Identifiers
from batterytrace.trace.ledger.leaf_hashes import LoggedLeaf

TIME_ZONE_OFFSET = "+08:00"  # China Standard Time, the zone every event is reported in
MDA_NAME = "urn:epcglobal:cbv:mda#name"


class Seen(NamedTuple):
    """A stored battery event as one caller may read it: the holder before it (what a removal
    was taken out of) and whether the caller may know the vehicle's VIN. A named tuple, not a
    frozen dataclass: one is made per event of a whole store's export, at half the cost."""

    event: Any
    before: Custody = NOBODY
    knows_vin: bool = True
    leaf: LoggedLeaf | None = None  # its ledger leaf, once logged


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


_AS_THEY_ARE = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """``plain``, with the values most facts hold passed through at once."""
    return value if type(value) in _AS_THEY_ARE else plain(value)


def _time(moment: Any) -> str | None:
    """``plain`` of a datetime (the event's times, in China Standard Time with their offset)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return in_china_time(moment).isoformat()
    return moment.astimezone(CHINA_STANDARD_TIME).isoformat()


def ledger_leaf(leaf: LoggedLeaf) -> dict[str, Any]:
    """The value of ``bt:ledgerLeaf``: the leaf's index in the ledger's tree and its hash (hex)."""
    return {f"{OWN}index": leaf.index, f"{OWN}sha256": leaf.hash.hex()}


@dataclass(frozen=True)
class _Plan:
    """What every event of one type shares in a document: its mapping, facts and terms."""

    mapping: EpcisEvent
    fact_names: tuple[str, ...]
    biz_step: str | None
    disposition: str | None
    # the facts that are extensions: (fact, its key ``bt:fact``, its link if it names an id)
    extensions: tuple[tuple[str, str, Link | None], ...]


class EventWriter:
    """Builds EPCIS events under one public URL, noting what the header must describe."""

    def __init__(self, ids: Identifiers) -> None:
        self.ids = ids
        self.references = References()
        self._own_terms: dict[tuple[str, str], str] = {}
        self._plans: dict[type, _Plan] = {}

    def link(self, link: Link, facts: Mapping[str, Any], seen: Seen, code: str) -> str | list[str] | None:
        """The URI (or URIs) one link names in this event, None when its field is empty."""
        kind = link.kind
        if kind is IdKind.HOLDER_BEFORE:
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
            return [self.ids.uri(kind, str(item)) for item in value]
        if kind is IdKind.VEHICLE:
            return self._vehicle(str(value), seen, code)
        if kind is IdKind.PARTY:
            self.references.parties.add(str(value))
        elif kind is IdKind.POINT:
            self.references.points.add(str(value))
        elif kind is IdKind.STATION:
            operator = str(facts.get("operator_id"))
            self.references.stations[(operator, str(value))] = str(facts.get("division_code"))
            return self.ids.uri(IdKind.STATION, str(value), holder=operator)
        holder = seen.event.actor_id if kind is IdKind.SITE else None
        return self.ids.uri(kind, str(value), holder=holder)

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

    def _plan(self, event_class: type) -> _Plan:
        plan = self._plans.get(event_class)
        if plan is None:
            mapping = mapping_of(event_class.__name__)
            names = _fact_names(event_class)
            linked = {link.field: link for link in mapping.linked_extensions}
            plan = self._plans[event_class] = _Plan(
                mapping,
                names,
                self.term("bizStep", mapping.biz_step),
                self.term("disposition", mapping.disposition) if mapping.disposition else None,
                tuple(
                    (name, f"bt:{name}", linked.get(name))
                    for name in names
                    if name not in mapping.standard_fields
                ),
            )
        return plan

    def event(self, seen: Seen) -> dict[str, Any]:
        """The EPCIS event of one stored battery event."""
        stored = seen.event
        plan = self._plan(type(stored))
        mapping = plan.mapping
        code = str(stored.originator_id)
        facts = {name: getattr(stored, name) for name in plan.fact_names}
        battery = self.ids.battery(code)
        out: dict[str, Any] = {
            "type": mapping.event_type,
            "eventID": self.ids.event_id(code, stored.originator_version),
            "eventTime": _time(stored.occurred_at),
            "recordTime": _time(stored.timestamp),
            "eventTimeZoneOffset": TIME_ZONE_OFFSET,
        }
        out.update(self._objects(mapping, facts, seen, code, battery))
        if mapping.action:
            out["action"] = mapping.action
        out["bizStep"] = plan.biz_step
        if plan.disposition:
            out["disposition"] = plan.disposition
        if mapping.place and (place := self.link(mapping.place, facts, seen, code)):
            out["readPoint"] = {"id": place}
            out["bizLocation"] = {"id": place}
        if mapping.sources or mapping.destinations:
            self._parties(mapping, facts, seen, code, out)
        if mapping.sensors:
            reports = [
                {"type": sensor.measurement, "value": facts[sensor.field], "uom": sensor.uom}
                for sensor in mapping.sensors
                if facts.get(sensor.field) is not None
            ]
            if reports:
                out["sensorElementList"] = [{"sensorReport": reports}]
        if mapping.ilmd:
            out["ilmd"] = self._ilmd(mapping, facts, seen, code)
        out.update(self._extensions(plan, facts, seen, code))
        if seen.leaf is not None:
            out[LEDGER_LEAF] = ledger_leaf(seen.leaf)
        return out

    def _parties(
        self, mapping: EpcisEvent, facts: Mapping[str, Any], seen: Seen, code: str, out: dict[str, Any]
    ) -> None:
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
                ilmd[f"bt:{item}"] = _plain(facts[item])
        return ilmd

    def _extensions(self, plan: _Plan, facts: Mapping[str, Any], seen: Seen, code: str) -> dict[str, Any]:
        stored = seen.event
        self.references.parties.add(stored.actor_id)
        extensions: dict[str, Any] = {"bt:actor": self.ids.uri(IdKind.PARTY, stored.actor_id)}
        if getattr(stored, "late_correction", False):
            extensions["bt:late_correction"] = True
        for name, key, link in plan.extensions:
            value = facts[name]
            if value is None or (name in VIN_FIELDS and not seen.knows_vin):
                continue
            if link is not None:
                value = self.link(link, facts, seen, code)
            extensions[key] = _plain(value)
        return extensions
