"""One battery document, one shape, from plain facts: whether read from the lifecycle view or
rebuilt from the event store, a battery's summary, timeline and lineage come out the same.

Pure functions over mappings (no database, no aggregate), so that the view's queries and the
service's presenters both build it here: the view passes its rows, the presenters the aggregate's
attributes. It sits on the read side because the layer rule lets ``trace`` import
``projections`` and not the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from batterytrace.events.conventions import BATTERY_TYPES

MAX_LINEAGE_DEPTH = 8

# What a battery is and where it stands, in the order documents show it; any further fact a
# source has (the view's names, site, collection point …) follows these.
SUMMARY_KEYS = (
    "code",
    "level",
    "battery_type",
    "chemistry",
    "manufacturer_id",
    "manufacturer_code",
    "production_date",
    "rated_capacity_ah",
    "nominal_voltage_v",
    "energy_kwh",
    "mass_kg",
    "state",
    "holder",
    "vin",
    "second_life",
    "flags",
    "version",
    "last_occurred_at",
)
# One timeline entry as both sources record it; the view adds its position and lateness.
EVENT_KEYS = ("version", "event", "occurred_at", "recorded_at", "actor_id", "late_correction", "details")
LookUp = Callable[[str], Mapping[str, Any] | None]


def battery_summary(facts: Mapping[str, Any]) -> dict[str, Any]:
    """A battery's summary from its flat facts (a view row, or an aggregate's attributes):
    the holder nested, the chemistry and second life derived here once; other facts kept."""
    summary: dict[str, Any] = {key: facts.get(key) for key in SUMMARY_KEYS}
    summary["chemistry"] = BATTERY_TYPES.get(facts["battery_type"], "unknown")
    summary["holder"] = {
        "kind": facts.get("holder_kind"),
        "id": facts.get("holder_id"),
        "responsible_id": facts.get("responsible_id"),
    }
    summary["second_life"] = bool(facts.get("derived_from"))
    summary["flags"] = list(facts.get("flags") or [])
    extras = {key: value for key, value in facts.items() if key not in summary}
    return {**summary, **extras}


def lineage(
    battery: Mapping[str, Any], look_up: LookUp, *, max_depth: int = MAX_LINEAGE_DEPTH
) -> dict[str, Any]:
    """Links in both directions, followed to any depth (bounded, since lineage is a DAG built
    by the domain, but a bound keeps a damaged store from looping). ``look_up`` gives a linked
    battery's facts (code, level, state, components, derived_from, pack, second_life_product),
    or None for one the source does not have."""

    def node(code: str, key: str, depth: int) -> dict[str, Any]:
        linked = look_up(code)
        if linked is None:
            return {"code": code, "level": None, "state": "unknown"}
        entry = _node(linked)
        follow = list(linked[key] or [])
        if depth < max_depth and follow:
            entry[_BRANCH[key]] = [node(c, key, depth + 1) for c in follow]
        return entry

    def chain(key: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        current: Mapping[str, Any] | None = battery
        while current is not None and current[key] and len(found) < max_depth:
            current = look_up(current[key])
            if current is not None:
                found.append(_node(current))
        return found

    return {
        "components": [node(c, "components", 1) for c in battery["components"]],
        "parent_packs": chain("pack"),
        "originals": [node(c, "derived_from", 1) for c in battery["derived_from"]],
        "second_life_products": chain("second_life_product"),
    }


_BRANCH = {"components": "components", "derived_from": "originals"}


def _node(facts: Mapping[str, Any]) -> dict[str, Any]:
    return {"code": facts["code"], "level": facts["level"], "state": str(facts["state"])}


def battery_document(
    facts: Mapping[str, Any],
    timeline: list[Mapping[str, Any]],
    look_up: LookUp,
    *,
    as_of: str | None = None,
) -> dict[str, Any]:
    """The whole life of one battery: summary, timeline (oldest first) and lineage. The caller
    cuts it to what the reader may see (``trace.access``)."""
    return {
        "battery": battery_summary(facts),
        "as_of": as_of,
        "timeline": [dict(entry) for entry in timeline],
        "lineage": lineage(facts, look_up),
    }


def shared_part(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document without the facts only the view has (names, position, lateness, and the
    flags of the view's own findings: late report, dates run backwards, overdue): what the view
    and the event store must agree on."""
    return {
        "battery": {key: document["battery"][key] for key in SUMMARY_KEYS if key != "flags"},
        "as_of": document["as_of"],
        "timeline": [{key: entry[key] for key in EVENT_KEYS} for entry in document["timeline"]],
        "lineage": document["lineage"],
    }
