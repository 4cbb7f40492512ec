"""The regulator-reports view: per manufacturer and month, what was produced, installed, retired,
collected, cascade-used and recycled (and how much material came back); per battery, whether a
retired battery reached the formal channel; and the compliance findings, one row each.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.conventions import ANY_ROLE
from batterytrace.events.deadlines import ReportingRule
from batterytrace.events.working_days import WorkingCalendar
from batterytrace.projections.database import upsert
from batterytrace.projections.event_data import event_name
from batterytrace.projections.quantities import thousandths
from batterytrace.projections.tables import (
    report_batteries,
    report_findings,
    report_monthly,
    report_participants,
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
COUNTED = {
    "Installed": "installed",
    "Retired": "retired",
    "Collected": "collected",
    "CascadeReused": "cascade_used",
    "Recycled": "recycled",
}


def _cst(moment: Any) -> str:
    return moment.astimezone(CHINA_STANDARD_TIME).isoformat()


def month_of(moment: Any) -> str:
    return moment.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m")


def _reaches_formal_channel(kind: str, battery: dict[str, Any]) -> bool:
    """Recycled after a compliant handover for recycling, or taken into a second life."""
    if kind == "CascadeReused":
        return True
    return (
        kind == "Recycled"
        and bool(battery["handover_compliant"])
        and battery["handover_activity"] == "recycling"
    )


class ReportsView:
    name = "reports"

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar

    def apply(self, connection: Connection, events: Sequence[tuple[int, Any]]) -> None:
        batteries = self._load(connection, events)
        roles = self._roles(connection, events)
        registered: list[dict[str, Any]] = []
        months: dict[tuple[str, str], dict[str, Any]] = {}
        findings: list[dict[str, Any]] = []
        for _, e in events:
            name = event_name(e)
            if name == "Participant.Registered":
                roles[e.originator_id] = list(e.roles)
                registered.append({"credit_code": e.originator_id, "roles": list(e.roles)})
            if not name.startswith("Battery."):
                continue
            kind = name.split(".", 1)[1]
            if kind == "Produced":
                batteries[e.originator_id] = {
                    "code": e.originator_id,
                    "manufacturer_id": e.manufacturer_id,
                    "state": "produced",
                    "retired_at": None,
                    "channel_at": None,
                    "handover_activity": None,
                    "handover_compliant": None,
                    "last_occurred_at": e.occurred_at,
                }
            battery = batteries[e.originator_id]
            rule = self.calendar.rule(
                kind,
                roles.get(e.actor_id, ()),
                previous_state=battery["state"],
                at_an_outlet=bool(getattr(e, "from_collection_point_id", None)),
            )
            month = self._month(months, battery["manufacturer_id"], e.occurred_at)
            self._count(kind, e, battery, month)
            if battery["retired_at"] is not None and _reaches_formal_channel(kind, battery):
                cohort = self._month(months, battery["manufacturer_id"], battery["retired_at"])
                cohort["retired_then_formal"] += 1
            findings.extend(self._findings(kind, e, battery, rule))
            battery["last_occurred_at"] = max(battery["last_occurred_at"], e.occurred_at)
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

    @staticmethod
    def _load(connection: Connection, events: Sequence[tuple[int, Any]]) -> dict[str, dict[str, Any]]:
        codes = sorted({e.originator_id for _, e in events if event_name(e).startswith("Battery.")})
        rows: dict[str, dict[str, Any]] = {}
        for start in range(0, len(codes), 500):
            query = select(report_batteries).where(report_batteries.c.code.in_(codes[start : start + 500]))
            rows.update({row["code"]: dict(row) for row in connection.execute(query).mappings()})
        return rows

    @staticmethod
    def _roles(connection: Connection, events: Sequence[tuple[int, Any]]) -> dict[str, list[str]]:
        """The registered roles of the batch's battery actors (those registered in the batch
        itself are added as their registration is met)."""
        actors = sorted({e.actor_id for _, e in events if event_name(e).startswith("Battery.")})
        roles: dict[str, list[str]] = {}
        for start in range(0, len(actors), 500):
            query = select(report_participants).where(
                report_participants.c.credit_code.in_(actors[start : start + 500])
            )
            roles.update({row.credit_code: list(row.roles) for row in connection.execute(query)})
        return roles

    @staticmethod
    def _month(
        months: dict[tuple[str, str], dict[str, Any]], manufacturer_id: str, occurred_at: Any
    ) -> dict[str, Any]:
        key = (manufacturer_id, month_of(occurred_at))
        if key not in months:
            months[key] = {"manufacturer_id": key[0], "month": key[1], **dict.fromkeys(MONTH_COUNTERS, 0)}
        return months[key]

    @staticmethod
    def _count(kind: str, e: Any, battery: dict[str, Any], month: dict[str, Any]) -> None:
        if kind == "Produced":
            month["produced"] += 1
            month["produced_wh"] += thousandths(e.energy_kwh)
        if kind in COUNTED:
            month[COUNTED[kind]] += 1
        if kind == "Retired":
            battery.update(retired_at=e.occurred_at, channel_at=None, state="retired")
        elif kind == "Collected":
            battery["state"] = "collected"
            if battery["retired_at"] and battery["channel_at"] is None:
                battery["channel_at"] = e.occurred_at
        elif kind == "HandedOver":
            battery.update(state="handed over", handover_activity=e.activity, handover_compliant=e.compliant)
            if e.compliant and battery["retired_at"] and battery["channel_at"] is None:
                battery["channel_at"] = e.occurred_at
        elif kind == "CascadeReused":
            battery["state"] = "cascade-reused"
        elif kind == "Recycled":
            battery["state"] = "recycled"
            if battery["handover_compliant"] and battery["handover_activity"] == "recycling":
                month["recycled_whitelisted"] += 1
            grams = {metal: thousandths(kg) for metal, kg in e.recovered_kg.items()}
            for metal in ("Li", "Ni", "Co", "Mn"):
                month[f"recovered_{metal.lower()}_g"] += grams.get(metal, 0)
            month["recovered_total_g"] += sum(grams.values())
        elif kind in ("Installed", "Removed", "AssembledInto"):
            battery["state"] = {"Installed": "installed", "Removed": "removed"}.get(kind, "assembled")

    def _findings(
        self, kind: str, e: Any, battery: dict[str, Any], rule: ReportingRule | None
    ) -> list[dict[str, Any]]:
        found = []

        def finding(what: str, detail: str, due: datetime | None = None) -> dict[str, Any]:
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

        if kind == "HandedOver" and not e.compliant:
            found.append(finding("non_compliant_handover", e.non_compliance or "receiver not whitelisted"))
        if kind == "Retired" and getattr(e, "custody_unverified", False):
            found.append(
                finding(
                    "unverified_custody",
                    "retired by a dismantler that did not hold the battery, with no vehicle "
                    "scrapping record to show it had the vehicle",
                )
            )
        due = None if rule is None else self.calendar.due(e.occurred_at, rule.working_days)
        if rule is not None and due is not None and e.timestamp >= due:  # both or neither
            found.append(
                finding(
                    "late_report",
                    f"{rule.situation} on {e.occurred_at.astimezone(CHINA_STANDARD_TIME).date()} was "
                    f"due by {(due - timedelta(days=1)).date()} ({rule.working_days} working days "
                    f"for {_reporter(rule.role)}) and reported on "
                    f"{e.timestamp.astimezone(CHINA_STANDARD_TIME).date()}",
                    due,
                )
            )
        if e.occurred_at < battery["last_occurred_at"]:
            found.append(
                finding(
                    "backwards_date",
                    f"{kind} dated {_cst(e.occurred_at)} is before the battery's previous "
                    f"event at {_cst(battery['last_occurred_at'])}",
                )
            )
        return found


def _reporter(role: str) -> str:
    """The role a deadline was held to, as the finding's English detail names it."""
    if role == ANY_ROLE:
        return "any reporter"
    name = role.replace("_", " ")
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
