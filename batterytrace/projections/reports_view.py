"""The regulator-reports view: per manufacturer and month, what was produced, installed, retired,
collected, cascade-used and recycled (and how much material came back); per swap operator,
station division and month, the battery swaps; per battery, whether a retired battery reached the
formal channel and when its vehicle's scrapping put it in a dismantler's hands; and the compliance
findings, one row each.

Months are calendar months in China Standard Time. The recycling rate (domain.md) is a cohort
share: of the batteries retired in a month, how many have since reached a whitelisted recycler or
a second life; it is kept per retirement month (``retired_then_formal``) so that it never exceeds
1, while ``recycled``/``cascade_used`` count what happened in the month itself.

Energy and masses are added as whole watt-hours and grams (``quantities``), so a month's sum is
the same whatever the order and the batches its events came in.

A late report is one recorded after the deadline of its reporter and situation
(``events/deadlines.py``): the view keeps the roles each participant registered with
(``report_participants``, from ``Participant.Registered``, which always precedes the
participant's first act in the event stream), the battery's state before the event (a removed
battery that is installed again is reinstalled) and whether a handover leaves an outlet.

A battery from a scrapped vehicle must leave the dismantler within the deadline of the
("dismantler", "VehicleScrapped") row (15 working days, "vehicle scrapped; battery removed and
handed over"): the view stores the moment that deadline passes with the battery, and the
``scrapped_not_handed_over`` finding is read against the clock at query time, as the overdue report
is, since it arises from time passing rather than from an event.

Events are told apart by their classes. A battery's state after each event comes from
``events/custody.py``, as the aggregate has it; what an event adds to the counters and the
battery's facts is ``_count``, one handler per event class, and an event that adds nothing
is listed in ``NOT_COUNTED`` (``tests/unit/test_event_catalogue.py`` checks every event is one or
the other).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import singledispatch
from typing import Any

from sqlalchemy import Connection, select

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import Battery
from batterytrace.events.conventions import ANY_ROLE
from batterytrace.events.custody import event_kind, state_after
from batterytrace.events.deadlines import ReportingRule
from batterytrace.events.participant import Activity, Participant
from batterytrace.events.regions import province_of
from batterytrace.events.roles import Role
from batterytrace.events.working_days import WorkingCalendar
from batterytrace.events.zone import china_local
from batterytrace.projections.database import upsert
from batterytrace.projections.fresh_tables import FreshTables
from batterytrace.projections.quantities import thousandths
from batterytrace.projections.tables import (
    report_batteries,
    report_findings,
    report_monthly,
    report_participants,
    report_swaps,
)

MONTH_COUNTERS = (
    "produced",
    "produced_wh",
    "installed",
    "retired",
    "collected",
    "cascade_used",
    "recycled",
    "recycled_whitelisted",
    "retired_then_formal",
    "recovered_li_g",
    "recovered_ni_g",
    "recovered_co_g",
    "recovered_mn_g",
    "recovered_total_g",
)
MONTH_ZEROS = dict.fromkeys(MONTH_COUNTERS, 0)
Months = dict[tuple[str, int, int], dict[str, Any]]  # by (manufacturer, year, month) in CST


def _cst(moment: Any) -> str:
    return moment.astimezone(CHINA_STANDARD_TIME).isoformat()


def month_of(moment: Any) -> str:
    return moment.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m")


def _recycling_handover_compliant(battery: dict[str, Any]) -> bool:
    return bool(battery["handover_compliant"]) and battery["handover_activity"] == Activity.RECYCLING


@dataclass
class Tally:
    """What one event may add to: its battery's manufacturer's month (set for each event), and the
    batch's swaps by (operator, station division, month); with the calendar for deadlines the
    view stores."""

    month: dict[str, Any]
    swaps: dict[tuple[str, str, str], dict[str, Any]]
    calendar: WorkingCalendar

    def swap(self, operator_id: str, division_code: str, occurred_at: Any) -> None:
        key = (operator_id, division_code, month_of(occurred_at))
        if key not in self.swaps:
            province = province_of(division_code)
            self.swaps[key] = {
                "operator_id": operator_id,
                "division_code": division_code,
                "month": key[2],
                # as the network view has it: a station's checked code always has its province
                "province_code": province.code if province else division_code[:2] + "0000",
                "swaps": 0,
            }
        self.swaps[key]["swaps"] += 1


class ReportsView:
    name = "reports"

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar

    def apply(self, connection: Connection, events: Sequence[tuple[int, Any]]) -> None:
        """The follower's path: load the rows the batch touches, fold, upsert them (the
        counters by increments)."""
        batteries = self._load(connection, events)
        roles = self._roles(connection, events)
        months: Months = {}
        swaps: dict[tuple[str, str, str], dict[str, Any]] = {}
        registered, findings = self.fold(events, batteries, roles, months, swaps)
        upsert(connection, report_participants, registered, key=["credit_code"])
        upsert(connection, report_batteries, list(batteries.values()), key=["code"])
        upsert(
            connection,
            report_monthly,
            list(months.values()),
            key=["manufacturer_id", "month"],
            add=MONTH_COUNTERS,
        )
        upsert(connection, report_findings, findings, key=["code", "version", "kind"])
        upsert(
            connection,
            report_swaps,
            list(swaps.values()),
            key=["operator_id", "division_code", "month"],
            add=("swaps",),
        )

    def fold(
        self,
        events: Sequence[tuple[int, Any]],
        batteries: dict[str, dict[str, Any]],
        roles: dict[str, frozenset[str]],
        months: Months,
        swaps: dict[tuple[str, str, str], dict[str, Any]],
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The events applied in memory: ``batteries`` (holding every battery row the events
        touch) changed in place, ``roles`` of the battery actors extended by registrations,
        and the ``months`` and ``swaps`` counters added to; returns the participants registered
        and the findings. Shared by ``apply`` and the set-wise rebuild (``builder``)."""
        registered: list[dict[str, Any]] = []
        calendar = self.calendar
        tally = Tally({}, swaps, calendar)
        findings: list[dict[str, Any]] = []
        # The loop runs for every event of a rebuild: what depends only on the event's class is
        # looked up once (``_handling``), the deadline caches are called without a frame between
        # (``rule_for``, ``due_on``), and a time already at +08:00 is not converted.
        handling = _HANDLING
        rule_for = calendar.rule_for
        due_on = calendar.due_on
        for _, e in events:
            cls = type(e)
            how = handling.get(cls) or _handling(cls)
            if how is _REGISTRATION:
                roles[e.originator_id] = frozenset(e.roles)
                registered.append({"credit_code": e.originator_id, "roles": list(e.roles)})
                continue
            if how is _NOT_COUNTED_HERE:
                continue
            kind, state, count, formal, produced, handed_over, retired = how
            occurred = e.occurred_at
            if produced:
                batteries[e.originator_id] = {
                    "code": e.originator_id,
                    "manufacturer_id": e.manufacturer_id,
                    "state": state,
                    "retired_at": None,
                    "channel_at": None,
                    "handover_activity": None,
                    "handover_compliant": None,
                    "last_occurred_at": occurred,
                    **_NO_SCRAPPING,
                }
            battery = batteries[e.originator_id]
            rule = rule_for(
                kind,
                roles.get(e.actor_id, _NO_ROLES),
                battery["state"],
                bool(getattr(e, "from_collection_point_id", None)),
            )
            local = china_local(occurred)
            manufacturer_id = battery["manufacturer_id"]
            tally.month = _month_at(months, manufacturer_id, local)
            battery["state"] = state
            if count is not None:
                count(e, battery, tally)
            # A retired battery reaching the formal channel counts in its retirement month's
            # cohort: recycled after a compliant handover for recycling, or taken into a second life.
            if (
                formal
                and battery["retired_at"] is not None
                and (formal == _ALWAYS or _recycling_handover_compliant(battery))
            ):
                cohort = self._month(months, manufacturer_id, battery["retired_at"])
                cohort["retired_then_formal"] += 1
            # The event's findings (``report_findings``), in the order they were always listed.
            if handed_over and not e.compliant:
                findings.append(
                    _finding(kind, e, battery, "non_compliant_handover", e.non_compliance or _NOT_WHITELISTED)
                )
            if retired and getattr(e, "custody_unverified", False):
                findings.append(_finding(kind, e, battery, "unverified_custody", _UNVERIFIED_CUSTODY))
            if rule is not None:
                due = due_on(local.date(), rule.working_days)
                if due is not None and e.timestamp >= due:
                    findings.append(_late_report(kind, e, battery, rule, due))
            last = battery["last_occurred_at"]
            if occurred < last:
                findings.append(_backwards(kind, e, battery))
            elif occurred > last:  # as max(last, occurred): an equal instant keeps the one held
                battery["last_occurred_at"] = occurred
        return registered, findings

    def builder(self, fresh: FreshTables) -> ReportsBuilder:
        """The set-wise rebuild of this view into ``fresh`` (``projections/rebuild.py``)."""
        return ReportsBuilder(self, fresh)

    @staticmethod
    def _load(connection: Connection, events: Sequence[tuple[int, Any]]) -> dict[str, dict[str, Any]]:
        codes = sorted({e.originator_id for _, e in events if isinstance(e, Battery.Event)})
        rows: dict[str, dict[str, Any]] = {}
        for start in range(0, len(codes), 500):
            query = select(report_batteries).where(report_batteries.c.code.in_(codes[start : start + 500]))
            rows.update({row["code"]: dict(row) for row in connection.execute(query).mappings()})
        return rows

    @staticmethod
    def _roles(connection: Connection, events: Sequence[tuple[int, Any]]) -> dict[str, frozenset[str]]:
        """The registered roles of the batch's battery actors (those registered in the batch
        itself are added as their registration is met), as sets: the deadline cache's key."""
        actors = sorted({e.actor_id for _, e in events if isinstance(e, Battery.Event)})
        roles: dict[str, frozenset[str]] = {}
        for start in range(0, len(actors), 500):
            query = select(report_participants).where(
                report_participants.c.credit_code.in_(actors[start : start + 500])
            )
            roles.update({row.credit_code: frozenset(row.roles) for row in connection.execute(query)})
        return roles

    @staticmethod
    def _month(months: Months, manufacturer_id: str, occurred_at: Any) -> dict[str, Any]:
        return _month_at(months, manufacturer_id, china_local(occurred_at))


def _month_at(months: Months, manufacturer_id: str, local: datetime) -> dict[str, Any]:
    """The manufacturer's counters for the month of ``local`` (China Standard Time's fields),
    made on first use. Keyed by numbers: formatting the month for every event was 3% of a rebuild."""
    key = (manufacturer_id, local.year, local.month)
    row = months.get(key)
    if row is None:
        row = months[key] = _month_row(manufacturer_id, local.year, local.month)
    return row


def _month_row(manufacturer_id: str, year: int, month: int) -> dict[str, Any]:
    """A manufacturer's month's counters, all zero."""
    return {
        "manufacturer_id": manufacturer_id,
        "month": f"{year:04d}-{month:02d}",
        **MONTH_ZEROS,
    }  # as month_of


def _finding(
    kind: str,
    e: Any,
    battery: dict[str, Any],
    what: str,
    detail: str,
    rule: ReportingRule | None = None,
    due: datetime | None = None,
) -> dict[str, Any]:
    """A finding's row; ``rule`` and ``due`` for a deadline's (the late report's)."""
    held_to = rule if due is not None else None
    return {
        "code": e.originator_id,
        "version": e.originator_version,
        "kind": what,
        "manufacturer_id": battery["manufacturer_id"],
        "event": kind,
        "actor_id": e.actor_id,
        "occurred_at": e.occurred_at,
        "recorded_at": e.timestamp,
        "detail": detail[:500],
        "due_at": due,
        "deadline_working_days": held_to.working_days if held_to else None,
        "deadline_role": held_to.role if held_to else None,
    }


def _late_report(
    kind: str, e: Any, battery: dict[str, Any], rule: ReportingRule, due: datetime
) -> dict[str, Any]:
    detail = (
        f"{rule.situation} on {e.occurred_at.astimezone(CHINA_STANDARD_TIME).date()} was "
        f"due by {(due - timedelta(days=1)).date()} ({rule.working_days} working days "
        f"for {_reporter(rule.role)}) and reported on "
        f"{e.timestamp.astimezone(CHINA_STANDARD_TIME).date()}"
    )
    return _finding(kind, e, battery, "late_report", detail, rule, due)


def _backwards(kind: str, e: Any, battery: dict[str, Any]) -> dict[str, Any]:
    detail = (
        f"{kind} dated {_cst(e.occurred_at)} is before the battery's previous "
        f"event at {_cst(battery['last_occurred_at'])}"
    )
    return _finding(kind, e, battery, "backwards_date", detail)


_NOT_WHITELISTED = "receiver not whitelisted"
_UNVERIFIED_CUSTODY = (
    "retired by a dismantler that did not hold the battery, with no vehicle "
    "scrapping record to show it had the vehicle"
)


# Battery events that change a battery's state (set for every event) and nothing else here. A
# swap is counted once, by the battery swapped in (its pair swapped out in the same command).
NOT_COUNTED: tuple[type, ...] = (
    Battery.AssembledInto,
    Battery.Delivered,
    Battery.Removed,
    Battery.SwappedOut,
)
# The battery row's facts of its vehicle's scrapping (report_batteries).
SCRAPPING_FACTS = (
    "scrapped_version",
    "scrapped_at",
    "scrapped_by",
    "scrapped_due_at",
    "scrapped_deadline_days",
)


@singledispatch
def _count(e: Battery.Event, battery: dict[str, Any], tally: Tally) -> None:
    """What an event adds to the counters and to the battery's facts; nothing for the events in
    ``NOT_COUNTED``."""


@_count.register(Battery.SwappedIn)
def _swapped_in(e: Battery.SwappedIn, battery: dict[str, Any], tally: Tally) -> None:
    tally.swap(e.operator_id, e.division_code, e.occurred_at)


@_count.register(Battery.VehicleScrapped)
def _vehicle_scrapped(e: Battery.VehicleScrapped, battery: dict[str, Any], tally: Tally) -> None:
    """The dismantler has the battery from now on; the deadline it has to hand it on by is the
    dismantler's row for a scrapped vehicle (configurable like any deadline)."""
    rule = tally.calendar.rule_for(event_kind(type(e)), _DISMANTLER, None, False)
    battery.update(
        scrapped_version=e.originator_version,
        scrapped_at=e.occurred_at,
        scrapped_by=e.dismantler_id,
        scrapped_due_at=None if rule is None else tally.calendar.due(e.occurred_at, rule.working_days),
        scrapped_deadline_days=None if rule is None else rule.working_days,
    )


@_count.register(Battery.Produced)
def _produced(e: Battery.Produced, battery: dict[str, Any], tally: Tally) -> None:
    month = tally.month
    month["produced"] += 1
    month["produced_wh"] += thousandths(e.energy_kwh)


@_count.register(Battery.Installed)
def _installed(e: Battery.Installed, battery: dict[str, Any], tally: Tally) -> None:
    tally.month["installed"] += 1


@_count.register(Battery.Retired)
def _retired(e: Battery.Retired, battery: dict[str, Any], tally: Tally) -> None:
    tally.month["retired"] += 1
    battery.update(retired_at=e.occurred_at, channel_at=None)


@_count.register(Battery.Collected)
def _collected(e: Battery.Collected, battery: dict[str, Any], tally: Tally) -> None:
    tally.month["collected"] += 1
    if battery["retired_at"] and battery["channel_at"] is None:
        battery["channel_at"] = e.occurred_at


@_count.register(Battery.HandedOver)
def _handed_over(e: Battery.HandedOver, battery: dict[str, Any], tally: Tally) -> None:
    battery.update(handover_activity=e.activity, handover_compliant=e.compliant)
    if e.compliant and battery["retired_at"] and battery["channel_at"] is None:
        battery["channel_at"] = e.occurred_at


@_count.register(Battery.CascadeReused)
def _cascade_reused(e: Battery.CascadeReused, battery: dict[str, Any], tally: Tally) -> None:
    tally.month["cascade_used"] += 1


@_count.register(Battery.Recycled)
def _recycled(e: Battery.Recycled, battery: dict[str, Any], tally: Tally) -> None:
    month = tally.month
    month["recycled"] += 1
    if _recycling_handover_compliant(battery):
        month["recycled_whitelisted"] += 1
    grams = {metal: thousandths(kg) for metal, kg in e.recovered_kg.items()}
    for metal, column in _RECOVERED_COLUMNS:
        month[column] += grams.get(metal, 0)
    month["recovered_total_g"] += sum(grams.values())


_DISMANTLER = frozenset({Role.DISMANTLER.value})  # the roles the scrapping deadline is held to
_RECOVERED_COLUMNS = tuple((metal, f"recovered_{metal.lower()}_g") for metal in ("Li", "Ni", "Co", "Mn"))


def handles(event_class: type) -> bool:
    """Whether this view has decided what ``event_class`` adds to the reports."""
    return event_class in _count.registry or event_class in NOT_COUNTED


def _reporter(role: str) -> str:
    """The role a deadline was held to, as the finding's English detail names it."""
    if role == ANY_ROLE:
        return "any reporter"
    name = role.replace("_", " ")
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


# How the fold treats an event, by its class (``_handling``): a battery event's
# (kind, state after, ``_count`` handler or None, reaches-the-formal-channel test, is Produced,
# is HandedOver, is Retired); or one of these two.
_REGISTRATION = ("a participant's registration",)
_NOT_COUNTED_HERE = ("neither a battery event nor a registration",)
_ALWAYS, _IF_RECYCLING_HANDOVER = 1, 2  # reaches the formal channel: always / after a compliant handover
_HANDLING: dict[type, tuple[Any, ...]] = {}
_COUNT_NOTHING = _count.registry[object]
_NO_ROLES: frozenset[str] = frozenset()
_NO_SCRAPPING = dict.fromkeys(SCRAPPING_FACTS)


def _handling(cls: type) -> tuple[Any, ...]:
    """What the fold does with an event of ``cls``, worked out at its first event and kept in
    ``_HANDLING``: the same as asking ``isinstance``, ``event_kind``, ``state_after`` and
    ``_count``'s dispatch for each event, which cost a fifth of the fold."""
    how: tuple[Any, ...]
    if issubclass(cls, Battery.Event):
        count: Callable[..., None] | None = _count.dispatch(cls)
        formal = (
            _ALWAYS
            if issubclass(cls, Battery.CascadeReused)
            else _IF_RECYCLING_HANDOVER
            if issubclass(cls, Battery.Recycled)
            else 0
        )
        how = (
            event_kind(cls),
            state_after(cls).value,
            None if count is _COUNT_NOTHING else count,
            formal,
            issubclass(cls, Battery.Produced),
            issubclass(cls, Battery.HandedOver),
            issubclass(cls, Battery.Retired),
        )
    elif issubclass(cls, Participant.Registered):
        how = _REGISTRATION
    else:
        how = _NOT_COUNTED_HERE
    _HANDLING[cls] = how
    return how


class ReportsBuilder:
    """The reports view rebuilt from the first event in memory: months, swaps and participants'
    roles are totalled across batches and written once; findings are written as they come;
    battery rows are written when more than ``ROWS_IN_MEMORY`` are held (then read back from
    the fresh table if a later event needs one) and at the end."""

    def __init__(self, view: ReportsView, fresh: FreshTables) -> None:
        self.view = view
        self.fresh = fresh
        self.batteries: dict[str, dict[str, Any]] = {}
        self.roles: dict[str, frozenset[str]] = {}
        self.participants: dict[str, dict[str, Any]] = {}
        self.months: Months = {}
        self.swaps: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._flushed = False  # battery rows written early: a later event may need one back

    def add(self, events: Sequence[tuple[int, Any]]) -> None:
        batteries = self.batteries
        if self._flushed:  # else every battery an event names is in memory (or nowhere)
            missing = {
                e.originator_id
                for _, e in events
                if isinstance(e, Battery.Event)
                and e.originator_id not in batteries
                and not isinstance(e, Battery.Produced)
            }
            if missing:
                batteries.update(self.fresh.read_back(report_batteries, "code", missing))
        registered, findings = self.view.fold(events, batteries, self.roles, self.months, self.swaps)
        self.participants.update((p["credit_code"], p) for p in registered)
        self.fresh.write(report_findings, findings)
        if len(batteries) > ROWS_IN_MEMORY:
            self.fresh.write(report_batteries, list(batteries.values()), flushed_early=True)
            self._flushed = True
            batteries.clear()

    def finish(self) -> None:
        self.fresh.write(report_batteries, list(self.batteries.values()))
        self.fresh.write(report_participants, list(self.participants.values()))
        self.fresh.write(report_monthly, list(self.months.values()))
        self.fresh.write(report_swaps, list(self.swaps.values()))


ROWS_IN_MEMORY = 200_000  # battery rows a rebuild holds before writing them out (memory bound)
