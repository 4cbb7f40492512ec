"""Who sees what of a battery: the public subset, an involved participant's part, a regulator's all.

Access follows the EU battery passport's tiers (domain.md): the public sees what the QR code
page shows (what the battery is, its state, its lineage); regulators see everything; a
participant involved with a battery (made it, acted on it, received it, holds it now) sees its
history from the event at which it became involved, and the vehicle's VIN only if it had the
vehicle or made the battery; any other battery only in its public part.

The involvement rule itself is the domain's (``events/disclosure.py``); this module applies it to
battery documents, for the API's routes and the pages alike.
"""

from __future__ import annotations

from typing import Any

from batterytrace.events.disclosure import FULL, Disclosure, EventFacts, disclosure_for, without_vin
from batterytrace.events.participant import Participant

# What anyone may read of a battery: no VIN, no participant ids (the maker by name), no events.
PUBLIC_FIELDS = (
    "code",
    "level",
    "chemistry",
    "manufacturer_name",
    "manufacturer_name_en",
    "state",
    "second_life",
)


def public_battery(battery: dict[str, Any]) -> dict[str, Any]:
    """The public subset of a battery document's summary: what its QR code page shows, with the
    production month only (the date would narrow down a vehicle)."""
    shown = {key: battery.get(key) for key in PUBLIC_FIELDS}
    shown["production_month"] = str(battery["production_date"])[:7]
    shown["second_life"] = bool(shown["second_life"])
    return shown


def public_document(document: dict[str, Any]) -> dict[str, Any]:
    """What the public may see of a battery document: its public summary and its lineage."""
    return {"battery": public_battery(document["battery"]), "lineage": document["lineage"]}


def disclosure_of(caller: Participant, timeline: list[dict[str, Any]]) -> Disclosure:
    """What ``caller`` may read of the battery whose timeline (oldest first) this is."""
    return disclosure_for(caller.id, timeline_facts(timeline), is_regulator=caller.is_regulator)


def timeline_facts(timeline: list[dict[str, Any]]) -> list[EventFacts]:
    """Timeline entries (from the view or the store) as the facts disclosure rules read."""
    return [EventFacts(e["version"], e["event"], e["actor_id"], e["details"]) for e in timeline]


def battery_without_vin(battery: dict[str, Any]) -> dict[str, Any]:
    """A battery document's facts without the vehicle's VIN (which is also the holder's id while
    the battery is in a vehicle)."""
    holder = dict(battery["holder"])
    if holder.get("kind") == "vehicle":
        holder["id"] = None
    hidden = {"vin": None, "holder": holder}
    if battery.get("holder_kind") == "vehicle":
        hidden["holder_id"] = None  # the view's flat copy of the holder
    return {**battery, **hidden}


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
