"""The read-only commands' quick path: whether the views are current, one battery's lifecycle and
the compliance findings, read in plain SQL through the DB-API driver (``plain_db``), without
SQLAlchemy, the tables' metadata or the event-sourcing application.

``show CODE`` and ``report compliance`` spend most of their start-up importing SQLAlchemy and
building the views' metadata, then read a few rows. On views that hold every stored event they
read here instead; anything unexpected (a URL form ``plain_db`` leaves alone, a table missing,
another fingerprint, an event not applied yet, a driver failure before the answer) gives None
and the caller takes the SQLAlchemy path, which catches up, rebuilds or says what is wrong.

Each query here is the plain SQL of one function of ``queries`` / ``report_queries`` (named
beside it), and what the rows mean is built by the same code (``view_rows``);
tests/integration/test_plain_reads.py checks on both stores that each answers what its
SQLAlchemy twin answers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

from batterytrace.events.working_days import WorkingCalendar
from batterytrace.projections.battery_document import MAX_LINEAGE_DEPTH
from batterytrace.projections.filters import Filters
from batterytrace.projections.freshness import _STORE_HEAD, expected_fingerprint, holds_every_event
from batterytrace.projections.plain_db import PlainConnection, failed, plain_connection, store_head
from batterytrace.projections.plain_schema import COLUMNS, FINGERPRINTS
from batterytrace.projections.quantities import THOUSANDTHS
from batterytrace.projections.view_rows import (
    SCRAPPED_NOT_HANDED_OVER,
    STILL_WITH_THE_DISMANTLER,
    compliance_page,
    finding,
    lifecycle_document,
    linked_codes,
    lists_outlets,
    named_ids,
    over_capacity_finding,
    plain_row,
)

Kinds = Sequence[tuple[str, str]]
NO_FILTERS = Filters()  # the whole list


def _select(table: str, *, alias: str | None = None) -> tuple[str, Kinds]:
    """``SELECT`` of every column of a view table, in the table's order (as ``select(table)``)."""
    kinds = COLUMNS[table]
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{name}"' for name, _ in kinds), kinds


def open_current_views(
    database_url: str, calendar: WorkingCalendar, store_url: str | None = None
) -> PlainConnection | None:
    """A read-only connection to the views when every view was built by this release with these
    settings and holds every stored event (``freshness.views_are_current`` in plain SQL); None
    when the caller must take the SQLAlchemy path. ``database_url``: the views' database;
    ``store_url``: the event store's, when it is another one (its head is read there)."""
    connection = plain_connection(database_url)
    if connection is None:
        return None
    try:
        stored = {
            row["view"]: (row["position"], row["schema"])
            for row in connection.rows(
                'SELECT "view", "position", "schema" FROM view_positions', (), COLUMNS["view_positions"]
            )
        }
        if store_url is None or store_url == database_url:
            head: int | None = connection.scalar(_STORE_HEAD[connection.dialect]) or 0
        else:
            head = store_head(store_url)
    except connection.driver_errors:  # no views or no store yet
        connection.close()
        return None
    if head is None:  # the store's database could not be read here
        connection.close()
        return None
    expected = {name: expected_fingerprint(name, calendar, FINGERPRINTS.__getitem__) for name in FINGERPRINTS}
    if not holds_every_event(stored, head, expected, FINGERPRINTS):
        connection.close()
        return None
    return connection


# ---------------------------------------------------------------------------------- lifecycle
def battery_lifecycle(
    connection: PlainConnection, code: str, *, now: datetime | None = None, overdue_days: int = 90
) -> dict[str, Any] | None:
    """``queries.battery_lifecycle`` in plain SQL: the battery's document, or None if the view
    does not have it."""
    batteries, battery_kinds = _select("lifecycle_batteries")
    row = _first(
        connection, f"SELECT {batteries} FROM lifecycle_batteries WHERE code = ?", [code], battery_kinds
    )
    if row is None:
        return None
    events, event_kinds = _select("lifecycle_events")
    timeline = [
        plain_row(r)
        for r in connection.rows(
            f"SELECT {events} FROM lifecycle_events WHERE code = ? ORDER BY version", [code], event_kinds
        )
    ]
    named = named_ids(row, timeline)
    names, names_en = _names(connection, named, "name"), _names(connection, named, "name_en")
    point = None
    if row["collection_point_id"]:
        points, point_kinds = _select("lifecycle_points")
        point = _first(
            connection,
            f"SELECT {points} FROM lifecycle_points WHERE id = ?",
            [row["collection_point_id"]],
            point_kinds,
        )
    links = _linked_rows(connection, row)
    channel_kinds = (("retired_at", "time"), ("channel_at", "time"))
    channel = _first(
        connection,
        "SELECT retired_at, channel_at FROM report_batteries WHERE code = ?",
        [code],
        channel_kinds,
    )
    return lifecycle_document(
        row,
        timeline,
        names,
        names_en,
        point,
        links,
        None if channel is None else (channel["retired_at"], channel["channel_at"]),
        now=now,
        overdue_days=overdue_days,
    )


def _first(connection: PlainConnection, sql: str, params: list[Any], kinds: Kinds) -> dict[str, Any] | None:
    with closing(connection.rows(sql, params, kinds)) as rows:  # closes the cursor at once
        return next(rows, None)


def _names(connection: PlainConnection, ids: set[str | None], column: str) -> dict[str, str]:
    """``queries.names_of``: registered names (``name``) or English names (``name_en``)."""
    wanted = sorted(i for i in ids if i)
    if not wanted:
        return {}
    sql = (
        f'SELECT credit_code, "{column}" FROM lifecycle_participants '
        f"WHERE credit_code IN ({', '.join('?' * len(wanted))})"
    )
    rows = connection.rows(sql, wanted, (("credit_code", "plain"), ("shown", "plain")))
    return {r["credit_code"]: r["shown"] for r in rows if r["shown"] is not None}


def _linked_rows(connection: PlainConnection, row: dict[str, Any]) -> dict[str, Any]:
    """``queries._linked_rows``: the rows of the batteries linked within the lineage's depth."""
    batteries, kinds = _select("lifecycle_batteries")
    found: dict[str, Any] = {}
    wanted = linked_codes(row)
    for _ in range(MAX_LINEAGE_DEPTH + 1):
        wanted -= found.keys()
        if not wanted:
            break
        codes = sorted(wanted)
        sql = f"SELECT {batteries} FROM lifecycle_batteries WHERE code IN ({', '.join('?' * len(codes))})"
        fresh = {r["code"]: r for r in connection.rows(sql, codes, kinds)}
        found.update(fresh)
        found.update({code: None for code in wanted - fresh.keys()})
        wanted = set().union(*(linked_codes(r) for r in fresh.values()))
    return {code: r for code, r in found.items() if r is not None}


# --------------------------------------------------------------------------------- compliance
def compliance_rows(
    connection: PlainConnection,
    filters: Filters = NO_FILTERS,
    *,
    kind: str | None = None,
    now: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """``report_queries.compliance_rows`` in plain SQL: outlets over capacity, then the findings,
    streamed. A driver failure once rows have gone out is ``StoreUnavailable``."""
    try:
        outlets = (
            [over_capacity_finding(r) for r in _over_capacity(connection, filters)]
            if (lists_outlets(filters, kind))
            else []
        )
    except connection.driver_errors as error:
        raise failed(error) from None
    moment = now or datetime.now(UTC)

    def findings(offset: int, limit: int | None) -> Iterator[dict[str, Any]]:
        sql, params = _findings_sql(connection.dialect, filters, kind, moment, offset, limit)
        try:
            for row in connection.rows(sql, params, COLUMNS["report_findings"], stream=True):
                yield finding(row)
        except connection.driver_errors as error:
            raise failed(error) from None

    yield from compliance_page(outlets, filters, kind, findings)


def _over_capacity(connection: PlainConnection, filters: Filters) -> Iterator[dict[str, Any]]:
    """``report_queries._over_capacity``'s rows: collection points holding more than capacity."""
    points, kinds = _select("network_points")
    sql = f"SELECT {points} FROM network_points WHERE on_hand_g > capacity_kg * ?"
    params: list[Any] = [THOUSANDTHS]
    if filters.region_prefix:
        sql += " AND division_code LIKE ?"
        params.append(f"{filters.region_prefix}%")
    return connection.rows(sql + " ORDER BY id", params, kinds)


def _findings_sql(
    dialect: str, filters: Filters, kind: str | None, now: datetime, offset: int, limit: int | None
) -> tuple[str, list[Any]]:
    """``report_queries._findings_query``: the stored findings and the scrapped vehicles'
    batteries still with the dismantler past the deadline, as one ordered SELECT."""
    since, until = filters.since_moment, filters.until_moment
    parts: list[str] = []
    params: list[Any] = []
    if kind != SCRAPPED_NOT_HANDED_OVER:
        columns, _ = _select("report_findings")
        where, values = _where(
            ("kind = ?", kind),
            ("manufacturer_id = ?", filters.manufacturer),
            ("occurred_at >= ?", since),
            ("occurred_at < ?", until),
        )
        parts.append(f"SELECT {columns} FROM report_findings{where}")
        params += values
    if kind in (None, SCRAPPED_NOT_HANDED_OVER):
        states = ", ".join("?" * len(STILL_WITH_THE_DISMANTLER))
        where, values = _where(
            ("scrapped_due_at <= ?", now),
            (f"state IN ({states})", STILL_WITH_THE_DISMANTLER),
            ("manufacturer_id = ?", filters.manufacturer),
            ("scrapped_at >= ?", since),
            ("scrapped_at < ?", until),
        )
        parts.append(  # constants written in: a typed literal, where a parameter's type is unknown
            f"SELECT code, scrapped_version AS version, '{SCRAPPED_NOT_HANDED_OVER}' AS kind, "
            "manufacturer_id, 'VehicleScrapped' AS event, scrapped_by AS actor_id, "
            "scrapped_at AS occurred_at, NULL AS recorded_at, '' AS detail, scrapped_due_at AS due_at, "
            "scrapped_deadline_days AS deadline_working_days, 'dismantler' AS deadline_role "
            f"FROM report_batteries{where}"
        )
        params += values
    columns, _ = _select("report_findings", alias="findings")
    sql = f"SELECT {columns} FROM ({' UNION ALL '.join(parts)}) AS findings"
    sql += " ORDER BY findings.occurred_at, findings.code, findings.version, findings.kind"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    elif offset and dialect == "sqlite":
        sql += " LIMIT -1"  # SQLite has no OFFSET without a LIMIT
    if offset:
        sql += " OFFSET ?"
        params.append(offset)
    return sql, params


def _where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """`` WHERE`` of the conditions whose value is given (a tuple value fills several ``?``)."""
    clauses, values = [], []
    for clause, value in conditions:
        if value is None:
            continue
        clauses.append(clause)
        values += list(value) if isinstance(value, tuple) else [value]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), values
