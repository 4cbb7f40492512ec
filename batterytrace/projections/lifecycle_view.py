"""The full-lifecycle view: one row per battery (state, holder, lineage links, flags) and one row
per event (the timeline), so that a battery's whole life is two primary-key reads.

Events are told apart by their classes (``Battery.Retired``, ``Participant.Registered`` …), which
the store gives back when it reads them. A battery event's state and holder come from
``events/custody.py``, as the aggregate has them; what else it puts on the battery row is
``_row_facts``, one handler per event class, and an event that puts nothing else there is listed
in ``STATE_AND_HOLDER_ONLY`` (``tests/unit/test_event_catalogue.py`` checks that every event is
one or the other).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import singledispatch
from typing import Any, NamedTuple

from sqlalchemy import Connection, insert, select

from batterytrace.events.battery import FLAG_CUSTODY_UNVERIFIED, FLAG_NON_COMPLIANT, Battery
from batterytrace.events.collection_point import CollectionPoint
from batterytrace.events.custody import (
    NOBODY,
    Custody,
    Facts,
    consequence_of,
    event_kind,
)
from batterytrace.events.participant import Participant
from batterytrace.events.working_days import WorkingCalendar
from batterytrace.projections.database import upsert
from batterytrace.projections.event_data import event_details
from batterytrace.projections.fresh_tables import FreshTables
from batterytrace.projections.tables import (
    lifecycle_batteries,
    lifecycle_events,
    lifecycle_participants,
    lifecycle_points,
)

FLAG_LATE_REPORT = "late report"
FLAG_BACKWARDS = "dates run backwards (late correction)"
TIMELINE_COLUMNS = tuple(c.name for c in lifecycle_events.columns)  # the order of ``fold``'s rows


class LifecycleView:
    name = "lifecycle"

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar

    def apply(self, connection: Connection, events: Sequence[tuple[int, Any]]) -> None:
        """The follower's path: load the rows the batch touches, fold, upsert them."""
        batteries = self._load(connection, {e.originator_id for _, e in events if _is_battery(e)})
        participants = self._load_participants(connection, events)
        roles = self._actor_roles(connection, events)
        timeline, points = self.fold(events, batteries, participants, roles)
        upsert(connection, lifecycle_batteries, list(batteries.values()), key=["code"])
        if timeline:
            rows = [dict(zip(TIMELINE_COLUMNS, t, strict=True)) for t in timeline]
            connection.execute(insert(lifecycle_events), rows)
        upsert(connection, lifecycle_participants, list(participants.values()), key=["credit_code"])
        upsert(connection, lifecycle_points, points, key=["id"])

    def fold(
        self,
        events: Sequence[tuple[int, Any]],
        batteries: dict[str, dict[str, Any]],
        participants: dict[str, dict[str, Any]],
        roles: dict[str, list[str]],
    ) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
        """The events applied to the rows in memory (``batteries`` and ``participants`` by key,
        holding every row the events touch, and the battery actors' ``roles``), changed in place;
        returns the new timeline rows (tuples in ``TIMELINE_COLUMNS`` order: the rebuild writes
        them as they are, one dict less per event) and collection points. Shared by ``apply``
        and the set-wise rebuild (``builder``), so that both give the same rows."""
        timeline: list[tuple[Any, ...]] = []
        points: list[dict[str, Any]] = []
        plans = _PLANS
        is_late = self.calendar.is_late
        roles_of = roles.get
        add_to_timeline = timeline.append
        for position, e in events:
            plan = plans.get(type(e)) or _plan(type(e))
            if plan.role is not _BATTERY:
                if plan.role is _PARTICIPANT:
                    self._participant_event(participants, e)
                    if plan.registers_roles:
                        roles[e.originator_id] = list(e.roles)
                elif plan.role is _POINT:
                    points.append(_point_row(e))
                continue
            # A battery event (written out here, not in a function: this runs for most events of
            # a rebuild). The row's state and holder become what the aggregate has them be
            # (custody.py), then come the event's other facts (``_row_facts``).
            code = e.originator_id
            if plan.produced:
                row = batteries[code] = _produced_row(e)
            else:
                row = batteries[code]
            kind = plan.kind
            occurred_at = e.occurred_at
            recorded_at = e.timestamp
            actor_id = e.actor_id
            # The deadline of who reported what (events/deadlines.py), as the compliance report has it.
            reported_late = is_late(
                kind,
                occurred_at,
                recorded_at,
                roles_of(actor_id, ()),
                previous_state=row["state"],
                at_an_outlet=bool(getattr(e, "from_collection_point_id", None)),
            )
            row["state"] = plan.state
            row["holder_kind"], row["holder_id"], row["responsible_id"] = plan.holder(  # type: ignore[misc]
                vars(e), _custody(Custody, (row["holder_kind"], row["holder_id"], row["responsible_id"]))
            )
            if plan.facts is not None:
                plan.facts(e, row)
            if reported_late:
                _flag(row, FLAG_LATE_REPORT)
            last_occurred_at = row["last_occurred_at"]
            if occurred_at < last_occurred_at:
                _flag(row, FLAG_BACKWARDS)
            version = row["version"] = e.originator_version
            row["last_occurred_at"] = max(last_occurred_at, occurred_at)
            add_to_timeline(
                (  # in lifecycle_events' column order (TIMELINE_COLUMNS)
                    code,
                    version,
                    position,
                    kind,
                    occurred_at,
                    recorded_at,
                    actor_id,
                    bool(getattr(e, "late_correction", False)),
                    reported_late,
                    event_details(e),
                )
            )
        return timeline, points

    def builder(self, fresh: FreshTables) -> LifecycleBuilder:
        """The set-wise rebuild of this view into ``fresh`` (``projections/rebuild.py``)."""
        return LifecycleBuilder(self, fresh)

    # ------------------------------------------------------------------------------ batteries
    def _load(self, connection: Connection, codes: set[str]) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        ordered = sorted(codes)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            query = select(lifecycle_batteries).where(lifecycle_batteries.c.code.in_(chunk))
            for row in connection.execute(query).mappings():
                rows[row["code"]] = dict(row)
        return rows

    # --------------------------------------------------------------------------- participants
    @staticmethod
    def _actor_roles(connection: Connection, events: Sequence[tuple[int, Any]]) -> dict[str, list[str]]:
        """The registered roles of the batch's battery actors, for their reporting deadlines."""
        actors = sorted({e.actor_id for _, e in events if _is_battery(e)})
        roles: dict[str, list[str]] = {}
        for start in range(0, len(actors), 500):
            query = select(lifecycle_participants.c.credit_code, lifecycle_participants.c.roles).where(
                lifecycle_participants.c.credit_code.in_(actors[start : start + 500])
            )
            roles.update({row.credit_code: list(row.roles) for row in connection.execute(query)})
        return roles

    def _load_participants(
        self, connection: Connection, events: Sequence[tuple[int, Any]]
    ) -> dict[str, dict[str, Any]]:
        ids = {
            e.originator_id
            for _, e in events
            if isinstance(e, Participant.Event) and not isinstance(e, Participant.Registered)
        }
        if not ids:
            return {}
        query = select(lifecycle_participants).where(lifecycle_participants.c.credit_code.in_(ids))
        return {row["credit_code"]: dict(row) for row in connection.execute(query).mappings()}

    def _participant_event(self, participants: dict[str, dict[str, Any]], domain_event: Any) -> None:
        if isinstance(domain_event, Participant.Registered):
            participants[domain_event.originator_id] = {
                "credit_code": domain_event.originator_id,
                "name": domain_event.name,
                "name_en": getattr(domain_event, "name_en", None),  # None in older events
                "roles": list(domain_event.roles),
                "manufacturer_codes": list(domain_event.manufacturer_codes),
                "division_code": domain_event.division_code,
                "whitelist": [],
            }
            return
        row = participants[domain_event.originator_id]
        whitelist = [dict(p) for p in row["whitelist"]]
        if isinstance(domain_event, Participant.WhitelistGranted):
            whitelist.append(
                {
                    "activity": domain_event.activity,
                    "granted_on": domain_event.effective_on,
                    "revoked_on": None,
                }
            )
        elif isinstance(domain_event, Participant.WhitelistRevoked):
            for period in whitelist:
                if period["activity"] == domain_event.activity and period["revoked_on"] is None:
                    period["revoked_on"] = domain_event.effective_on
        row["whitelist"] = whitelist


def _is_battery(domain_event: Any) -> bool:
    return isinstance(domain_event, Battery.Event)


_custody = tuple.__new__  # a Custody made in one C call: Custody(...) goes through a Python __new__
_PRODUCED = consequence_of(Battery.Produced)
_PRODUCED_STATE = _PRODUCED.state.value


def _produced_row(e: Any) -> dict[str, Any]:
    holder_kind, holder_id, responsible_id = _PRODUCED.holder(vars(e), NOBODY)
    return {
        "code": e.code,
        "level": e.level,
        "battery_type": e.battery_type,
        "manufacturer_id": e.manufacturer_id,
        "manufacturer_code": e.manufacturer_code,
        "production_date": e.production_date,
        "rated_capacity_ah": e.rated_capacity_ah,
        "nominal_voltage_v": e.nominal_voltage_v,
        "energy_kwh": e.energy_kwh,
        "mass_kg": e.mass_kg,
        "state": _PRODUCED_STATE,
        "holder_kind": holder_kind,
        "holder_id": holder_id,
        "responsible_id": responsible_id,
        "vin": None,
        "site": None,
        "collection_point_id": None,
        "pack": None,
        "second_life_product": None,
        "components": list(e.components),
        "derived_from": list(e.derived_from),
        "flags": [],
        "produced_at": e.occurred_at,
        "retired_at": None,
        "scrapped_at": None,
        "last_occurred_at": e.occurred_at,
        "version": e.originator_version,
    }


class _Plan(NamedTuple):
    """What the fold does with one event class, worked out once per class (``_plan``) rather
    than for every event: the fold runs for every stored event of a rebuild, and looking the
    same things up again (the event's name, its consequence, its state's text, its row handler)
    cost more than applying it."""

    role: str  # _BATTERY, _PARTICIPANT, _POINT or _IGNORED
    registers_roles: bool = False  # Participant.Registered: the actor's roles for the deadlines
    kind: str = ""  # a battery event's name in the timeline (``event_kind``)
    state: str = ""  # the state a battery event leaves (custody.py)
    holder: Callable[[Facts, Custody], Custody] | None = None  # the holder it leaves (custody.py)
    facts: Callable[[Any, dict[str, Any]], None] | None = None  # its ``_row_facts``, if any
    produced: bool = False  # Battery.Produced: makes the battery's row


_BATTERY, _PARTICIPANT, _POINT, _IGNORED = "battery", "participant", "point", "ignored"
_PLANS: dict[type, _Plan] = {}


def _plan(event_class: type) -> _Plan:
    """``event_class``'s plan, made on its first event and kept (event classes are few)."""
    if issubclass(event_class, Battery.Event):
        consequence = consequence_of(event_class)
        handler = _row_facts.dispatch(event_class)
        plan = _Plan(
            _BATTERY,
            kind=event_kind(event_class),
            state=consequence.state.value,
            holder=consequence.holder,
            facts=None if handler is _row_facts.registry[object] else handler,
            produced=issubclass(event_class, Battery.Produced),
        )
    elif issubclass(event_class, Participant.Event):
        plan = _Plan(_PARTICIPANT, registers_roles=issubclass(event_class, Participant.Registered))
    elif issubclass(event_class, CollectionPoint.Registered):
        plan = _Plan(_POINT)
    else:
        plan = _Plan(_IGNORED)
    _PLANS[event_class] = plan
    return plan


# Battery events that change only the row's state and holder (besides the timeline).
STATE_AND_HOLDER_ONLY: tuple[type, ...] = (
    Battery.Produced,  # its row is made whole by ``_produced_row``
    Battery.Delivered,
    Battery.Removed,
    # Out of the vehicle into the station's stock: the row keeps the vehicle's VIN, as after a
    # removal; the station and its division are in the event's details on the timeline.
    Battery.SwappedOut,
    Battery.Recycled,
)


@singledispatch
def _row_facts(e: Battery.Event, row: dict[str, Any]) -> None:
    """What an event puts on the battery row besides state and holder; nothing for the events in
    ``STATE_AND_HOLDER_ONLY``."""


def _flag(row: dict[str, Any], flag: str) -> None:
    if flag not in row["flags"]:
        row["flags"] = [*row["flags"], flag]


@_row_facts.register(Battery.AssembledInto)
def _assembled_into(e: Battery.AssembledInto, row: dict[str, Any]) -> None:
    row["pack"] = e.pack_code


@_row_facts.register(Battery.Installed)
def _installed(e: Battery.Installed, row: dict[str, Any]) -> None:
    row.update(vin=e.vin, site=e.site)


@_row_facts.register(Battery.SwappedIn)
def _swapped_in(e: Battery.SwappedIn, row: dict[str, Any]) -> None:
    row.update(vin=e.vin, site=None)


@_row_facts.register(Battery.VehicleScrapped)
def _vehicle_scrapped(e: Battery.VehicleScrapped, row: dict[str, Any]) -> None:
    row["scrapped_at"] = e.occurred_at


@_row_facts.register(Battery.Retired)
def _retired(e: Battery.Retired, row: dict[str, Any]) -> None:
    row["retired_at"] = e.occurred_at
    if getattr(e, "custody_unverified", False):  # absent from events recorded before it existed
        _flag(row, FLAG_CUSTODY_UNVERIFIED)


@_row_facts.register(Battery.Collected)
def _collected(e: Battery.Collected, row: dict[str, Any]) -> None:
    row["collection_point_id"] = e.collection_point_id


@_row_facts.register(Battery.HandedOver)
def _handed_over(e: Battery.HandedOver, row: dict[str, Any]) -> None:
    row["collection_point_id"] = None
    if not e.compliant:
        _flag(row, FLAG_NON_COMPLIANT)


@_row_facts.register(Battery.CascadeReused)
def _cascade_reused(e: Battery.CascadeReused, row: dict[str, Any]) -> None:
    row["second_life_product"] = e.product_code


def handles(event_class: type) -> bool:
    """Whether this view has decided what ``event_class`` does to a battery row."""
    return event_class in _row_facts.registry or event_class in STATE_AND_HOLDER_ONLY


def _point_row(e: Any) -> dict[str, Any]:
    return {
        "id": e.originator_id,
        "name": e.name,
        "name_en": getattr(e, "name_en", None),  # None in events recorded before it existed
        "operator_id": e.operator_id,
        "kind": e.kind,
        "capacity_kg": e.capacity_kg,
        "address": e.address,
        "division_code": e.division_code,
        "latitude": e.latitude,
        "longitude": e.longitude,
    }


class LifecycleBuilder:
    """The lifecycle view rebuilt from the first event in memory: every participant, point and
    battery row is kept across batches (no reading back), the timeline is written as it comes,
    and battery rows are written when more than ``ROWS_IN_MEMORY`` are held (then read back
    from the fresh table if a later event needs one) and at the end."""

    def __init__(self, view: LifecycleView, fresh: FreshTables) -> None:
        self.view = view
        self.fresh = fresh
        self.batteries: dict[str, dict[str, Any]] = {}
        self.participants: dict[str, dict[str, Any]] = {}
        self.roles: dict[str, list[str]] = {}
        self.points: dict[str, dict[str, Any]] = {}
        self.flushed = False  # whether battery rows were written early (``read_back``)

    def add(self, events: Sequence[tuple[int, Any]]) -> None:
        batteries = self.batteries
        if self.flushed:  # only then can a battery's row be in the fresh table instead of here
            missing = {
                e.originator_id
                for _, e in events
                if _is_battery(e) and e.originator_id not in batteries and not isinstance(e, Battery.Produced)
            }
            if missing:
                batteries.update(self.fresh.read_back(lifecycle_batteries, "code", missing))
        timeline, points = self.view.fold(events, batteries, self.participants, self.roles)
        self.fresh.write(lifecycle_events, timeline)
        self.points.update((p["id"], p) for p in points)
        if len(batteries) > ROWS_IN_MEMORY:
            self.fresh.write(lifecycle_batteries, list(batteries.values()), flushed_early=True)
            self.flushed = True
            batteries.clear()

    def finish(self) -> None:
        self.fresh.write(lifecycle_batteries, list(self.batteries.values()))
        self.fresh.write(lifecycle_participants, list(self.participants.values()))
        self.fresh.write(lifecycle_points, list(self.points.values()))


ROWS_IN_MEMORY = 200_000  # battery rows a rebuild holds before writing them out (memory bound)
