"""The recycling-network view: what each collection point took in and passed on, the flows
between participants, and, through each point's region, where retired batteries go.

Counters change by increments, so a batch is a handful of statements whatever its size. Masses
and energy are counted in whole grams and watt-hours (``quantities``), so that the sums are exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.sql.expression import bindparam

from batterytrace.events.battery import Battery
from batterytrace.events.collection_point import CollectionPoint, Review, review_at_registration
from batterytrace.events.participant import Participant
from batterytrace.events.regions import prefecture_of
from batterytrace.projections.database import upsert
from batterytrace.projections.fresh_tables import FreshTables
from batterytrace.projections.quantities import thousandths
from batterytrace.projections.tables import (
    network_flows,
    network_last_point,
    network_participants,
    network_points,
)

POINT_COUNTERS = (
    "collected_count",
    "collected_g",
    "collected_wh",
    "on_hand_count",
    "on_hand_g",
    "handed_over_count",
    "handed_over_g",
    "handed_compliant_count",
    "recycled_count",
    "cascade_used_count",
)

# Where a battery that passed through a collection point ends: counted at its last point.
_AFTER_A_POINT = (Battery.Recycled, Battery.CascadeReused)


FLOW_KEY = ("source_kind", "source_id", "receiver_id", "activity")
FLOW_COUNTERS = ("count", "mass_g", "energy_wh", "compliant_count")


@dataclass
class NetworkBatch:
    """What a batch of events adds to the network view (``NetworkView.fold``)."""

    new_points: list[dict[str, Any]] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)
    participants: list[dict[str, Any]] = field(default_factory=list)
    deltas: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(POINT_COUNTERS, 0))
    )
    flows: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    moved: dict[str, str] = field(default_factory=dict)  # battery -> the point it was collected at


class NetworkView:
    name = "network"

    def apply(self, connection: Connection, events: Sequence[tuple[int, Any]]) -> None:
        """The follower's path: fold the batch, then add its increments to the tables."""
        batch = self.fold(events, self._last_points(connection, events))
        if batch.new_points:
            connection.execute(insert(network_points), batch.new_points)
        if batch.approved:  # after the insert: a point may be registered and approved in one batch
            connection.execute(
                update(network_points)
                .where(network_points.c.id.in_(sorted(set(batch.approved))))
                .values(review=Review.APPROVED.value)
            )
        upsert(connection, network_participants, batch.participants, key=["credit_code"])
        self._add_to_points(connection, batch.deltas)
        upsert(
            connection,
            network_flows,
            list(batch.flows.values()),
            key=FLOW_KEY,
            add=FLOW_COUNTERS,
        )
        upsert(
            connection,
            network_last_point,
            [{"code": code, "point_id": point} for code, point in batch.moved.items()],
            key=["code"],
        )

    def fold(self, events: Sequence[tuple[int, Any]], last_point: dict[str, str]) -> NetworkBatch:
        """What the events add: new points and participants, approvals, and increments of the
        points' counters and of the flows. ``last_point`` (each battery's last collection point,
        holding at least the batch's recycled and cascade-used batteries) is moved on in place.
        Shared by ``apply`` and the set-wise rebuild (``builder``)."""
        batch = NetworkBatch()
        deltas, flows, moved = batch.deltas, batch.flows, batch.moved
        for _, e in events:
            if isinstance(e, CollectionPoint.Registered):
                batch.new_points.append(_point_row(e))
            elif isinstance(e, CollectionPoint.Approved):
                batch.approved.append(e.originator_id)
            elif isinstance(e, Participant.Registered):
                batch.participants.append(
                    {
                        "credit_code": e.originator_id,
                        "name": e.name,
                        "name_en": getattr(e, "name_en", None),  # None in older events
                        "roles": list(e.roles),
                        "division_code": e.division_code,
                    }
                )
            elif isinstance(e, Battery.Collected):
                d = deltas[e.collection_point_id]
                grams = thousandths(e.mass_kg)
                d["collected_count"] += 1
                d["collected_g"] += grams
                d["collected_wh"] += thousandths(e.energy_kwh)
                d["on_hand_count"] += 1
                d["on_hand_g"] += grams
                last_point[e.originator_id] = moved[e.originator_id] = e.collection_point_id
            elif isinstance(e, Battery.HandedOver):
                self._handed_over(e, deltas, flows)
            elif isinstance(e, _AFTER_A_POINT):
                point = last_point.get(e.originator_id)
                if point:
                    counter = "recycled_count" if isinstance(e, Battery.Recycled) else "cascade_used_count"
                    deltas[point][counter] += 1
        return batch

    def builder(self, fresh: FreshTables) -> NetworkBuilder:
        """The set-wise rebuild of this view into ``fresh`` (``projections/rebuild.py``)."""
        return NetworkBuilder(self, fresh)

    def _last_points(self, connection: Connection, events: Sequence[tuple[int, Any]]) -> dict[str, str]:
        codes = sorted({e.originator_id for _, e in events if isinstance(e, _AFTER_A_POINT)})
        found: dict[str, str] = {}
        for start in range(0, len(codes), 500):
            query = select(network_last_point).where(
                network_last_point.c.code.in_(codes[start : start + 500])
            )
            found.update({row.code: row.point_id for row in connection.execute(query)})
        return found

    @staticmethod
    def _handed_over(
        e: Any,
        deltas: dict[str, dict[str, int]],
        flows: dict[tuple[str, str, str, str], dict[str, Any]],
    ) -> None:
        point = e.from_collection_point_id
        grams = thousandths(e.mass_kg)
        if point:
            d = deltas[point]
            d["on_hand_count"] -= 1
            d["on_hand_g"] -= grams
            d["handed_over_count"] += 1
            d["handed_over_g"] += grams
            d["handed_compliant_count"] += 1 if e.compliant else 0
        source = ("collection_point", point) if point else ("enterprise", e.actor_id)
        key = (*source, e.receiver_id, e.activity)
        flow = flows.setdefault(
            key,
            {
                "source_kind": source[0],
                "source_id": source[1],
                "receiver_id": e.receiver_id,
                "activity": e.activity,
                "count": 0,
                "mass_g": 0,
                "energy_wh": 0,
                "compliant_count": 0,
            },
        )
        flow["count"] += 1
        flow["mass_g"] += grams
        flow["energy_wh"] += thousandths(e.energy_kwh)
        flow["compliant_count"] += 1 if e.compliant else 0

    @staticmethod
    def _add_to_points(connection: Connection, deltas: dict[str, dict[str, int]]) -> None:
        if not deltas:
            return
        statement = (
            update(network_points)
            .where(network_points.c.id == bindparam("point_id"))
            .values({name: network_points.c[name] + bindparam(f"d_{name}") for name in POINT_COUNTERS})
        )
        connection.execute(
            statement,
            [
                {"point_id": point, **{f"d_{name}": value for name, value in d.items()}}
                for point, d in sorted(deltas.items())
            ],
        )


def _point_row(e: Any) -> dict[str, Any]:
    prefecture = prefecture_of(e.division_code)
    return {
        "id": e.originator_id,
        "name": e.name,
        "name_en": getattr(e, "name_en", None),  # None in events recorded before it existed
        "operator_id": e.operator_id,
        "kind": e.kind,
        "capacity_kg": e.capacity_kg,
        "division_code": e.division_code,
        "province_code": e.division_code[:2] + "0000",
        "prefecture_code": prefecture.code if prefecture else e.division_code[:4] + "00",
        "latitude": e.latitude,
        "longitude": e.longitude,
        # Events recorded before review existed have no ``approved`` attribute.
        "review": review_at_registration(
            getattr(e, "approved", None), registered_by=e.registered_by, operator_id=e.operator_id
        ).value,
        **dict.fromkeys(POINT_COUNTERS, 0),
    }


class NetworkBuilder:
    """The network view rebuilt from the first event in memory: points, flows, participants and
    each battery's last point are totalled across batches (the increments ``apply`` adds one
    batch at a time) and written once at the end; the network has one row per point and flow,
    and two short strings per collected battery."""

    def __init__(self, view: NetworkView, fresh: FreshTables) -> None:
        self.view = view
        self.fresh = fresh
        self.points: dict[str, dict[str, Any]] = {}
        self.participants: dict[str, dict[str, Any]] = {}
        self.flows: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.last_point: dict[str, str] = {}

    def add(self, events: Sequence[tuple[int, Any]]) -> None:
        batch = self.view.fold(events, self.last_point)
        points = self.points
        for row in batch.new_points:
            points.setdefault(row["id"], row)  # ``apply`` inserts: a point is registered once
        for point_id in batch.approved:
            if point_id in points:
                points[point_id]["review"] = Review.APPROVED.value
        self.participants.update((p["credit_code"], p) for p in batch.participants)
        for point_id, delta in batch.deltas.items():
            row = points.get(point_id)
            if row is not None:  # as ``apply``'s UPDATE: counters of an unknown point go nowhere
                for name, value in delta.items():
                    row[name] += value
        for key, flow in batch.flows.items():
            total = self.flows.get(key)
            if total is None:
                self.flows[key] = flow
            else:
                for name in FLOW_COUNTERS:
                    total[name] += flow[name]

    def finish(self) -> None:
        self.fresh.write(network_points, list(self.points.values()))
        self.fresh.write(network_participants, list(self.participants.values()))
        self.fresh.write(network_flows, list(self.flows.values()))
        self.fresh.write(
            network_last_point, [{"code": code, "point_id": point} for code, point in self.last_point.items()]
        )
