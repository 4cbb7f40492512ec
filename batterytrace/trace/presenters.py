"""Plain values for callers: turn aggregates and events into dicts of str, numbers and lists.

The CLI's JSON output and the HTTP API both speak these shapes, so that the two entry points
always agree (the seam the ``eventsourcing`` cargo-shipping example calls its interface).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from batterytrace.events.battery import Battery
from batterytrace.events.collection_point import CollectionPoint
from batterytrace.events.participant import Participant
from batterytrace.projections import battery_document as documents
from batterytrace.projections.event_data import event_details, plain
from batterytrace.trace.access import battery_without_vin
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


def battery_facts(battery: Battery) -> dict[str, Any]:
    """A battery aggregate's flat facts, as the lifecycle view's row holds them: what
    ``battery_document`` is built from, whichever side it was read from."""
    return {
        "code": battery.code,
        "level": battery.level,
        "battery_type": battery.battery_type,
        "manufacturer_id": battery.manufacturer_id,
        "manufacturer_code": battery.manufacturer_code,
        "production_date": battery.production_date,
        "rated_capacity_ah": battery.rated_capacity_ah,
        "nominal_voltage_v": battery.nominal_voltage_v,
        "energy_kwh": battery.energy_kwh,
        "mass_kg": battery.mass_kg,
        "state": str(battery.state),
        "holder_kind": battery.holder_kind,
        "holder_id": battery.holder_id,
        "responsible_id": battery.responsible_id,
        "vin": battery.vin,
        "flags": list(battery.flags),
        "version": battery.version,
        "last_occurred_at": plain(battery.last_occurred_at),
        "components": list(battery.components),
        "derived_from": list(battery.derived_from),
        "pack": battery.pack,
        "second_life_product": battery.second_life_product,
    }


def battery_summary(battery: Battery, *, show_vin: bool = True) -> dict[str, Any]:
    """What a battery is and where it stands now (the document's summary, without its links);
    without the vehicle's VIN (also the holder's id while it is in a vehicle) for a caller that
    may not see it (``disclosure``)."""
    whole = documents.battery_summary(battery_facts(battery))
    summary = {key: whole[key] for key in documents.SUMMARY_KEYS}
    return summary if show_vin else battery_without_vin(summary)


def battery_document(
    app: BatteryTrace,
    code: str,
    *,
    as_of: datetime | None = None,
    timeline: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole life of one battery rebuilt from the event store, optionally as it stood at a
    past moment, in the lifecycle view's shape (``projections.battery_document``).
    ``timeline``: the battery's event records, when the caller has read them already."""
    battery = app.battery_as_of(code, as_of) if as_of else app.battery(code)
    if timeline is None:
        timeline = [event_record(e) for e in app.history(code)]
    if as_of:
        timeline = timeline[: battery.version]
    return documents.battery_document(
        battery_facts(battery),
        timeline,
        lambda linked: battery_facts(app.battery(linked)),
        as_of=plain(as_of) if as_of else None,
    )


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
