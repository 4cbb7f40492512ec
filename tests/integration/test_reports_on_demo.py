"""The regulator's reports on the national demo: every planted case shows up, nothing else does.

The demo (fixed seed, 300 packs) plants one of each case a regulator looks for: an overdue retired
battery, a handover to a recycler that is not whitelisted, a late correction whose date runs
backwards (planted under the key ``late_report`` until it is renamed ``backwards_date``), and an
outlet over capacity. After the views have caught up, each planted case must be in its report, and
each report's full contents must equal what ``tests.utils.recompute`` derives from the events
alone, so that nothing is flagged that should not be. The filters are checked against the
unfiltered reports: a filtered report is exactly the matching part of the whole one.

The demo and its views are built once per store (module scope): a report query never writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from batterytrace.demo.national import DemoSummary, generate_demo
from batterytrace.projections import queries
from batterytrace.projections.queries import Filters
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.recompute import FLOW_FIELDS, MONTH_FIELDS, POINT_FIELDS, Recomputed, recompute, rounded

BATTERIES = 300
SEED = 7
OVERDUE_DAYS = 90
GUANGDONG = "44"


@dataclass
class Demo:
    app: BatteryTrace
    engine: Engine
    summary: DemoSummary
    oracle: Recomputed
    now: datetime

    @property
    def examples(self) -> dict[str, str]:
        return self.summary.examples


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    schema = None
    if request.param == "postgres":
        import psycopg

        server = request.getfixturevalue("postgres_server")
        schema = f"d_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{server}{'&' if '?' in server else '?'}schema={schema}"
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'batterytrace.db'}"
    now = datetime.now(UTC).replace(microsecond=0)  # one "now" for the demo's history and the reports
    app = BatteryTrace(Settings(database_url=url), clock=lambda: now)
    runner = None
    try:
        summary = generate_demo(app, seed=SEED, batteries=BATTERIES)
        runner = ViewRunner(app)
        runner.catch_up()
        yield Demo(app, runner.engine, summary, recompute(app), now)
    finally:
        if runner is not None:
            runner.engine.dispose()
        app.close()
        if schema:
            with psycopg.connect(server, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def findings(engine: Engine, filters: Filters | None = None) -> set[tuple[str, str, int | None]]:
    """(kind, battery code or outlet id, version) of every finding the compliance report lists."""
    return {
        (f["kind"], f["code"] or f["collection_point_id"], f["version"])
        for f in queries.compliance(engine, filters or Filters())
    }


def of_kind(found: set[tuple[str, str, int | None]], kind: str) -> set[tuple[str, int | None]]:
    return {(code, version) for k, code, version in found if k == kind}


def plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with floats rounded: PostgreSQL may sum a group in another order than it did before."""
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()} for row in rows]


def differing(got: dict[Any, Any], expected: dict[Any, Any]) -> dict[Any, Any]:
    return {
        key: {"report": got.get(key), "events": expected.get(key)}
        for key in sorted(set(got) | set(expected), key=repr)
        if got.get(key) != expected.get(key)
    }


# ------------------------------------------------------------------------------ planted cases
def test_planted_overdue_battery_is_on_the_overdue_report(demo: Demo) -> None:
    code = demo.examples["overdue"]
    rows = {r["code"]: r for r in queries.overdue(demo.engine, now=demo.now, days=OVERDUE_DAYS)}
    assert code in rows
    assert rows[code]["days_since_retired"] > OVERDUE_DAYS
    flags = queries.battery_lifecycle(demo.engine, code, now=demo.now)["battery"]["flags"]
    assert any(flag.startswith("overdue") for flag in flags), flags


def test_planted_non_compliant_handover_is_reported(demo: Demo) -> None:
    code = demo.examples["non_compliant_handover"]
    reported = {c for c, _ in of_kind(findings(demo.engine), "non_compliant_handover")}
    assert code in reported
    assert code in {c for c, _ in demo.oracle.non_compliant_handovers}


def test_planted_late_report_is_reported_if_it_is_one(demo: Demo) -> None:
    """Until the demo's ``late_report`` example is renamed it is a backwards date; whatever it
    is, the report lists exactly the late reports the battery really made."""
    code = demo.examples.get("late_report")
    if code is None:
        pytest.skip("the demo offers no late_report example")
    real = {(c, v) for c, v in demo.oracle.late_reports if c == code}
    reported = {(c, v) for c, v in of_kind(findings(demo.engine), "late_report") if c == code}
    assert reported == real


def test_planted_backwards_date_is_reported(demo: Demo) -> None:
    code = demo.examples.get("backwards_date") or demo.examples.get("late_report")
    assert code, "the demo offers neither a backwards_date nor a late_report example"
    real = {(c, v) for c, v in demo.oracle.backwards_dates if c == code}
    assert real, f"{code} has no event dated before an earlier one: the plant is not a backwards date"
    reported = {(c, v) for c, v in of_kind(findings(demo.engine), "backwards_date") if c == code}
    assert reported == real


def test_planted_over_capacity_outlet_is_reported(demo: Demo) -> None:
    outlet = demo.examples["over_capacity_outlet"]
    assert outlet in demo.oracle.outlets_over_capacity
    over = [f for f in queries.compliance(demo.engine) if f["kind"] == "outlet_over_capacity"]
    assert outlet in {f["collection_point_id"] for f in over}
    row = next(r for r in queries.network(demo.engine) if r["id"] == outlet)
    assert row["over_capacity"] and row["on_hand_kg"] > row["capacity_kg"]


def test_dismantlers_retirements_are_reported_as_unverified_custody(demo: Demo) -> None:
    """A dismantler retires packs from scrapped vehicles it does not hold (no scrapping record
    yet): each such retirement is a finding, and only those are."""
    reported = of_kind(findings(demo.engine), "unverified_custody")
    assert reported
    for code, version in reported:
        retired = demo.app.history(code)[version - 1]
        assert type(retired).__name__ == "Retired" and retired.custody_unverified, (code, version)
        assert "dismantler" in demo.app.participant(retired.actor_id).roles


# ---------------------------------------------------- whole reports against the recomputation
@pytest.mark.parametrize(
    "kind",
    ["non_compliant_handover", "late_report", "backwards_date", "outlet_over_capacity", "unverified_custody"],
)
def test_compliance_report_flags_exactly_what_the_events_show(demo: Demo, kind: str) -> None:
    expected = of_kind(demo.oracle.findings(), kind)
    reported = of_kind(findings(demo.engine), kind)
    assert reported == expected, {"unexpected": reported - expected, "missing": expected - reported}


def test_compliance_report_has_no_other_kind_of_finding(demo: Demo) -> None:
    assert {k for k, _, _ in findings(demo.engine)} <= {k for k, _, _ in demo.oracle.findings()}


def test_overdue_report_is_exactly_the_overdue_batteries(demo: Demo) -> None:
    for days in (OVERDUE_DAYS, 30, 365):
        reported = {r["code"] for r in queries.overdue(demo.engine, now=demo.now, days=days)}
        assert reported == demo.oracle.overdue(demo.now, days), days


def test_monthly_report_matches_the_events(demo: Demo) -> None:
    got = {
        (r["manufacturer_id"], r["month"]): rounded(r, MONTH_FIELDS)
        for r in queries.monthly(demo.engine)
        if any(r[f] for f in MONTH_FIELDS)
    }
    expected = {k: rounded(v, MONTH_FIELDS) for k, v in demo.oracle.monthly_nonzero().items()}
    assert got == expected, differing(got, expected)


def test_network_report_matches_the_events(demo: Demo) -> None:
    got = {r["id"]: rounded(r, POINT_FIELDS) for r in queries.network(demo.engine)}
    expected = {k: rounded(v, POINT_FIELDS) for k, v in demo.oracle.points.items()}
    assert got == expected, differing(got, expected)


def test_flows_report_matches_the_events(demo: Demo) -> None:
    got = {
        (r["source_kind"], r["source_id"], r["receiver_id"], r["activity"]): rounded(r, FLOW_FIELDS)
        for r in queries.flows(demo.engine)
    }
    expected = {k: rounded(v, FLOW_FIELDS) for k, v in demo.oracle.flows.items()}
    assert got == expected, differing(got, expected)


def test_recycling_rate_is_the_share_of_retired_that_reached_formal_hands(demo: Demo) -> None:
    """Of the batteries retired in a month, the share that has since reached a whitelisted
    recycler or a second life: a cohort share, so never above 1."""
    rows = queries.monthly(demo.engine)
    assert any(r["retired"] for r in rows) and any(r["retired_then_formal"] for r in rows)
    for row in rows:
        if row["retired"]:
            assert 0 <= row["retired_then_formal"] <= row["retired"], row
            expected = round(row["retired_then_formal"] / row["retired"], 3)
            assert row["recycling_rate"] == expected, row
        else:
            assert row["recycling_rate"] is None, row


# ------------------------------------------------------------------------------------ filters
def test_monthly_filters_by_manufacturer_and_months(demo: Demo) -> None:
    everything = queries.monthly(demo.engine)
    busiest = max({r["manufacturer_id"] for r in everything}, key=lambda m: sum(
        r["manufacturer_id"] == m for r in everything
    ))  # fmt: skip
    since, until = date(2022, 3, 15), date(2024, 8, 2)  # months are whole: 2022-03 to 2024-08
    filtered = queries.monthly(demo.engine, Filters(manufacturer=busiest, since=since, until=until))
    expected = [
        r for r in everything if r["manufacturer_id"] == busiest and "2022-03" <= r["month"] <= "2024-08"
    ]
    assert filtered and plain(filtered) == plain(expected)
    assert queries.monthly(demo.engine, Filters(manufacturer="91110000600037341L")) == []


def _guangdong_points(demo: Demo) -> set[str]:
    return {p for p, division in demo.oracle.point_divisions.items() if division.startswith(GUANGDONG)}


@pytest.mark.parametrize("region", ["44", "440000"])
def test_network_filtered_by_province_is_guangdong_only(demo: Demo, region: str) -> None:
    rows = queries.network(demo.engine, Filters(region=region))
    assert {r["id"] for r in rows} == _guangdong_points(demo)
    whole = queries.network(demo.engine)
    assert plain(rows) == plain([r for r in whole if r["division_code"].startswith(GUANGDONG)])


@pytest.mark.parametrize("level", ["province", "prefecture"])
def test_regions_filtered_by_province_are_guangdong_only(demo: Demo, level: str) -> None:
    rows = queries.regions(demo.engine, Filters(region=GUANGDONG), level=level)
    assert rows and all(r["region_code"].startswith(GUANGDONG) for r in rows)
    whole = queries.regions(demo.engine, level=level)
    assert plain(rows) == plain([r for r in whole if r["region_code"].startswith(GUANGDONG)])
    if level == "province":
        (row,) = rows
        assert row["region_code"] == "440000" and row["collection_points"] == len(_guangdong_points(demo))


def test_flows_filtered_by_province_leave_guangdong_outlets_only(demo: Demo) -> None:
    rows = queries.flows(demo.engine, Filters(region=GUANGDONG))
    guangdong = _guangdong_points(demo)
    assert rows and all(r["source_kind"] == "collection_point" and r["source_id"] in guangdong for r in rows)
    whole = queries.flows(demo.engine)
    assert plain(rows) == plain(
        [r for r in whole if r["source_kind"] == "collection_point" and r["source_id"] in guangdong]
    )


def test_network_filtered_by_prefecture_is_that_prefecture_only(demo: Demo) -> None:
    everything = queries.network(demo.engine)
    leaks = {}
    for prefecture in sorted({r["prefecture_code"] for r in everything}):
        got = {r["id"] for r in queries.network(demo.engine, Filters(region=prefecture))}
        expected = {r["id"] for r in everything if r["prefecture_code"] == prefecture}
        if got != expected:
            leaks[prefecture] = sorted(got ^ expected)
    assert leaks == {}
