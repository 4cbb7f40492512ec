"""The full-lifecycle view: one row per battery (state, holder, lineage links, flags) and one row
per event (the timeline), so that a battery's whole life is two primary-key reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select

from batterytrace.events.battery import FLAG_CUSTODY_UNVERIFIED
from batterytrace.events.lifecycle import State
from batterytrace.events.working_days import WorkingCalendar
from batterytrace.projections.database import upsert
from batterytrace.projections.event_data import event_details, event_name
from batterytrace.projections.tables import (
    lifecycle_batteries,
    lifecycle_events,
    lifecycle_participants,
    lifecycle_points,
)

STATE_AFTER = {
    "AssembledInto": State.ASSEMBLED,
    "Installed": State.INSTALLED,
    "Removed": State.REMOVED,
    "Retired": State.RETIRED,
    "Collected": State.COLLECTED,
    "HandedOver": State.HANDED_OVER,
    "CascadeReused": State.CASCADE_REUSED,
    "Recycled": State.RECYCLED,
}
FLAG_NON_COMPLIANT = "non-compliant handover"
FLAG_LATE_REPORT = "late report"
FLAG_BACKWARDS = "dates run backwards (late correction)"


class LifecycleView:
    name = "lifecycle"

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar

    def apply(self, connection: Connection, events: Sequence[tuple[int, Any]]) -> None:
        batteries = self._load(connection, {e.originator_id for _, e in events if _is_battery(e)})
        participants = self._load_participants(connection, events)
        roles = self._actor_roles(connection, events)
        timeline: list[dict[str, Any]] = []
        points: list[dict[str, Any]] = []
        for position, domain_event in events:
            name = event_name(domain_event)
            if name.startswith("Battery."):
                timeline.append(self._battery_event(batteries, position, domain_event, roles))
            elif name.startswith("Participant."):
                self._participant_event(participants, domain_event)
                if name == "Participant.Registered":
                    roles[domain_event.originator_id] = list(domain_event.roles)
            elif name == "CollectionPoint.Registered":
                points.append(_point_row(domain_event))
        upsert(connection, lifecycle_batteries, list(batteries.values()), key=["code"])
        if timeline:
            connection.execute(insert(lifecycle_events), timeline)
        upsert(connection, lifecycle_participants, list(participants.values()), key=["credit_code"])
        upsert(connection, lifecycle_points, points, key=["id"])

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

    def _battery_event(
        self,
        batteries: dict[str, dict[str, Any]],
        position: int,
        domain_event: Any,
        roles: dict[str, list[str]],
    ) -> dict[str, Any]:
        kind = event_name(domain_event).split(".", 1)[1]
        code = domain_event.originator_id
        if kind == "Produced":
            batteries[code] = _produced_row(domain_event)
        row = batteries[code]
        # The deadline of who reported what (events/deadlines.py), as the compliance report has it.
        reported_late = self.calendar.is_late(
            kind,
            domain_event.occurred_at,
            domain_event.timestamp,
            roles.get(domain_event.actor_id, ()),
            previous_state=row["state"],
            at_an_outlet=bool(getattr(domain_event, "from_collection_point_id", None)),
        )
        _apply(row, kind, domain_event)
        if reported_late and FLAG_LATE_REPORT not in row["flags"]:
            row["flags"] = [*row["flags"], FLAG_LATE_REPORT]
        runs_backwards = domain_event.occurred_at < row["last_occurred_at"]
        if runs_backwards and FLAG_BACKWARDS not in row["flags"]:
            row["flags"] = [*row["flags"], FLAG_BACKWARDS]
        row["version"] = domain_event.originator_version
        row["last_occurred_at"] = max(row["last_occurred_at"], domain_event.occurred_at)
        return {
            "code": code,
            "version": domain_event.originator_version,
            "position": position,
            "event": kind,
            "occurred_at": domain_event.occurred_at,
            "recorded_at": domain_event.timestamp,
            "actor_id": domain_event.actor_id,
            "late_correction": bool(getattr(domain_event, "late_correction", False)),
            "reported_late": reported_late,
            "details": event_details(domain_event),
        }

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
            if event_name(e).startswith("Participant.") and event_name(e) != "Participant.Registered"
        }
        if not ids:
            return {}
        query = select(lifecycle_participants).where(lifecycle_participants.c.credit_code.in_(ids))
        return {row["credit_code"]: dict(row) for row in connection.execute(query).mappings()}

    def _participant_event(self, participants: dict[str, dict[str, Any]], domain_event: Any) -> None:
        kind = event_name(domain_event).split(".", 1)[1]
        if kind == "Registered":
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
        if kind == "WhitelistGranted":
            whitelist.append(
                {
                    "activity": domain_event.activity,
                    "granted_on": domain_event.effective_on,
                    "revoked_on": None,
                }
            )
        elif kind == "WhitelistRevoked":
            for period in whitelist:
                if period["activity"] == domain_event.activity and period["revoked_on"] is None:
                    period["revoked_on"] = domain_event.effective_on
        row["whitelist"] = whitelist


def _is_battery(domain_event: Any) -> bool:
    return event_name(domain_event).startswith("Battery.")


def _produced_row(e: Any) -> dict[str, Any]:
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
        "state": State.PRODUCED.value,
        "holder_kind": "manufacturer",
        "holder_id": e.manufacturer_id,
        "responsible_id": e.manufacturer_id,
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
        "last_occurred_at": e.occurred_at,
        "version": e.originator_version,
    }


def _apply(row: dict[str, Any], kind: str, e: Any) -> None:
    """The battery row after one event: state and who holds it (as the aggregate does)."""
    if kind in STATE_AFTER:
        row["state"] = STATE_AFTER[kind].value
    if kind == "AssembledInto":
        row.update(pack=e.pack_code, holder_kind="pack", holder_id=e.pack_code)
    elif kind == "Installed":
        row.update(
            vin=e.vin,
            site=e.site,
            holder_kind="vehicle" if e.vin else "site",
            holder_id=e.vin or e.site,
            responsible_id=e.actor_id,
        )
    elif kind == "Delivered":
        row.update(holder_kind="enterprise", holder_id=e.receiver_id, responsible_id=e.receiver_id)
    elif kind in ("Removed", "Retired"):
        row.update(holder_kind="enterprise", holder_id=e.actor_id, responsible_id=e.actor_id)
        if kind == "Retired":
            row["retired_at"] = e.occurred_at
            if getattr(e, "custody_unverified", False) and FLAG_CUSTODY_UNVERIFIED not in row["flags"]:
                row["flags"] = [*row["flags"], FLAG_CUSTODY_UNVERIFIED]
    elif kind == "Collected":
        row.update(
            collection_point_id=e.collection_point_id,
            holder_kind="collection_point",
            holder_id=e.collection_point_id,
            responsible_id=e.operator_id,
        )
    elif kind == "HandedOver":
        row.update(
            collection_point_id=None,
            holder_kind="enterprise",
            holder_id=e.receiver_id,
            responsible_id=e.receiver_id,
        )
        if not e.compliant and FLAG_NON_COMPLIANT not in row["flags"]:
            row["flags"] = [*row["flags"], FLAG_NON_COMPLIANT]
    elif kind == "CascadeReused":
        row.update(
            second_life_product=e.product_code,
            holder_kind="product",
            holder_id=e.product_code,
            responsible_id=e.enterprise_id,
        )
    elif kind == "Recycled":
        row.update(holder_kind=None, holder_id=None, responsible_id=None)


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
