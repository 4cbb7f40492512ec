"""The regulator's reports as plain queries over the views' tables: the recycling network, regions,
flows, the monthly figures, swaps per operator, overdue batteries and the compliance findings.

Each report is one ordered SELECT, read in chunks (``queries.chunks``), with its own count for a
page's total; ``queries`` keeps one battery's lifecycle, the collection points and an outlet's stock,
and the filters and helpers both share.

Two reports are states of now rather than stored rows, so they take ``now``: overdue batteries
(retired, not taken in) and the ``scrapped_not_handed_over`` finding (a battery whose vehicle was
scrapped, still with the dismantler past the deadline the reports view stored with the scrapping).

About 400 lines, a little over the usual size: seven reports of three lines of API each (list, rows,
count) around their queries; they are kept in one module because the API, the CLI and the pages
name them as one set, and each is short.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, String, cast, func, literal, null, or_, select, union_all

from batterytrace.events.regions import division
from batterytrace.projections.database import read_session
from batterytrace.projections.quantities import THOUSANDTHS, display_row
from batterytrace.projections.queries import (
    Filters,
    all_of,
    chunks,
    count_rows,
    month_key,
    names_of,
    paged,
    region_clause,
)
from batterytrace.projections.tables import (
    UTCDateTime,
    lifecycle_batteries,
    network_flows,
    network_participants,
    network_points,
    report_batteries,
    report_findings,
    report_monthly,
    report_swaps,
)
from batterytrace.projections.view_rows import FINDING_KINDS as FINDING_KINDS  # shared with plain_reads
from batterytrace.projections.view_rows import (
    SCRAPPED_NOT_HANDED_OVER,
    STILL_WITH_THE_DISMANTLER,
    compliance_page,
    finding,
    lists_outlets,
    over_capacity_finding,
)

NO_FILTERS = Filters()  # the whole report


# ------------------------------------------------------------------------------------ network
def _network_query(filters: Filters) -> Any:
    where = all_of(
        region_clause(network_points.c.division_code, filters),
        network_points.c.operator_id == filters.manufacturer if filters.manufacturer else None,
    )
    query = select(network_points).order_by(network_points.c.id)
    return query.where(where) if where is not None else query


def network(engine: Engine, filters: Filters = NO_FILTERS) -> list[dict[str, Any]]:
    """Per collection point: collected, on hand against capacity, handed over (and how much of
    it to whitelisted receivers), recycled and cascade-used afterwards."""
    return list(network_rows(engine, filters))


def network_rows(engine: Engine, filters: Filters = NO_FILTERS) -> Iterator[dict[str, Any]]:
    """``network`` row by row, read in chunks."""
    for _, rows in chunks(engine, paged(_network_query(filters), filters)):
        for row in rows:
            row["fill_ratio"] = (
                round(row["on_hand_kg"] / row["capacity_kg"], 3) if row["capacity_kg"] else None
            )
            row["over_capacity"] = row["on_hand_kg"] > row["capacity_kg"]
        yield from rows


def network_count(engine: Engine, filters: Filters = NO_FILTERS) -> int:
    return count_rows(engine, _network_query(filters))


def regions(
    engine: Engine, filters: Filters = NO_FILTERS, *, level: str = "province"
) -> list[dict[str, Any]]:
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
    clause = region_clause(network_points.c.division_code, filters)
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


def flows(engine: Engine, filters: Filters = NO_FILTERS) -> list[dict[str, Any]]:
    """Edges from outlets (or enterprises) to receivers, with counts, mass and compliance."""
    return list(flows_rows(engine, filters))


def flows_rows(engine: Engine, filters: Filters = NO_FILTERS) -> Iterator[dict[str, Any]]:
    """``flows`` row by row, read in chunks."""
    for _, rows in chunks(engine, paged(_flows_query(filters), filters)):
        yield from rows


def flows_count(engine: Engine, filters: Filters = NO_FILTERS) -> int:
    return count_rows(engine, _flows_query(filters))


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
def monthly(engine: Engine, filters: Filters = NO_FILTERS) -> list[dict[str, Any]]:
    """Per manufacturer and month, with the recycling rate of the month's retired batteries:
    the share that has since reached a whitelisted recycler or a second life."""
    return list(monthly_rows(engine, filters))


def monthly_count(engine: Engine, filters: Filters = NO_FILTERS) -> int:
    return count_rows(engine, _monthly_query(filters))


def _monthly_query(filters: Filters) -> Any:
    query = select(report_monthly).order_by(report_monthly.c.month, report_monthly.c.manufacturer_id)
    clauses = [
        report_monthly.c.manufacturer_id == filters.manufacturer if filters.manufacturer else None,
        report_monthly.c.month >= month_key(filters.since) if filters.since else None,
        report_monthly.c.month <= month_key(filters.until) if filters.until else None,
    ]
    where = all_of(*clauses)
    return query.where(where) if where is not None else query


def monthly_rows(engine: Engine, filters: Filters = NO_FILTERS) -> Iterator[dict[str, Any]]:
    """``monthly`` row by row, read in chunks (names looked up once per chunk)."""
    query = paged(_monthly_query(filters), filters)
    for connection, rows in chunks(engine, query, lambda r: display_row(dict(r))):
        makers = {r["manufacturer_id"] for r in rows}
        names, names_en = names_of(connection, makers), names_of(connection, makers, english=True)
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
    engine: Engine, filters: Filters = NO_FILTERS, *, now: datetime | None = None, days: int = 90
) -> list[dict[str, Any]]:
    """Batteries retired more than ``days`` ago that no collection point or whitelisted
    enterprise has taken in."""
    return list(overdue_rows(engine, filters, now=now, days=days))


def overdue_rows(
    engine: Engine, filters: Filters = NO_FILTERS, *, now: datetime | None = None, days: int = 90
) -> Iterator[dict[str, Any]]:
    """``overdue`` row by row, read in chunks."""
    now_value = now or datetime.now(UTC)
    for _, rows in chunks(engine, paged(_overdue_query(filters, now_value, days), filters)):
        for row in rows:
            row["days_since_retired"] = (now_value - datetime.fromisoformat(row["retired_at"])).days
        yield from rows


def overdue_count(
    engine: Engine, filters: Filters = NO_FILTERS, *, now: datetime | None = None, days: int = 90
) -> int:
    return count_rows(engine, _overdue_query(filters, now or datetime.now(UTC), days))


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


def compliance(
    engine: Engine,
    filters: Filters = NO_FILTERS,
    *,
    kind: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every finding: outlets holding more than their capacity (a state of now, listed first and
    left out when the report is narrowed to a manufacturer or to dates), then non-compliant
    handovers, late reports, backwards dates, unverified custody and batteries of scrapped
    vehicles not handed over in time (as of ``now``) by real-world time. ``kind`` keeps one
    kind; paging applies to the whole list."""
    return list(compliance_rows(engine, filters, kind=kind, now=now))


def compliance_rows(
    engine: Engine,
    filters: Filters = NO_FILTERS,
    *,
    kind: str | None = None,
    now: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """``compliance`` row by row: the outlets (few), then the findings read in chunks."""
    with read_session(engine) as connection:
        outlets = _over_capacity(connection, filters, kind)
    moment = now or datetime.now(UTC)

    def findings(offset: int, limit: int | None) -> Iterator[dict[str, Any]]:
        query = _findings_query(filters, kind, moment).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        for _, rows in chunks(engine, query, finding):
            yield from rows

    yield from compliance_page(outlets, filters, kind, findings)


def compliance_count(
    engine: Engine,
    filters: Filters = NO_FILTERS,
    *,
    kind: str | None = None,
    now: datetime | None = None,
) -> int:
    """Outlets over capacity plus findings, for the same filters."""
    with read_session(engine) as connection:
        outlets = len(_over_capacity(connection, filters, kind))
    if kind == "outlet_over_capacity":
        return outlets
    return outlets + count_rows(engine, _findings_query(filters, kind, now or datetime.now(UTC)))


def _findings_query(filters: Filters, kind: str | None, now: datetime) -> Any:
    """The stored findings and those of now (``_scrapped_query``), as one ordered SELECT."""
    parts = []
    if kind != SCRAPPED_NOT_HANDED_OVER:
        parts.append(_stored_findings(filters, kind))
    if kind in (None, SCRAPPED_NOT_HANDED_OVER):
        parts.append(_scrapped_query(filters, now))
    found = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("findings")
    return select(found).order_by(found.c.occurred_at, found.c.code, found.c.version, found.c.kind)


def _stored_findings(filters: Filters, kind: str | None) -> Any:
    since, until = filters.since_moment, filters.until_moment
    where = all_of(
        report_findings.c.kind == kind if kind else None,
        report_findings.c.manufacturer_id == filters.manufacturer if filters.manufacturer else None,
        report_findings.c.occurred_at >= since if since else None,
        report_findings.c.occurred_at < until if until else None,
    )
    query = select(report_findings)
    return query.where(where) if where is not None else query


def _scrapped_query(filters: Filters, now: datetime) -> Any:
    """Batteries of scrapped vehicles still with the dismantler after the hand-over deadline,
    shaped as ``report_findings`` rows (the scrapping is the finding's event)."""
    b = report_batteries.c
    since, until = filters.since_moment, filters.until_moment
    return select(
        b.code,
        b.scrapped_version.label("version"),
        literal(SCRAPPED_NOT_HANDED_OVER, String(30)).label("kind"),
        b.manufacturer_id,
        literal("VehicleScrapped", String(30)).label("event"),
        b.scrapped_by.label("actor_id"),
        b.scrapped_at.label("occurred_at"),
        cast(null(), UTCDateTime).label("recorded_at"),
        literal("", String(500)).label("detail"),
        b.scrapped_due_at.label("due_at"),
        b.scrapped_deadline_days.label("deadline_working_days"),
        literal("dismantler", String(20)).label("deadline_role"),
    ).where(
        *[
            clause
            for clause in (
                b.scrapped_due_at <= now,
                b.state.in_(STILL_WITH_THE_DISMANTLER),
                b.manufacturer_id == filters.manufacturer if filters.manufacturer else None,
                b.scrapped_at >= since if since else None,
                b.scrapped_at < until if until else None,
            )
            if clause is not None
        ]
    )


def _over_capacity(connection: Connection, filters: Filters, kind: str | None) -> list[dict[str, Any]]:
    if not lists_outlets(filters, kind):
        return []
    query = select(network_points).where(
        network_points.c.on_hand_g > network_points.c.capacity_kg * THOUSANDTHS
    )
    clause = region_clause(network_points.c.division_code, filters)
    if clause is not None:
        query = query.where(clause)
    rows = connection.execute(query.order_by(network_points.c.id)).mappings()
    return [over_capacity_finding(outlet) for outlet in rows]


# -------------------------------------------------------------------------------------- swaps
def swaps(engine: Engine, filters: Filters = NO_FILTERS) -> list[dict[str, Any]]:
    """Battery swaps per swap operator, province (of the stations) and month."""
    return list(swaps_rows(engine, filters))


def swaps_rows(engine: Engine, filters: Filters = NO_FILTERS) -> Iterator[dict[str, Any]]:
    """``swaps`` row by row, read in chunks (names looked up once per chunk)."""
    for connection, rows in chunks(engine, paged(_swaps_query(filters), filters), dict):
        operators = {r["operator_id"] for r in rows}
        names, names_en = names_of(connection, operators), names_of(connection, operators, english=True)
        for row in rows:
            row["swaps"] = int(row["swaps"])
            row["operator_name"] = names.get(row["operator_id"])
            row["operator_name_en"] = names_en.get(row["operator_id"])
            place = division(row["province_code"])
            row["province_name"] = place.name if place else None
            row["province_name_en"] = place.name_en if place else None
        yield from rows


def swaps_count(engine: Engine, filters: Filters = NO_FILTERS) -> int:
    return count_rows(engine, _swaps_query(filters))


def _swaps_query(filters: Filters) -> Any:
    s = report_swaps.c
    query = (
        select(s.month, s.operator_id, s.province_code, func.sum(s.swaps).label("swaps"))
        .group_by(s.month, s.operator_id, s.province_code)
        .order_by(s.month, s.operator_id, s.province_code)
    )
    where = all_of(
        s.operator_id == filters.manufacturer if filters.manufacturer else None,
        region_clause(s.division_code, filters),
        s.month >= month_key(filters.since) if filters.since else None,
        s.month <= month_key(filters.until) if filters.until else None,
    )
    return query.where(where) if where is not None else query
