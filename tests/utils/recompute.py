"""What the regulator reports should say, recomputed straight from the event store.

An oracle for the projections, written without them: it reads every stored event in notification
order (``app.recorder.select_notifications`` + ``app.mapper.to_domain_event``) and keeps its own
small tallies. Nothing from ``batterytrace.projections`` is imported, and the facts the views take
from the events' own bookkeeping fields are derived here from first principles where that is
possible:

- handover compliance comes from the receiver's whitelist history (granted/revoked events) on the
  handover's China-Standard-Time date, not from the event's ``compliant`` field;
- a date runs backwards when it is earlier than the latest real-world time of an earlier event of
  the same battery (not because the ``late_correction`` flag is set);
- the mass a handover moves out of an outlet is the mass weighed when the battery was collected;
- a battery is overdue when it retired more than ``days`` before ``now`` and, after retiring,
  was neither collected nor handed over compliantly;
- a retirement's custody is unverified when the retiring enterprise did not hold the battery
  (holders followed through production, delivery, installation, removal, collection and handover),
  not because the event's ``custody_unverified`` field says so.

Only the reporting deadlines are taken from the platform (``WorkingCalendar``), as the brief of
these tests asks: late reports are "late per WorkingCalendar", given what the oracle itself finds
out about each report: the roles its actor registered with, whether the battery had been removed
(a reinstall) and whether a handover left a collection point.

Quantities (kWh, kg) are summed exactly, as decimals of each event's value to the thousandth
(Wh, g; half up), so that the views' sums can be compared to the last digit.

Counts follow the events: every ``Installed`` counts (a reinstall after repair too), every
``Collected`` counts, ``cascade_used`` counts original batteries going into second-life products;
a ``Delivered`` (manufacturer to vehicle maker) counts in no tally, it only changes the holder.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from batterytrace.events.working_days import WorkingCalendar

CST = timezone(timedelta(hours=8))  # China Standard Time, written out rather than imported
MONTH_FIELDS = (
    "produced",
    "produced_kwh",
    "installed",
    "retired",
    "collected",
    "cascade_used",
    "recycled",
    "recycled_whitelisted",
    "retired_then_formal",
    "recovered_li_kg",
    "recovered_ni_kg",
    "recovered_co_kg",
    "recovered_mn_kg",
    "recovered_total_kg",
)
POINT_FIELDS = (
    "collected_count",
    "collected_kg",
    "collected_kwh",
    "on_hand_count",
    "on_hand_kg",
    "handed_over_count",
    "handed_over_kg",
    "handed_compliant_count",
    "recycled_count",
    "cascade_used_count",
)
FLOW_FIELDS = ("count", "mass_kg", "energy_kwh", "compliant_count")


def stored_events(app: Any, page: int = 1000) -> Iterator[Any]:
    """Every domain event of the store, in notification order."""
    start = 1
    while notifications := app.recorder.select_notifications(start=start, limit=page):
        for notification in notifications:
            yield app.mapper.to_domain_event(notification)
        start = notifications[-1].id + 1


def exact(value: Any) -> Decimal:
    """A quantity as the decimal it was written as, to the thousandth (Wh, g), half up."""
    text = repr(value) if isinstance(value, float) else str(value)
    return Decimal(text).quantize(Decimal("0.001"), ROUND_HALF_UP)


def cst_date(moment: datetime) -> date:
    return moment.astimezone(CST).date()


def cst_month(moment: datetime) -> str:
    return moment.astimezone(CST).strftime("%Y-%m")


@dataclass
class _Battery:
    code: str
    manufacturer_id: str
    mass_kg: float
    energy_kwh: float
    last_occurred_at: datetime
    holder_id: str
    at_point: tuple[str, float] | None = None  # (collection point, weighed kg) while held there
    last_point: str | None = None  # the last collection point it passed through
    retired_at: datetime | None = None
    taken_in: bool = False  # collected, or handed over compliantly, since it retired
    handover_activity: str | None = None
    handover_compliant: bool | None = None
    removed: bool = False  # out for repair or replacement: installing it again is a reinstall
    # (version, time) of its vehicle's scrapping while the dismantler still has it (in the
    # vehicle or retired), None once it is collected or handed over
    with_dismantler: tuple[int, datetime] | None = None


@dataclass
class Recomputed:
    """The reports' figures, from the events alone."""

    monthly: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    points: dict[str, dict[str, float]] = field(default_factory=dict)
    capacities: dict[str, float] = field(default_factory=dict)
    point_divisions: dict[str, str] = field(default_factory=dict)
    flows: dict[tuple[str, str, str, str], dict[str, float]] = field(default_factory=dict)
    non_compliant_handovers: set[tuple[str, int]] = field(default_factory=set)
    late_reports: set[tuple[str, int]] = field(default_factory=set)
    backwards_dates: set[tuple[str, int]] = field(default_factory=set)
    unverified_custody: set[tuple[str, int]] = field(default_factory=set)
    batteries: dict[str, _Battery] = field(default_factory=dict)
    last_occurred_at: datetime | None = None  # the latest real-world time of any battery event
    calendar: WorkingCalendar | None = None  # the store's, for deadlines that pass as time goes by

    @property
    def outlets_over_capacity(self) -> set[str]:
        return {p for p, c in self.points.items() if c["on_hand_kg"] > self.capacities[p] + 1e-6}

    def overdue(self, now: datetime, days: int = 90) -> set[str]:
        """Retired more than ``days`` before ``now`` and not taken in since."""
        cutoff = now - timedelta(days=days)
        return {
            b.code
            for b in self.batteries.values()
            if b.retired_at is not None and b.retired_at < cutoff and not b.taken_in
        }

    def scrapped_not_handed_over(self, now: datetime) -> set[tuple[str, int]]:
        """(code, version of the scrapping) of each battery still with the dismantler that took
        its scrapped vehicle in, past the dismantler's deadline for a scrapped vehicle."""
        calendar = self.calendar or WorkingCalendar()
        rule = calendar.rule("VehicleScrapped", ("dismantler",))
        assert rule is not None
        return {
            (b.code, b.with_dismantler[0])
            for b in self.batteries.values()
            if b.with_dismantler and calendar.due(b.with_dismantler[1], rule.working_days) <= now
        }

    def findings(self, now: datetime | None = None) -> set[tuple[str, str, int | None]]:
        """(kind, battery code or outlet id, version) of every compliance finding (and, given
        ``now``, of the scrapped vehicles' batteries not handed over by then)."""
        found: set[tuple[str, str, int | None]] = set()
        if now is not None:
            found |= {("scrapped_not_handed_over", c, v) for c, v in self.scrapped_not_handed_over(now)}
        found |= {("non_compliant_handover", c, v) for c, v in self.non_compliant_handovers}
        found |= {("late_report", c, v) for c, v in self.late_reports}
        found |= {("backwards_date", c, v) for c, v in self.backwards_dates}
        found |= {("unverified_custody", c, v) for c, v in self.unverified_custody}
        found |= {("outlet_over_capacity", p, None) for p in self.outlets_over_capacity}
        return found

    def monthly_nonzero(self) -> dict[tuple[str, str], dict[str, float]]:
        return {k: v for k, v in self.monthly.items() if any(v.values())}


def recompute(app: Any, calendar: WorkingCalendar | None = None) -> Recomputed:
    """Walk the store once and tally everything the reports show."""
    calendar = calendar or app.settings.working_calendar()
    out = Recomputed(calendar=calendar)
    whitelist: dict[tuple[str, str], list[list[date | None]]] = defaultdict(list)
    roles: dict[str, list[str]] = {}

    def whitelisted(participant: str, activity: str, day: date) -> bool:
        return any(
            granted <= day and (revoked is None or day < revoked)
            for granted, revoked in whitelist[(participant, activity)]
            if granted is not None
        )

    def month(battery: _Battery, moment: datetime) -> dict[str, float]:
        key = (battery.manufacturer_id, cst_month(moment))
        return out.monthly.setdefault(key, dict.fromkeys(MONTH_FIELDS, 0))

    for e in stored_events(app):
        aggregate, _, kind = type(e).__qualname__.partition(".")
        if aggregate == "Participant":
            if kind == "Registered":
                roles[e.originator_id] = list(e.roles)
            if kind == "WhitelistGranted":
                whitelist[(e.originator_id, e.activity)].append([date.fromisoformat(e.effective_on), None])
            elif kind == "WhitelistRevoked":
                for period in whitelist[(e.originator_id, e.activity)]:
                    if period[1] is None:
                        period[1] = date.fromisoformat(e.effective_on)
            continue
        if aggregate == "CollectionPoint" and kind == "Registered":
            out.points[e.originator_id] = dict.fromkeys(POINT_FIELDS, 0)
            out.capacities[e.originator_id] = e.capacity_kg
            out.point_divisions[e.originator_id] = e.division_code
            continue
        if aggregate != "Battery":
            continue

        code, version, occurred = e.originator_id, e.originator_version, e.occurred_at
        if kind == "Produced":
            out.batteries[code] = _Battery(
                code=code,
                manufacturer_id=e.manufacturer_id,
                mass_kg=e.mass_kg,
                energy_kwh=e.energy_kwh,
                last_occurred_at=occurred,
                holder_id=e.manufacturer_id,
            )
        b = out.batteries[code]
        row = month(b, occurred)
        if out.last_occurred_at is None or occurred > out.last_occurred_at:
            out.last_occurred_at = occurred

        # -- findings ----------------------------------------------------------------------
        if occurred < b.last_occurred_at:
            out.backwards_dates.add((code, version))
        b.last_occurred_at = max(b.last_occurred_at, occurred)
        if calendar.is_late(
            kind,
            occurred,
            e.timestamp,
            roles.get(e.actor_id, ()),
            previous_state="removed" if b.removed else None,
            at_an_outlet=kind == "HandedOver" and b.at_point is not None,
        ):
            out.late_reports.add((code, version))

        b.removed = kind == "Removed"  # for the next event: out of the vehicle since this one

        # -- tallies -----------------------------------------------------------------------
        if kind == "Produced":
            row["produced"] += 1
            row["produced_kwh"] += exact(e.energy_kwh)
        elif kind == "Delivered":
            b.holder_id = e.receiver_id
        elif kind == "Installed":
            row["installed"] += 1
            b.holder_id = e.actor_id
        elif kind == "Removed":
            b.holder_id = e.actor_id
        elif kind in ("SwappedOut", "SwappedIn"):
            b.holder_id = e.operator_id  # in the station's stock, or in a vehicle it serves
        elif kind == "VehicleScrapped":
            b.holder_id = e.dismantler_id  # custody passes with the vehicle
            b.with_dismantler = (version, occurred)
        elif kind == "Retired":
            row["retired"] += 1
            if e.actor_id != b.holder_id:
                out.unverified_custody.add((code, version))
            b.retired_at, b.taken_in, b.holder_id = occurred, False, e.actor_id
        elif kind == "Collected":
            row["collected"] += 1
            point = out.points[e.collection_point_id]
            point["collected_count"] += 1
            point["collected_kg"] += exact(e.mass_kg)
            point["collected_kwh"] += exact(b.energy_kwh)
            point["on_hand_count"] += 1
            point["on_hand_kg"] += exact(e.mass_kg)
            b.at_point, b.with_dismantler = (e.collection_point_id, e.mass_kg), None
            b.last_point = e.collection_point_id
            b.holder_id = e.actor_id
            if b.retired_at is not None:
                b.taken_in = True
        elif kind == "HandedOver":
            compliant = whitelisted(e.receiver_id, e.activity, cst_date(occurred))
            if not compliant:
                out.non_compliant_handovers.add((code, version))
            if b.at_point is not None:
                point_id, weighed = b.at_point
                source, mass = ("collection_point", point_id), weighed
                point = out.points[point_id]
                point["on_hand_count"] -= 1
                point["on_hand_kg"] -= exact(weighed)
                point["handed_over_count"] += 1
                point["handed_over_kg"] += exact(weighed)
                point["handed_compliant_count"] += int(compliant)
            else:
                source, mass = ("enterprise", b.holder_id), b.mass_kg
            flow = out.flows.setdefault((*source, e.receiver_id, e.activity), dict.fromkeys(FLOW_FIELDS, 0))
            flow["count"] += 1
            flow["mass_kg"] += exact(mass)
            flow["energy_kwh"] += exact(b.energy_kwh)
            flow["compliant_count"] += int(compliant)
            b.at_point, b.holder_id, b.with_dismantler = None, e.receiver_id, None
            b.handover_activity, b.handover_compliant = e.activity, compliant
            if compliant and b.retired_at is not None:
                b.taken_in = True
        elif kind == "CascadeReused":
            row["cascade_used"] += 1
            if b.retired_at is not None:
                month(b, b.retired_at)["retired_then_formal"] += 1
            if b.last_point:
                out.points[b.last_point]["cascade_used_count"] += 1
        elif kind == "Recycled":
            row["recycled"] += 1
            if b.handover_compliant and b.handover_activity == "recycling":
                row["recycled_whitelisted"] += 1
                if b.retired_at is not None:
                    month(b, b.retired_at)["retired_then_formal"] += 1
            for metal in ("Li", "Ni", "Co", "Mn"):
                row[f"recovered_{metal.lower()}_kg"] += exact(e.recovered_kg.get(metal, 0))
            row["recovered_total_kg"] += sum(exact(v) for v in e.recovered_kg.values())
            if b.last_point:
                out.points[b.last_point]["recycled_count"] += 1
    return out


def rounded(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Decimal]:
    """The named fields as exact decimals, a report's floats as they print (87.14, never
    87.14000000000001): the views sum whole Wh and g, so their figures must equal the oracle's
    to the last digit, on both stores and whatever the batches."""
    return {
        n: Decimal(repr(values[n]) if isinstance(values[n], float) else values[n]).normalize() for n in names
    }
