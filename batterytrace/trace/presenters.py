"""Plain values for callers: turn aggregates and events into dicts of str, numbers and lists.

The CLI's JSON output and the HTTP API both speak these shapes, so that the two entry points
always agree (the seam the ``eventsourcing`` cargo-shipping example calls its interface).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from batterytrace.events.battery import Battery
from batterytrace.events.collection_point import CollectionPoint
from batterytrace.events.disclosure import FULL, Disclosure, EventFacts, without_vin
from batterytrace.events.participant import Participant
from batterytrace.projections.event_data import event_details, plain
from batterytrace.trace.application import BatteryTrace


def event_record(stored_event: Any) -> dict[str, Any]:
    """One timeline entry: what happened, when (real world and recorded), who, and the details."""
    details = event_details(stored_event)
    return {
        "version": stored_event.originator_version,
        "event": type(stored_event).__name__,
        "occurred_at": plain(stored_event.occurred_at),
        "recorded_at": plain(stored_event.timestamp),
        "actor_id": stored_event.actor_id,
        "late_correction": bool(getattr(stored_event, "late_correction", False)),
        "details": details,
    }


def battery_summary(battery: Battery, *, show_vin: bool = True) -> dict[str, Any]:
    """What a battery is and where it stands now; without the vehicle's VIN (also the holder's
    id while it is in a vehicle) for a caller that may not see it (``disclosure``)."""
    summary = {
        "code": battery.code,
        "level": battery.level,
        "battery_type": battery.battery_type,
        "chemistry": battery.chemistry,
        "manufacturer_id": battery.manufacturer_id,
        "manufacturer_code": battery.manufacturer_code,
        "production_date": battery.production_date,
        "rated_capacity_ah": battery.rated_capacity_ah,
        "nominal_voltage_v": battery.nominal_voltage_v,
        "energy_kwh": battery.energy_kwh,
        "mass_kg": battery.mass_kg,
        "state": str(battery.state),
        "holder": {
            "kind": battery.holder_kind,
            "id": battery.holder_id,
            "responsible_id": battery.responsible_id,
        },
        "vin": battery.vin,
        "second_life": battery.is_second_life,
        "flags": list(battery.flags),
        "version": battery.version,
        "last_occurred_at": plain(battery.last_occurred_at),
    }
    return summary if show_vin else battery_without_vin(summary)


def battery_without_vin(battery: dict[str, Any]) -> dict[str, Any]:
    """A battery document's facts without the vehicle's VIN (which is also the holder's id while
    the battery is in a vehicle)."""
    holder = dict(battery["holder"])
    if holder.get("kind") == "vehicle":
        holder["id"] = None
    return {**battery, "vin": None, "holder": holder}


def timeline_facts(timeline: list[dict[str, Any]]) -> list[EventFacts]:
    """Timeline entries (from the view or the store) as the facts disclosure rules read."""
    return [EventFacts(e["version"], e["event"], e["actor_id"], e["details"]) for e in timeline]


def disclosed(document: dict[str, Any], disclosure: Disclosure) -> dict[str, Any]:
    """A battery document cut to what ``disclosure`` allows: the timeline from the caller's first
    involvement on, and no VIN unless it had the vehicle or made the battery."""
    if disclosure == FULL:
        return document
    timeline = [e for e in document["timeline"] if disclosure.visible(e["version"])]
    battery = document["battery"]
    if not disclosure.knows_vin:
        timeline = [{**e, "details": without_vin(e["details"])} for e in timeline]
        battery = battery_without_vin(battery)
    return {**document, "battery": battery, "timeline": timeline}


def lineage(app: BatteryTrace, battery: Battery, *, max_depth: int = 8) -> dict[str, Any]:
    """Links in both directions, followed to any depth (bounded, since lineage is a DAG built
    by the domain, but a bound keeps a damaged store from looping)."""

    def node(code: str, depth: int, direction: str) -> dict[str, Any]:
        linked = app.battery(code)
        entry: dict[str, Any] = {"code": code, "level": linked.level, "state": str(linked.state)}
        if depth < max_depth:
            follow = linked.derived_from if direction == "originals" else linked.components
            if direction == "originals" and follow:
                entry["originals"] = [node(c, depth + 1, direction) for c in follow]
            if direction == "components" and follow:
                entry["components"] = [node(c, depth + 1, direction) for c in follow]
        return entry

    ancestors = []
    current = battery
    while current.pack and len(ancestors) < max_depth:
        current = app.battery(current.pack)
        ancestors.append({"code": current.code, "level": current.level, "state": str(current.state)})
    products = []
    current = battery
    while current.second_life_product and len(products) < max_depth:
        current = app.battery(current.second_life_product)
        products.append({"code": current.code, "level": current.level, "state": str(current.state)})
    return {
        "components": [node(c, 1, "components") for c in battery.components],
        "parent_packs": ancestors,
        "originals": [node(c, 1, "originals") for c in battery.derived_from],
        "second_life_products": products,
    }


def battery_document(
    app: BatteryTrace,
    code: str,
    *,
    as_of: datetime | None = None,
    timeline: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole life of one battery: summary, timeline and lineage, optionally as it stood at a
    past moment (rebuilt from the events up to then). ``timeline``: the battery's event records,
    when the caller has read them already."""
    battery = app.battery_as_of(code, as_of) if as_of else app.battery(code)
    if timeline is None:
        timeline = [event_record(e) for e in app.history(code)]
    if as_of:
        timeline = timeline[: battery.version]
    return {  # the caller's route cuts it to what the caller may see (``disclosed``)
        "battery": battery_summary(battery),
        "as_of": plain(as_of) if as_of else None,
        "timeline": timeline,
        "lineage": lineage(app, battery),
    }


def participant_record(participant: Participant) -> dict[str, Any]:
    return {
        "credit_code": participant.id,
        "name": participant.name,
        "name_en": getattr(participant, "name_en", None),  # None in snapshots taken before it
        "roles": list(participant.roles),
        "manufacturer_codes": list(participant.manufacturer_codes),
        "whitelist": [
            {
                "activity": p.activity,
                "granted_on": p.granted_on.isoformat(),
                "revoked_on": p.revoked_on.isoformat() if p.revoked_on else None,
            }
            for p in participant.whitelist_periods()
        ],
        "check_override": participant.check_override,
    }


def collection_point_record(point: CollectionPoint) -> dict[str, Any]:
    return {
        "id": point.id,
        "name": point.name,
        "name_en": getattr(point, "name_en", None),  # None in snapshots taken before it
        "operator_id": point.operator_id,
        "kind": point.kind,
        "capacity_kg": point.capacity_kg,
        "address": point.address,
        "division_code": point.division_code,
        "latitude": point.latitude,
        "longitude": point.longitude,
        "review": point.review.value,
    }
