"""One stored battery event as an EPCIS 2.0 event (JSON-LD), by the table in ``epcis_mapping.py``.

``eventTime`` is when it happened in the real world and ``recordTime`` when it was recorded (the
library's timestamp), so a late report stays visible as such; ``eventTimeZoneOffset`` is China
Standard Time's. Every field the table puts in no standard slot is an extension under the
service's prefix (``bt:reason``), so that capture can record the same event again.

An event the ledger has logged names its leaf, last (``bt:ledgerLeaf``, see ``epcis_mapping.py``):
not a fact of the event (capture ignores it), the handle for asking the ledger for its evidence.

Built once per event of a whole store's export, so what every event of a type shares (its
mapping's terms in their order, which facts are extensions, a function per link that resolves it)
is worked out once per type and document (``_Plan``), and the values a fact can hold are
converted on a fast path for the plain ones. The writer reads an event as its class, state, code
and version (``parts()``): of a domain event (``Seen``) its attributes, of an event read from the
log for an export (``stored.Logged``) its stored state, whose times are still their ISO texts
(``iso_in_china_time``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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

    def parts(self) -> tuple[type, Mapping[str, Any], str, int]:
        """What the writer reads of the event: its class, its state (the event's attributes),
        its battery's code and its version (``stored.Logged`` gives the same, unmade)."""
        event = self.event
        return type(event), vars(event), str(event.originator_id), event.originator_version


@dataclass
class References:
    """The places and parties a document's events name, for its header's master data: kept
    as ids (a bounded set, whatever the number of events)."""

    points: set[str] = field(default_factory=set)
    parties: set[str] = field(default_factory=set)
    stations: dict[tuple[str, str], str] = field(default_factory=dict)  # (operator, label) -> division

    def update(self, later: References) -> None:
        """Add what a later part of the document named (``whole_store.py``: a segment the other
        process wrote); a station's division is the last one named, as in one pass."""
        self.points |= later.points
        self.parties |= later.parties
        self.stations.update(later.stations)

    def clear(self) -> None:
        """Forget everything, in place (the writer's resolvers hold these very sets)."""
        self.points.clear()
        self.parties.clear()
        self.stations.clear()


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


_NEXT_DAYS: dict[str, str] = {}  # "2026-11-06" -> "2026-11-07", for the hours that cross midnight
_KNOWN_DAYS = 100_000  # bounded: about 270 years of days
_ISO_LENGTHS = (25, 32)  # isoformat() of an aware datetime, without and with microseconds
# a UTC hour's digits -> the same hour's in China Standard Time: that day's, or the next day's
_SAME_DAY = {f"{hour:02d}": f"{hour + 8:02d}" for hour in range(16)}
_NEXT_DAY = {f"{hour:02d}": f"{hour - 16:02d}" for hour in range(16, 24)}


def iso_in_china_time(text: str) -> str:
    """``_time(datetime.fromisoformat(text))`` for the ISO text of an aware datetime as the
    library stores it (``isoformat()``), without making the datetime: a whole store's export
    reads two per event. A text already at +08:00 reads as it is; one at +00:00 (the library's
    timestamps) moves by eight hours, which changes its hour (looked up, not parsed) and, past
    midnight, its date (the next day's date worked out once per day met). Anything else goes
    through ``datetime``."""
    if len(text) in _ISO_LENGTHS and text[13] == ":" and text[10] == "T":
        offset = text[-6:]
        if offset == "+08:00":
            return text
        if offset == "+00:00":
            hour = text[11:13]
            same_day = _SAME_DAY.get(hour)
            if same_day is not None:
                return f"{text[:11]}{same_day}{text[13:-6]}+08:00"
            if hour in _NEXT_DAY:
                return f"{_next_day(text[:10])}T{_NEXT_DAY[hour]}{text[13:-6]}+08:00"
    return _time(datetime.fromisoformat(text))


def _next_day(day: str) -> str:
    following = _NEXT_DAYS.get(day)
    if following is None:
        if len(_NEXT_DAYS) >= _KNOWN_DAYS:
            _NEXT_DAYS.clear()
        following = _NEXT_DAYS[day] = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    return following


_LEAF_INDEX, _LEAF_SHA256 = f"{OWN}index", f"{OWN}sha256"


def ledger_leaf(leaf: LoggedLeaf) -> dict[str, Any]:
    """The value of ``bt:ledgerLeaf``: the leaf's index in the ledger's tree and its hash (hex)."""
    return {_LEAF_INDEX: leaf.index, _LEAF_SHA256: leaf.hash.hex()}


_ASSOCIATION, _TRANSFORMATION = "AssociationEvent", "TransformationEvent"

# How one link of the mapping is resolved in an event: (facts, seen, code, actor) -> its URI(s).
Resolve = Callable[[Mapping[str, Any], Any, str, str], "str | list[str] | None"]


@dataclass(frozen=True, slots=True)
class _Plan:
    """What every event of one type shares in a document, worked out once per type so that an
    event's own work is reading its values: its mapping's terms in their order, the links it
    resolves (each as a function made for its kind) and which facts are extensions."""

    mapping: EpcisEvent
    fact_names: frozenset[str]
    # the class's values of facts an old event may lack (what ``getattr`` falls back to)
    defaults: Mapping[str, Any]
    terms: Mapping[str, Any]  # action, bizStep, disposition (those it has), in this order
    parents: tuple[Resolve, ...]
    output: Resolve | None
    place: Resolve | None
    parties: tuple[tuple[str, str, tuple[tuple[str, Resolve], ...]], ...]  # (list, member, ends)
    ilmd: tuple[tuple[str, str | None, Resolve | None], ...]  # (key, fact, link)
    # the facts that are extensions: (fact, its key ``bt:fact``, its link if it names an id,
    # whether it is a VIN a caller may not know)
    extensions: tuple[tuple[str, str, Resolve | None, bool], ...]
    late_default: Any  # what ``getattr(event, "late_correction", False)`` falls back to
    simple_objects: bool  # an ObjectEvent: its one object is the battery (``epcList``)

    def facts(self, state: Mapping[str, Any]) -> Mapping[str, Any]:
        """The event's facts: its state itself when it holds them all (a stored event's state is
        its attributes), else with the class's values for the ones an old event lacks."""
        if self.fact_names <= state.keys():
            return state
        return {**{name: self.defaults[name] for name in self.fact_names if name in self.defaults}, **state}


class EventWriter:
    """Builds EPCIS events under one public URL, noting what the header must describe."""

    def __init__(self, ids: Identifiers) -> None:
        self.ids = ids
        self.references = References()
        self._own_terms: dict[tuple[str, str], str] = {}
        self._plans: dict[type, _Plan] = {}
        self._resolvers: dict[Link, Resolve] = {}
        self._party_prefix = ids.uri(IdKind.PARTY, "")
        self._battery_prefix = ids.battery("")
        self._note_party = self.references.parties.add

    def link(
        self, link: Link, facts: Mapping[str, Any], seen: Any, code: str, actor: str
    ) -> str | list[str] | None:
        """The URI (or URIs) one link names in this event, None when its field is empty
        (``actor``: who did the event, as the event holds it)."""
        return self._resolver(link)(facts, seen, code, actor)

    def _resolver(self, link: Link) -> Resolve:
        resolve = self._resolvers.get(link)
        if resolve is None:
            resolve = self._resolvers[link] = self._make_resolver(link)
        return resolve

    def _make_resolver(self, link: Link) -> Resolve:
        """The function that resolves ``link`` in an event: what is the same for every event (its
        kind, its prefix, which references it notes) decided here, once."""
        kind, name, ids = link.kind, link.field, self.ids
        if kind is IdKind.HOLDER_BEFORE:
            return self._holder_before
        named = self._naming(kind)

        def resolve(facts: Mapping[str, Any], seen: Any, code: str, actor: str) -> str | list[str] | None:
            value = actor if name == "actor_id" else facts.get(name)
            if type(value) is str:  # nearly every value: the rest as before
                return named(value, facts, seen, code, actor)
            if value is None or value == []:
                return None
            if isinstance(value, list | tuple):
                return [ids.uri(kind, str(item)) for item in value]
            return named(str(value), facts, seen, code, actor)

        return resolve

    def _naming(self, kind: IdKind) -> Callable[[str, Mapping[str, Any], Any, str, str], str]:
        """The URI of one value of ``kind``, noting the places and parties the header describes."""
        ids, references = self.ids, self.references
        if kind is IdKind.VEHICLE:
            return lambda value, facts, seen, code, actor: self._vehicle(value, seen, code)
        if kind is IdKind.STATION:

            def station(value: str, facts: Mapping[str, Any], seen: Any, code: str, actor: str) -> str:
                operator = str(facts.get("operator_id"))
                references.stations[(operator, value)] = str(facts.get("division_code"))
                return ids.uri(IdKind.STATION, value, holder=operator)

            return station
        if kind is IdKind.SITE:
            return lambda value, facts, seen, code, actor: ids.uri(IdKind.SITE, value, holder=actor)
        prefix = ids.uri(kind, "")
        noted = {IdKind.PARTY: references.parties, IdKind.POINT: references.points}.get(kind)
        if noted is None:
            return lambda value, facts, seen, code, actor: f"{prefix}{value}"

        def noting(value: str, facts: Mapping[str, Any], seen: Any, code: str, actor: str) -> str:
            noted.add(value)
            return f"{prefix}{value}"

        return noting

    def _holder_before(self, facts: Mapping[str, Any], seen: Any, code: str, actor: str) -> str | None:
        before = seen.before
        if before.holder_kind == HolderKind.VEHICLE:
            return self._vehicle(before.holder_id, seen, code)
        if before.holder_kind == HolderKind.SITE and before.holder_id:
            return self.ids.uri(IdKind.SITE, before.holder_id, holder=before.responsible_id)
        return None

    def _vehicle(self, vin: str | None, seen: Any, code: str) -> str:
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
            plan = self._plans[event_class] = self._make_plan(event_class)
        return plan

    def _make_plan(self, event_class: type) -> _Plan:
        mapping = mapping_of(event_class.__name__)
        names = _fact_names(event_class)
        linked = {link.field: link for link in mapping.linked_extensions}
        missing = object()
        defaults = {name: getattr(event_class, name, missing) for name in names}
        terms: dict[str, Any] = {"action": mapping.action} if mapping.action else {}
        terms["bizStep"] = self.term("bizStep", mapping.biz_step)
        disposition = self.term("disposition", mapping.disposition) if mapping.disposition else None
        if disposition:
            terms["disposition"] = disposition
        resolver = self._resolver
        return _Plan(
            mapping=mapping,
            fact_names=frozenset(names),
            defaults={name: value for name, value in defaults.items() if value is not missing},
            terms=terms,
            parents=tuple(resolver(link) for link in mapping.parent),
            output=resolver(mapping.output) if mapping.output else None,
            place=resolver(mapping.place) if mapping.place else None,
            parties=tuple(
                (key, member, tuple((kind, resolver(link)) for kind, link in ends))
                for key, member, ends in (
                    ("sourceList", "source", mapping.sources),
                    ("destinationList", "destination", mapping.destinations),
                )
                if ends
            ),
            ilmd=tuple(
                (f"bt:{item.field}", None, resolver(item))
                if isinstance(item, Link)
                else (f"bt:{item}", item, None)
                for item in mapping.ilmd
            ),
            extensions=tuple(
                (name, f"bt:{name}", resolver(linked[name]) if name in linked else None, name in VIN_FIELDS)
                for name in names
                if name not in mapping.standard_fields
            ),
            late_default=getattr(event_class, "late_correction", False),
            simple_objects=mapping.event_type not in (_ASSOCIATION, _TRANSFORMATION),
        )

    def event(self, seen: Any) -> dict[str, Any]:
        """The EPCIS event of one stored battery event (a ``Seen``, or a ``stored.Logged``: both
        give the event's class, state, code and version by ``parts()``)."""
        event_class, state, code, version = seen.parts()
        plan = self._plans.get(event_class) or self._plan(event_class)
        mapping = plan.mapping
        facts = state if plan.fact_names <= state.keys() else plan.facts(state)
        actor = state["actor_id"]
        occurred, recorded = state["occurred_at"], state["timestamp"]
        out: dict[str, Any] = {
            "type": mapping.event_type,
            "eventID": self.ids.event_id(code, version),
            "eventTime": iso_in_china_time(occurred["_data_"]) if type(occurred) is dict else _time(occurred),
            "recordTime": iso_in_china_time(recorded["_data_"])
            if type(recorded) is dict
            else _time(recorded),
            "eventTimeZoneOffset": TIME_ZONE_OFFSET,
        }
        if plan.simple_objects:
            out["epcList"] = [f"{self._battery_prefix}{code}"]
        else:
            self._objects(plan, facts, seen, code, actor, out)
        out.update(plan.terms)
        if plan.place is not None and (place := plan.place(facts, seen, code, actor)):
            out["readPoint"] = {"id": place}
            out["bizLocation"] = {"id": place}
        for key, member, ends in plan.parties:
            listed = []
            for kind, resolve in ends:
                uri = resolve(facts, seen, code, actor)
                if uri:
                    listed.append({"type": kind, member: uri})
            if listed:
                out[key] = listed
        if mapping.sensors:
            reports = [
                {"type": sensor.measurement, "value": facts[sensor.field], "uom": sensor.uom}
                for sensor in mapping.sensors
                if facts.get(sensor.field) is not None
            ]
            if reports:
                out["sensorElementList"] = [{"sensorReport": reports}]
        if plan.ilmd:
            out["ilmd"] = {
                key: _plain(facts[name]) if resolve is None else (resolve(facts, seen, code, actor) or [])
                for key, name, resolve in plan.ilmd
            }
        self._note_party(actor)
        out["bt:actor"] = f"{self._party_prefix}{actor}"
        if state.get("late_correction", plan.late_default):
            out["bt:late_correction"] = True
        for name, key, resolve, is_vin in plan.extensions:
            value = facts[name]
            if value is None or (is_vin and not seen.knows_vin):
                continue
            if resolve is not None:
                value = resolve(facts, seen, code, actor)
            out[key] = value if type(value) in _AS_THEY_ARE else plain(value)
        leaf = seen.leaf
        if leaf is not None:
            out[LEDGER_LEAF] = ledger_leaf(leaf)
        return out

    def _objects(
        self, plan: _Plan, facts: Mapping[str, Any], seen: Any, code: str, actor: str, out: dict[str, Any]
    ) -> None:
        battery = f"{self._battery_prefix}{code}"
        event_type = plan.mapping.event_type
        if event_type == _ASSOCIATION:
            parent = None
            for resolve in plan.parents:
                parent = resolve(facts, seen, code, actor)
                if parent:
                    break
            out["parentID"] = parent or self.ids.undisclosed_vehicle(code)
            out["childEPCs"] = [battery]
        elif event_type == _TRANSFORMATION:
            out["inputEPCList"] = [battery]
            if plan.output is not None and (product := plan.output(facts, seen, code, actor)):
                out["outputEPCList"] = [product]
                out["transformationID"] = product
            if plan.mapping.output_quantities:
                out["outputQuantityList"] = [
                    {"epcClass": self.ids.material(name), "quantity": kg, "uom": "KGM"}
                    for name, kg in sorted(facts[plan.mapping.output_quantities].items())
                ]
        else:
            out["epcList"] = [battery]
