"""Read models as plain queries: each function answers one question from the view tables and
returns plain dicts, ready for a table, CSV or JSON.

One battery's lifecycle is primary-key reads (its row, its events by (code, version), its links),
so its cost does not depend on how many batteries the store holds. Here too: the collection points
(public list, nearest, locations), an outlet's stock and receivers, and what every list shares
(``Filters``, from ``filters.py``; reading in chunks, counting, paging). What a row means for
people (``plain_row``, the lifecycle document) is in ``view_rows``, shared with the CLI's plain
reads. The regulator's reports, which use the views' indexes and small aggregated tables, are in
``report_queries``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select

from batterytrace.events.conventions import BATTERY_TYPES
from batterytrace.events.review import Review
from batterytrace.projections.battery_document import MAX_LINEAGE_DEPTH
from batterytrace.projections.database import read_session
from batterytrace.projections.filters import Filters
from batterytrace.projections.filters import month_key as month_key  # defined apart for the plain reads
from batterytrace.projections.tables import (
    lifecycle_batteries,
    lifecycle_events,
    lifecycle_participants,
    lifecycle_points,
    network_points,
    report_batteries,
)
from batterytrace.projections.view_rows import lifecycle_document, linked_codes, named_ids, plain_row

NO_FILTERS = Filters()  # the whole list


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
            plain_row(r)
            for r in connection.execute(
                select(lifecycle_events)
                .where(lifecycle_events.c.code == code)
                .order_by(lifecycle_events.c.version)
            ).mappings()
        ]
        named = named_ids(row, timeline)
        names = names_of(connection, named)
        names_en = names_of(connection, named, english=True)
        point = None
        if row["collection_point_id"]:
            point = (
                connection.execute(
                    select(lifecycle_points).where(lifecycle_points.c.id == row["collection_point_id"])
                )
                .mappings()
                .first()
            )
        links = _linked_rows(connection, row)
        channel = connection.execute(
            select(report_batteries.c.retired_at, report_batteries.c.channel_at).where(
                report_batteries.c.code == code
            )
        ).first()
    return lifecycle_document(
        row, timeline, names, names_en, point, links, channel, now=now, overdue_days=overdue_days
    )


def _battery_row(connection: Connection, code: str) -> Any:
    return (
        connection.execute(select(lifecycle_batteries).where(lifecycle_batteries.c.code == code))
        .mappings()
        .first()
    )


def names_of(connection: Connection, ids: set[str | None], *, english: bool = False) -> dict[str, str]:
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


_LINKS = ("components", "derived_from", "pack", "second_life_product")


def _linked_rows(connection: Connection, row: Any) -> dict[str, Any]:
    """The rows of every battery linked to ``row`` within the lineage's depth, by code (primary-key
    reads, level by level): what ``battery_document`` follows its lineage through."""
    found: dict[str, Any] = {}
    wanted = linked_codes(row)
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
        wanted = set().union(*(linked_codes(r) for r in fresh.values()))
    return {code: r for code, r in found.items() if r is not None}


# ------------------------------------------------------------------------- shared by the lists
def region_clause(column: Any, filters: Filters) -> Any:
    prefix = filters.region_prefix
    return column.like(f"{prefix}%") if prefix else None


def all_of(*clauses: Any) -> Any:
    present = [c for c in clauses if c is not None]
    return and_(*present) if present else None


def paged(query: Any, filters: Filters) -> Any:
    if filters.limit is not None:
        query = query.limit(filters.limit)
    return query.offset(filters.offset) if filters.offset else query


# ------------------------------------------------------------------- reading reports in chunks
# A report is read as one ordered SELECT through a server-side cursor, ROWS_PER_CHUNK rows at a
# time: a whole export (tens of thousands of rows) never sits in memory, and, being one
# statement, it is one consistent snapshot, so no row is skipped or repeated while the views
# move on. The list functions (report_queries.network(), monthly(), …) are the same generators, collected.
ROWS_PER_CHUNK = 1000


def chunks(
    engine: Engine, query: Any, convert: Any = None
) -> Iterator[tuple[Connection, list[dict[str, Any]]]]:
    """The rows of ``query`` in chunks from one server-side cursor, each row passed through
    ``convert`` (default ``plain_row``), with the connection for look-ups a chunk needs (names)."""
    convert = convert or plain_row
    with read_session(engine) as connection:
        result = connection.execution_options(yield_per=ROWS_PER_CHUNK).execute(query).mappings()
        for part in result.partitions():
            yield connection, [convert(r) for r in part]


def count_rows(engine: Engine, query: Any) -> int:
    """How many rows ``query`` answers, ignoring its order and paging: a report page's total."""
    counted = select(func.count()).select_from(query.order_by(None).limit(None).offset(None).subquery())
    with read_session(engine) as connection:
        return int(connection.execute(counted).scalar_one())


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


def collection_points(engine: Engine, filters: Filters = NO_FILTERS) -> list[dict[str, Any]]:
    """Approved collection points (the public list of where to hand batteries in), by id."""
    return list(collection_points_rows(engine, filters))


def collection_points_rows(engine: Engine, filters: Filters = NO_FILTERS) -> Iterator[dict[str, Any]]:
    """``collection_points`` row by row, read in chunks."""
    for _, rows in chunks(engine, paged(_collection_points_query(filters), filters), dict):
        yield from rows


def collection_points_count(engine: Engine, filters: Filters = NO_FILTERS) -> int:
    return count_rows(engine, _collection_points_query(filters))


def _collection_points_query(filters: Filters) -> Any:
    query = (
        select(lifecycle_points)
        .where(lifecycle_points.c.id.in_(approved_points()))
        .order_by(lifecycle_points.c.id)
    )
    clause = region_clause(lifecycle_points.c.division_code, filters)
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


def batteries_on_hand(engine: Engine, point_id: str, filters: Filters = NO_FILTERS) -> list[dict[str, Any]]:
    """The batteries a collection point holds now (taken in, not yet handed over), longest-held
    first: what its operator can hand over to a recycler or a cascade-use enterprise."""
    return list(batteries_on_hand_rows(engine, point_id, filters))


def batteries_on_hand_rows(
    engine: Engine, point_id: str, filters: Filters = NO_FILTERS
) -> Iterator[dict[str, Any]]:
    """``batteries_on_hand`` row by row, read in chunks."""
    for _, rows in chunks(engine, paged(_on_hand_query(point_id), filters)):
        for row in rows:
            row["chemistry"] = BATTERY_TYPES.get(row.pop("battery_type"), "unknown")
        yield from rows


def batteries_on_hand_count(engine: Engine, point_id: str) -> int:
    return count_rows(engine, _on_hand_query(point_id))


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
