"""Read models as plain queries: each function answers one question from the view tables and
returns plain dicts, ready for a table, CSV or JSON.

One battery's lifecycle is primary-key reads (its row, its events by (code, version), its links),
so its cost does not depend on how many batteries the store holds; report queries use the views'
indexes and small aggregated tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select

from batterytrace.events.conventions import BATTERY_TYPES, EARLIEST_EVENT_DATE
from batterytrace.events.regions import division
from batterytrace.events.review import Review
from batterytrace.events.zone import CHINA_STANDARD_TIME
from batterytrace.projections.battery_document import MAX_LINEAGE_DEPTH, battery_document
from batterytrace.projections.database import read_session
from batterytrace.projections.quantities import THOUSANDTHS, display_row, in_units
from batterytrace.projections.tables import (
    lifecycle_batteries,
    lifecycle_events,
    lifecycle_participants,
    lifecycle_points,
    network_flows,
    network_participants,
    network_points,
    report_batteries,
    report_findings,
    report_monthly,
)


@dataclass(frozen=True)
class Filters:
    """What a regulator narrows a report to; every field is optional."""

    manufacturer: str | None = None
    region: str | None = None  # 2-digit province, 4-digit prefecture or 6-digit division prefix
    since: date | None = None
    until: date | None = None
    limit: int | None = None
    offset: int = 0

    @property
    def region_prefix(self) -> str | None:
        if not self.region:
            return None
        region = self.region.strip()
        if len(region) == 6 and region[2:] == "0000":
            return region[:2]  # a province
        if len(region) == 6 and region[4:] == "00":
            return region[:4]  # a prefecture
        return region

    @property
    def since_moment(self) -> datetime | None:
        """The start of ``since`` (CST) as an instant; None where it excludes nothing."""
        if self.since is None or self.since <= EARLIEST_EVENT_DATE:
            return None
        return datetime.combine(self.since, time(0), CHINA_STANDARD_TIME)

    @property
    def until_moment(self) -> datetime | None:
        """The end of ``until`` (CST) as an instant, exclusive; None where it excludes nothing (the
        calendar's last days, which no real-world time reaches and whose end cannot be computed)."""
        if self.until is None or self.until >= date.max - timedelta(days=2):
            return None
        return datetime.combine(self.until + timedelta(days=1), time(0), CHINA_STANDARD_TIME)


def _month(day: date) -> str:
    """The month key of the monthly report ("2026-03"), zero-padded for every year."""
    return f"{day.year:04d}-{day.month:02d}"


def _iso(value: Any) -> Any:
    """Times are shown in China Standard Time, the platform's convention (stored in UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(CHINA_STANDARD_TIME).isoformat()
    return value.isoformat() if isinstance(value, date) else value


def _plain(row: Any) -> dict[str, Any]:
    """A row for people: times in CST, stored Wh and g as kWh and kg (quantities.py)."""
    return display_row({key: _iso(value) for key, value in dict(row).items()})


# ---------------------------------------------------------------------------------- lifecycle
def battery_lifecycle(
    engine: Engine, code: str, *, now: datetime | None = None, overdue_days: int = 90
) -> dict[str, Any] | None:
    """The whole life of one battery from the lifecycle view (``battery_document``'s shape, with
    the participants' names and the holding collection point), or None if it is not there."""
    with read_session(engine) as connection:
        row = _battery_row(connection, code)
        if row is None:
            return None
        timeline = [
            _plain(r)
            for r in connection.execute(
                select(lifecycle_events)
                .where(lifecycle_events.c.code == code)
                .order_by(lifecycle_events.c.version)
            ).mappings()
        ]
        named = {row["manufacturer_id"], row["responsible_id"]} | {t["actor_id"] for t in timeline}
        names = _names(connection, named)
        names_en = _names(connection, named, english=True)
        point = None
        if row["collection_point_id"]:
            found = (
                connection.execute(
                    select(lifecycle_points).where(lifecycle_points.c.id == row["collection_point_id"])
                )
                .mappings()
                .first()
            )
            point = _plain(found) if found else None
        links = _linked_rows(connection, row)
        channel = connection.execute(
            select(report_batteries.c.retired_at, report_batteries.c.channel_at).where(
                report_batteries.c.code == code
            )
        ).first()
    facts = _plain(row)
    if channel is not None and _is_overdue(channel, now or datetime.now(UTC), overdue_days):
        facts["flags"] = [*facts["flags"], f"overdue (retired over {overdue_days} days ago, not taken in)"]
    facts["manufacturer_name"] = names.get(row["manufacturer_id"])
    facts["manufacturer_name_en"] = names_en.get(row["manufacturer_id"])
    facts["responsible_name"] = names.get(row["responsible_id"])
    facts["responsible_name_en"] = names_en.get(row["responsible_id"])
    facts["collection_point"] = point
    for entry in timeline:
        entry["actor_name"] = names.get(entry["actor_id"])
        entry["actor_name_en"] = names_en.get(entry["actor_id"])
    return battery_document(facts, timeline, links.get)


def _battery_row(connection: Connection, code: str) -> Any:
    return (
        connection.execute(select(lifecycle_batteries).where(lifecycle_batteries.c.code == code))
        .mappings()
        .first()
    )


def _names(connection: Connection, ids: set[str | None], *, english: bool = False) -> dict[str, str]:
    """Participants' registered names by credit code; ``english``: their English names, for
    those that have one (English pages show ``name`` where it is missing)."""
    wanted = sorted(i for i in ids if i)
    if not wanted:
        return {}
    column = lifecycle_participants.c.name_en if english else lifecycle_participants.c.name
    query = select(lifecycle_participants.c.credit_code, column.label("shown")).where(
        lifecycle_participants.c.credit_code.in_(wanted)
    )
    return {r.credit_code: r.shown for r in connection.execute(query) if r.shown is not None}


def _is_overdue(channel: Any, now: datetime, days: int) -> bool:
    """Retired more than ``days`` ago and not yet taken in by an outlet or a whitelisted
    receiver (the same rule as the overdue report)."""
    retired_at, channel_at = channel
    return retired_at is not None and channel_at is None and retired_at < now - timedelta(days=days)


_LINKS = ("components", "derived_from", "pack", "second_life_product")


def _linked_rows(connection: Connection, row: Any) -> dict[str, Any]:
    """The rows of every battery linked to ``row`` within the lineage's depth, by code (primary-key
    reads, level by level): what ``battery_document`` follows its lineage through."""
    found: dict[str, Any] = {}
    wanted = _linked_codes(row)
    for _ in range(MAX_LINEAGE_DEPTH + 1):
        wanted -= found.keys()
        if not wanted:
            break
        rows = connection.execute(
            select(lifecycle_batteries).where(lifecycle_batteries.c.code.in_(sorted(wanted)))
        ).mappings()
        fresh = {r["code"]: r for r in rows}
        found.update(fresh)
        found.update({code: None for code in wanted - fresh.keys()})
        wanted = set().union(*(_linked_codes(r) for r in fresh.values()))
    return {code: r for code, r in found.items() if r is not None}


def _linked_codes(row: Any) -> set[str]:
    codes = set(row["components"]) | set(row["derived_from"])
    return codes | {row[key] for key in ("pack", "second_life_product") if row[key]}


# ------------------------------------------------------------------------------------ network
def _region_clause(column: Any, filters: Filters) -> Any:
    prefix = filters.region_prefix
    return column.like(f"{prefix}%") if prefix else None


def _where(*clauses: Any) -> Any:
    present = [c for c in clauses if c is not None]
    return and_(*present) if present else None


def _page(query: Any, filters: Filters) -> Any:
    if filters.limit is not None:
        query = query.limit(filters.limit)
    return query.offset(filters.offset) if filters.offset else query


# ------------------------------------------------------------------- reading reports in chunks
# A report is read as one ordered SELECT through a server-side cursor, ROWS_PER_CHUNK rows at a
# time: a whole export (tens of thousands of rows) never sits in memory, and, being one
# statement, it is one consistent snapshot, so no row is skipped or repeated while the views
# move on. The list functions (network(), monthly(), …) are the same generators, collected.
ROWS_PER_CHUNK = 1000


def _chunks(
    engine: Engine, query: Any, convert: Any = None
) -> Iterator[tuple[Connection, list[dict[str, Any]]]]:
    """The rows of ``query`` in chunks from one server-side cursor, each row passed through
    ``convert`` (default ``_plain``), with the connection for look-ups a chunk needs (names)."""
    convert = convert or _plain
    with read_session(engine) as connection:
        result = connection.execution_options(yield_per=ROWS_PER_CHUNK).execute(query).mappings()
        for part in result.partitions():
            yield connection, [convert(r) for r in part]


def _count(engine: Engine, query: Any) -> int:
    """How many rows ``query`` answers, ignoring its order and paging: a report page's total."""
    counted = select(func.count()).select_from(query.order_by(None).limit(None).offset(None).subquery())
    with read_session(engine) as connection:
        return int(connection.execute(counted).scalar_one())


def _network_query(filters: Filters) -> Any:
    where = _where(
        _region_clause(network_points.c.division_code, filters),
        network_points.c.operator_id == filters.manufacturer if filters.manufacturer else None,
    )
    query = select(network_points).order_by(network_points.c.id)
    return query.where(where) if where is not None else query


def network(engine: Engine, filters: Filters = Filters()) -> list[dict[str, Any]]:
    """Per collection point: collected, on hand against capacity, handed over (and how much of
    it to whitelisted receivers), recycled and cascade-used afterwards."""
    return list(network_rows(engine, filters))


def network_rows(engine: Engine, filters: Filters = Filters()) -> Iterator[dict[str, Any]]:
    """``network`` row by row, read in chunks."""
    for _, rows in _chunks(engine, _page(_network_query(filters), filters)):
        for row in rows:
            row["fill_ratio"] = (
                round(row["on_hand_kg"] / row["capacity_kg"], 3) if row["capacity_kg"] else None
            )
            row["over_capacity"] = row["on_hand_kg"] > row["capacity_kg"]
        yield from rows


def network_count(engine: Engine, filters: Filters = Filters()) -> int:
    return _count(engine, _network_query(filters))


def regions(engine: Engine, filters: Filters = Filters(), *, level: str = "province") -> list[dict[str, Any]]:
    """Per province (or prefecture): collection points, collected, recycled, and the share of
    handovers that went to whitelisted receivers."""
    key = network_points.c.province_code if level == "province" else network_points.c.prefecture_code
    query = (
        select(
            key.label("region_code"),
            func.count().label("collection_points"),
            func.sum(network_points.c.collected_count).label("collected"),
            func.sum(network_points.c.collected_g).label("collected_g"),
            func.sum(network_points.c.on_hand_g).label("on_hand_g"),
            func.sum(network_points.c.handed_over_count).label("handed_over"),
            func.sum(network_points.c.handed_compliant_count).label("handed_to_whitelisted"),
            func.sum(network_points.c.recycled_count).label("recycled"),
            func.sum(network_points.c.cascade_used_count).label("cascade_used"),
        )
        .group_by(key)
        .order_by(key)
    )
    clause = _region_clause(network_points.c.division_code, filters)
    if clause is not None:
        query = query.where(clause)
    with read_session(engine) as connection:
        rows = [display_row(dict(r)) for r in connection.execute(query).mappings()]
    for row in rows:
        place = division(row["region_code"])
        row["region_name"] = place.name if place else None
        row["region_name_en"] = place.name_en if place else None
        handed = row["handed_over"] or 0
        row["whitelisted_share"] = round((row["handed_to_whitelisted"] or 0) / handed, 3) if handed else None
    return rows


def flows(engine: Engine, filters: Filters = Filters()) -> list[dict[str, Any]]:
    """Edges from outlets (or enterprises) to receivers, with counts, mass and compliance."""
    return list(flows_rows(engine, filters))


def flows_rows(engine: Engine, filters: Filters = Filters()) -> Iterator[dict[str, Any]]:
    """``flows`` row by row, read in chunks."""
    for _, rows in _chunks(engine, _page(_flows_query(filters), filters)):
        yield from rows


def flows_count(engine: Engine, filters: Filters = Filters()) -> int:
    return _count(engine, _flows_query(filters))


def _flows_query(filters: Filters) -> Any:
    receiver = network_participants.alias("receiver")
    query = (
        select(
            network_flows,
            receiver.c.name.label("receiver_name"),
            receiver.c.name_en.label("receiver_name_en"),
        )
        .join(receiver, receiver.c.credit_code == network_flows.c.receiver_id, isouter=True)
        .order_by(network_flows.c.count.desc(), network_flows.c.source_id, network_flows.c.receiver_id)
    )
    if filters.region_prefix:
        points = select(network_points.c.id).where(
            network_points.c.division_code.like(f"{filters.region_prefix}%")
        )
        query = query.where(network_flows.c.source_id.in_(points))
    if filters.manufacturer:
        query = query.where(
            or_(
                network_flows.c.receiver_id == filters.manufacturer,
                network_flows.c.source_id == filters.manufacturer,
            )
        )
    return query


# ------------------------------------------------------------------------------------ reports
def monthly(engine: Engine, filters: Filters = Filters()) -> list[dict[str, Any]]:
    """Per manufacturer and month, with the recycling rate of the month's retired batteries:
    the share that has since reached a whitelisted recycler or a second life."""
    return list(monthly_rows(engine, filters))


def monthly_count(engine: Engine, filters: Filters = Filters()) -> int:
    return _count(engine, _monthly_query(filters))


def _monthly_query(filters: Filters) -> Any:
    query = select(report_monthly).order_by(report_monthly.c.month, report_monthly.c.manufacturer_id)
    clauses = [
        report_monthly.c.manufacturer_id == filters.manufacturer if filters.manufacturer else None,
        report_monthly.c.month >= _month(filters.since) if filters.since else None,
        report_monthly.c.month <= _month(filters.until) if filters.until else None,
    ]
    where = _where(*clauses)
    return query.where(where) if where is not None else query


def monthly_rows(engine: Engine, filters: Filters = Filters()) -> Iterator[dict[str, Any]]:
    """``monthly`` row by row, read in chunks (names looked up once per chunk)."""
    query = _page(_monthly_query(filters), filters)
    for connection, rows in _chunks(engine, query, lambda r: display_row(dict(r))):
        makers = {r["manufacturer_id"] for r in rows}
        names, names_en = _names(connection, makers), _names(connection, makers, english=True)
        for row in rows:
            row["manufacturer_name"] = names.get(row["manufacturer_id"])
            row["manufacturer_name_en"] = names_en.get(row["manufacturer_id"])
            row["recycling_rate"] = recycling_rate(row)
        yield from rows


def recycling_rate(row: dict[str, Any]) -> float | None:
    retired = row["retired"]
    if not retired:
        return None
    return round(row["retired_then_formal"] / retired, 3)


def overdue(
    engine: Engine, filters: Filters = Filters(), *, now: datetime | None = None, days: int = 90
) -> list[dict[str, Any]]:
    """Batteries retired more than ``days`` ago that no collection point or whitelisted
    enterprise has taken in."""
    return list(overdue_rows(engine, filters, now=now, days=days))


def overdue_rows(
    engine: Engine, filters: Filters = Filters(), *, now: datetime | None = None, days: int = 90
) -> Iterator[dict[str, Any]]:
    """``overdue`` row by row, read in chunks."""
    now_value = now or datetime.now(UTC)
    for _, rows in _chunks(engine, _page(_overdue_query(filters, now_value, days), filters)):
        for row in rows:
            row["days_since_retired"] = (now_value - datetime.fromisoformat(row["retired_at"])).days
        yield from rows


def overdue_count(
    engine: Engine, filters: Filters = Filters(), *, now: datetime | None = None, days: int = 90
) -> int:
    return _count(engine, _overdue_query(filters, now or datetime.now(UTC), days))


def _overdue_query(filters: Filters, now: datetime, days: int) -> Any:
    cutoff = now - timedelta(days=days)
    query = (
        select(
            report_batteries.c.code,
            report_batteries.c.manufacturer_id,
            report_batteries.c.state,
            report_batteries.c.retired_at,
            lifecycle_batteries.c.responsible_id.label("held_by"),
            lifecycle_batteries.c.vin,
        )
        .join(lifecycle_batteries, lifecycle_batteries.c.code == report_batteries.c.code, isouter=True)
        .where(report_batteries.c.channel_at.is_(None), report_batteries.c.retired_at < cutoff)
        .order_by(report_batteries.c.retired_at, report_batteries.c.code)
    )
    if filters.manufacturer:
        query = query.where(report_batteries.c.manufacturer_id == filters.manufacturer)
    return query


FINDING_KINDS = (
    "non_compliant_handover",
    "late_report",
    "backwards_date",
    "unverified_custody",
    "outlet_over_capacity",
)


def compliance(
    engine: Engine, filters: Filters = Filters(), *, kind: str | None = None
) -> list[dict[str, Any]]:
    """Every finding: outlets holding more than their capacity (a state of now, listed first and
    left out when the report is narrowed to a manufacturer or to dates), then non-compliant
    handovers, late reports and backwards dates by real-world time. ``kind`` keeps one kind;
    paging applies to the whole list."""
    return list(compliance_rows(engine, filters, kind=kind))


def compliance_rows(
    engine: Engine, filters: Filters = Filters(), *, kind: str | None = None
) -> Iterator[dict[str, Any]]:
    """``compliance`` row by row: the outlets (few), then the findings read in chunks."""
    with read_session(engine) as connection:
        outlets = _over_capacity(connection, filters) if kind in (None, "outlet_over_capacity") else []
    skip = min(filters.offset, len(outlets))
    shown = outlets[skip:]
    if filters.limit is not None:
        shown = shown[: filters.limit]
    yield from shown
    remaining = None if filters.limit is None else filters.limit - len(shown)
    if kind != "outlet_over_capacity" and remaining != 0:
        query = _findings_query(filters, kind).offset(filters.offset - skip)
        if remaining is not None:
            query = query.limit(remaining)
        for _, rows in _chunks(engine, query, lambda r: _with_due_by(_plain(r))):
            yield from rows


def compliance_count(engine: Engine, filters: Filters = Filters(), *, kind: str | None = None) -> int:
    """Outlets over capacity plus findings, for the same filters."""
    with read_session(engine) as connection:
        outlets = len(_over_capacity(connection, filters)) if kind in (None, "outlet_over_capacity") else 0
    findings = _count(engine, _findings_query(filters, kind)) if kind != "outlet_over_capacity" else 0
    return outlets + findings


def _with_due_by(finding: dict[str, Any]) -> dict[str, Any]:
    """A late report's last allowed day (CST) beside ``due_at``, the moment it became late (the
    following midnight): what a page shows as "due by"."""
    due_at = finding.get("due_at")
    last_day = (datetime.fromisoformat(due_at) - timedelta(days=1)).date() if due_at else None
    finding["due_by"] = last_day.isoformat() if last_day else None
    return finding


def _findings_query(filters: Filters, kind: str | None) -> Any:
    query = select(report_findings).order_by(
        report_findings.c.occurred_at,
        report_findings.c.code,
        report_findings.c.version,
        report_findings.c.kind,
    )
    since, until = filters.since_moment, filters.until_moment
    where = _where(
        report_findings.c.kind == kind if kind else None,
        report_findings.c.manufacturer_id == filters.manufacturer if filters.manufacturer else None,
        report_findings.c.occurred_at >= since if since else None,
        report_findings.c.occurred_at < until if until else None,
    )
    return query.where(where) if where is not None else query


def _over_capacity(connection: Connection, filters: Filters) -> list[dict[str, Any]]:
    if filters.manufacturer or filters.since or filters.until:
        return []
    query = select(network_points).where(
        network_points.c.on_hand_g > network_points.c.capacity_kg * THOUSANDTHS
    )
    clause = _region_clause(network_points.c.division_code, filters)
    if clause is not None:
        query = query.where(clause)
    return [
        {
            "code": None,
            "version": None,
            "kind": "outlet_over_capacity",
            "manufacturer_id": None,
            "event": None,
            "actor_id": outlet["operator_id"],
            "occurred_at": None,
            "recorded_at": None,
            "detail": f"{outlet['id']} ({outlet['name']}) holds {in_units(outlet['on_hand_g']):.0f} kg, "
            f"capacity {outlet['capacity_kg']:.0f} kg",
            "due_at": None,
            "deadline_working_days": None,
            "deadline_role": None,
            "due_by": None,
            "collection_point_id": outlet["id"],
        }
        for outlet in connection.execute(query.order_by(network_points.c.id)).mappings()
    ]


# --------------------------------------------------------------------------- collection points
def approved_points() -> Any:
    """The ids of collection points a regulator has approved: the only ones shown to the public
    (a point its operator registered is pending review until then)."""
    return select(network_points.c.id).where(network_points.c.review == Review.APPROVED.value)


def is_approved(engine: Engine, point_id: str) -> bool:
    """Whether public pages may name this collection point."""
    with read_session(engine) as connection:
        review = connection.execute(
            select(network_points.c.review).where(network_points.c.id == point_id)
        ).scalar()
    return review == Review.APPROVED.value


def point_location(engine: Engine, point_id: str) -> tuple[float, float] | None:
    """A collection point's (latitude, longitude), where it has them."""
    with read_session(engine) as connection:
        row = connection.execute(
            select(lifecycle_points.c.latitude, lifecycle_points.c.longitude).where(
                lifecycle_points.c.id == point_id
            )
        ).first()
    if row is None or row.latitude is None or row.longitude is None:
        return None
    return row.latitude, row.longitude


def participant_division(engine: Engine, credit_code: str) -> str | None:
    """The division code of a participant's registered seat, where it gave one."""
    with read_session(engine) as connection:
        return connection.execute(
            select(lifecycle_participants.c.division_code).where(
                lifecycle_participants.c.credit_code == credit_code
            )
        ).scalar()


EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
SEARCH_RADII_DEGREES = (0.5, 2.0, 8.0, 32.0)  # widened until the nearest points are certain


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def nearest_points(
    engine: Engine, reference: tuple[float, float] | None, *, limit: int, exclude: str | None = None
) -> list[dict[str, Any]]:
    """The ``limit`` approved collection points with coordinates nearest to ``reference``
    (``exclude``, the point holding the battery, left out); without a reference, the first
    ``limit`` approved points by id, with no distance.

    A box around the reference is searched first and widened until every point outside it is
    certainly farther than the last one kept, so a page never reads the whole national table."""
    p = lifecycle_points.c
    columns = select(p.id, p.name, p.name_en, p.address, p.latitude, p.longitude).where(
        p.id.in_(approved_points())
    )
    if exclude is not None:
        columns = columns.where(p.id != exclude)
    with read_session(engine) as connection:
        if reference is None:
            rows = connection.execute(columns.order_by(p.id).limit(limit))
            return [
                {"name": r.name, "name_en": r.name_en, "address": r.address, "distance_km": None}
                for r in rows
            ]
        ranked = _ranked_near(connection, columns, reference, limit)
    return [
        {"name": row.name, "name_en": row.name_en, "address": row.address, "distance_km": round(distance, 1)}
        for distance, _id, row in ranked
    ]


def _ranked_near(
    connection: Connection, columns: Any, reference: tuple[float, float], limit: int
) -> list[tuple[float, str, Any]]:
    p = lifecycle_points.c
    lat, lon = reference
    located = columns.where(p.latitude.is_not(None), p.longitude.is_not(None))
    ranked: list[tuple[float, str, Any]] = []
    for radius in (*SEARCH_RADII_DEGREES, None):
        query = located
        if radius is not None:
            query = query.where(
                p.latitude.between(lat - radius, lat + radius),
                p.longitude.between(lon - radius, lon + radius),
            )
        ranked = sorted(
            (distance_km(reference, (r.latitude, r.longitude)), r.id, r) for r in connection.execute(query)
        )[:limit]
        if radius is None:
            break
        # Any point outside the box is at least this far away (a degree of longitude shrinks
        # towards the poles).
        certain = radius * KM_PER_DEGREE * math.cos(math.radians(min(89.9, abs(lat) + radius)))
        if len(ranked) == limit and ranked[-1][0] <= certain:
            break
    return ranked


def collection_points(engine: Engine, filters: Filters = Filters()) -> list[dict[str, Any]]:
    """Approved collection points (the public list of where to hand batteries in), by id."""
    return list(collection_points_rows(engine, filters))


def collection_points_rows(engine: Engine, filters: Filters = Filters()) -> Iterator[dict[str, Any]]:
    """``collection_points`` row by row, read in chunks."""
    for _, rows in _chunks(engine, _page(_collection_points_query(filters), filters), dict):
        yield from rows


def collection_points_count(engine: Engine, filters: Filters = Filters()) -> int:
    return _count(engine, _collection_points_query(filters))


def _collection_points_query(filters: Filters) -> Any:
    query = (
        select(lifecycle_points)
        .where(lifecycle_points.c.id.in_(approved_points()))
        .order_by(lifecycle_points.c.id)
    )
    clause = _region_clause(lifecycle_points.c.division_code, filters)
    return query.where(clause) if clause is not None else query


# ---------------------------------------------------------------------------------- the outlet
def operated_points(engine: Engine, operator_id: str) -> list[dict[str, Any]]:
    """The collection points one enterprise operates, by id: where its scanners may take in, and
    whether each is approved (shown to the public) or pending review."""
    query = (
        select(lifecycle_points, network_points.c.review)
        .join(network_points, network_points.c.id == lifecycle_points.c.id, isouter=True)
        .where(lifecycle_points.c.operator_id == operator_id)
        .order_by(lifecycle_points.c.id)
    )
    with read_session(engine) as connection:
        rows = [dict(r) for r in connection.execute(query).mappings()]
    for row in rows:
        row["review"] = row["review"] or Review.PENDING.value  # the network view is behind
    return rows


def batteries_on_hand(engine: Engine, point_id: str, filters: Filters = Filters()) -> list[dict[str, Any]]:
    """The batteries a collection point holds now (taken in, not yet handed over), longest-held
    first: what its operator can hand over to a recycler or a cascade-use enterprise."""
    return list(batteries_on_hand_rows(engine, point_id, filters))


def batteries_on_hand_rows(
    engine: Engine, point_id: str, filters: Filters = Filters()
) -> Iterator[dict[str, Any]]:
    """``batteries_on_hand`` row by row, read in chunks."""
    for _, rows in _chunks(engine, _page(_on_hand_query(point_id), filters)):
        for row in rows:
            row["chemistry"] = BATTERY_TYPES.get(row.pop("battery_type"), "unknown")
        yield from rows


def batteries_on_hand_count(engine: Engine, point_id: str) -> int:
    return _count(engine, _on_hand_query(point_id))


def _on_hand_query(point_id: str) -> Any:
    maker = lifecycle_participants.alias("maker")
    return (
        select(
            lifecycle_batteries.c.code,
            lifecycle_batteries.c.level,
            lifecycle_batteries.c.battery_type,
            lifecycle_batteries.c.manufacturer_id,
            maker.c.name.label("manufacturer_name"),
            maker.c.name_en.label("manufacturer_name_en"),
            lifecycle_batteries.c.mass_kg,
            lifecycle_batteries.c.energy_kwh,
            lifecycle_batteries.c.flags,
            lifecycle_batteries.c.last_occurred_at.label("collected_at"),
        )
        .select_from(
            lifecycle_batteries.outerjoin(maker, maker.c.credit_code == lifecycle_batteries.c.manufacturer_id)
        )
        .where(
            lifecycle_batteries.c.collection_point_id == point_id,
            lifecycle_batteries.c.holder_kind == "collection_point",
        )
        .order_by(lifecycle_batteries.c.last_occurred_at, lifecycle_batteries.c.code)
    )


def receivers(engine: Engine, roles: tuple[str, ...]) -> list[dict[str, Any]]:
    """Participants with any of ``roles`` and their whitelist periods, by name (whitelists are
    public: an owner may check where a battery is allowed to go)."""
    query = select(
        lifecycle_participants.c.credit_code,
        lifecycle_participants.c.name,
        lifecycle_participants.c.name_en,
        lifecycle_participants.c.roles,
        lifecycle_participants.c.whitelist,
    ).order_by(lifecycle_participants.c.name, lifecycle_participants.c.credit_code)
    with read_session(engine) as connection:
        rows = [dict(r) for r in connection.execute(query).mappings()]
    return [row for row in rows if set(row["roles"]) & set(roles)]
