"""The regulator's reports on the national demo: every planted case shows up, nothing else does.

The demo (fixed seed, 300 packs) plants one of each case a regulator looks for: an overdue retired
battery, a handover to a recycler that is not whitelisted, a late correction whose date runs
backwards (planted under the key ``late_report`` until it is renamed ``backwards_date``), an
outlet over capacity, a scrapped vehicle's battery left with the dismantler past its deadline, and
a swap operator's swaps. After the views have caught up, each planted case must be in its report,
and each report's full contents must equal what ``tests.utils.recompute`` (or, for swaps and
scrapped vehicles, this module) derives from the events alone, so that nothing is flagged that
should not be. The filters are checked against the
unfiltered reports: a filtered report is exactly the matching part of the whole one.

The demo and its views are built once per store (module scope): a report query never writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from batterytrace.demo.national import DemoSummary, generate_demo
from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import Battery
from batterytrace.events.working_days import WorkingCalendar
from batterytrace.projections import queries, report_queries
from batterytrace.projections.queries import Filters
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.recompute import FLOW_FIELDS, MONTH_FIELDS, POINT_FIELDS, Recomputed, recompute, rounded
from tests.utils.stores import store_url

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
    with store_url(request, tmp_path_factory, "demo") as url:
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


def findings(
    engine: Engine, filters: Filters | None = None, *, now: datetime | None = None
) -> set[tuple[str, str, int | None]]:
    """(kind, battery code or outlet id, version) of every finding the compliance report lists."""
    return {
        (f["kind"], f["code"] or f["collection_point_id"], f["version"])
        for f in report_queries.compliance(engine, filters or Filters(), now=now)
    }


SCRAPPED = "scrapped_not_handed_over"  # computed at query time: checked here, not by the oracle


def battery_events(demo: Demo, event: type) -> list[Any]:
    """Every stored event of one class, in notification order."""
    found, start = [], 1
    topic = f"{event.__module__}:{event.__qualname__}"
    while page := demo.app.recorder.select_notifications(start=start, limit=1000, topics=[topic]):
        found.extend(demo.app.mapper.to_domain_event(n) for n in page)
        start = page[-1].id + 1
    return found


def scrapped_still_with_the_dismantler(demo: Demo, now: datetime) -> set[tuple[str, int]]:
    """From the events alone: (code, version of its VehicleScrapped) of each battery whose vehicle
    was scrapped more than 15 working days before ``now`` and that its dismantler has neither
    collected nor handed over since (the battery's last event is the scrapping or a retirement)."""
    calendar = WorkingCalendar()
    expected = set()
    for scrapped in battery_events(demo, Battery.VehicleScrapped):
        last = demo.app.history(scrapped.originator_id)[-1]
        if calendar.due(scrapped.occurred_at, 15) <= now and type(last).__name__ in (
            "VehicleScrapped",
            "Retired",
        ):
            expected.add((scrapped.originator_id, scrapped.originator_version))
    return expected


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
    rows = {r["code"]: r for r in report_queries.overdue(demo.engine, now=demo.now, days=OVERDUE_DAYS)}
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
    over = [f for f in report_queries.compliance(demo.engine) if f["kind"] == "outlet_over_capacity"]
    assert outlet in {f["collection_point_id"] for f in over}
    row = next(r for r in report_queries.network(demo.engine) if r["id"] == outlet)
    assert row["over_capacity"] and row["on_hand_kg"] > row["capacity_kg"]


def test_dismantlers_retire_only_what_they_took_in_so_no_custody_is_unverified(demo: Demo) -> None:
    """Every dismantler in the demo takes the scrapped vehicle in before it retires its pack, so
    no retirement is an unverified-custody finding (the domain refuses one now)."""
    assert of_kind(findings(demo.engine, now=demo.now), "unverified_custody") == set()


def test_planted_scrapped_battery_not_handed_over_is_reported_with_its_deadline(demo: Demo) -> None:
    code = demo.examples[SCRAPPED]
    (row,) = [
        f for f in report_queries.compliance(demo.engine, kind=SCRAPPED, now=demo.now) if f["code"] == code
    ]
    scrapped = demo.app.history(code)[row["version"] - 1]
    assert type(scrapped).__name__ == "VehicleScrapped" and row["actor_id"] == scrapped.dismantler_id
    due = WorkingCalendar().due(scrapped.occurred_at, 15)
    assert datetime.fromisoformat(row["due_at"]) == due
    assert row["due_by"] == str(due.astimezone(CHINA_STANDARD_TIME).date() - timedelta(days=1))
    assert row["deadline_working_days"] == 15 and row["deadline_role"] == "dismantler"
    on_time = demo.examples["scrapped_and_handed_over"]
    assert on_time not in {f["code"] for f in report_queries.compliance(demo.engine, now=demo.now)}


def test_scrapped_batteries_are_reported_exactly_when_the_deadline_has_passed(demo: Demo) -> None:
    """As of the demo's now, and as of the day the planted battery's deadline passed (when the
    battery scrapped two days ago is not late yet, nor is anything later)."""
    planted = demo.app.history(demo.examples[SCRAPPED])
    scrapped = next(e for e in planted if type(e).__name__ == "VehicleScrapped")
    due = WorkingCalendar().due(scrapped.occurred_at, 15)
    for now in (demo.now, due, due - timedelta(seconds=1)):
        expected = scrapped_still_with_the_dismantler(demo, now)
        assert of_kind(findings(demo.engine, now=now), SCRAPPED) == expected, now
        assert report_queries.compliance_count(demo.engine, kind=SCRAPPED, now=now) == len(expected)
    assert (demo.examples[SCRAPPED], scrapped.originator_version) in scrapped_still_with_the_dismantler(
        demo, demo.now
    )
    assert (demo.examples[SCRAPPED], scrapped.originator_version) not in scrapped_still_with_the_dismantler(
        demo, due - timedelta(seconds=1)
    )


# ---------------------------------------------------- whole reports against the recomputation
@pytest.mark.parametrize(
    "kind",
    ["non_compliant_handover", "late_report", "backwards_date", "outlet_over_capacity", "unverified_custody"],
)
def test_compliance_report_flags_exactly_what_the_events_show(demo: Demo, kind: str) -> None:
    expected = of_kind(demo.oracle.findings(), kind)
    reported = of_kind(findings(demo.engine, now=demo.now), kind)
    assert reported == expected, {"unexpected": reported - expected, "missing": expected - reported}


def test_compliance_report_has_no_other_kind_of_finding(demo: Demo) -> None:
    kinds = {k for k, _, _ in findings(demo.engine, now=demo.now)}
    assert kinds - {SCRAPPED} <= {k for k, _, _ in demo.oracle.findings()}


def test_swaps_report_counts_each_swap_by_operator_province_and_month(demo: Demo) -> None:
    """One swap per battery swapped in, paired with one swapped out at the same station and moment."""
    swapped_in = battery_events(demo, Battery.SwappedIn)
    swapped_out = battery_events(demo, Battery.SwappedOut)
    assert swapped_in and len(swapped_in) == len(swapped_out)
    expected: dict[tuple[str, str, str], int] = {}
    for e in swapped_in:
        month = e.occurred_at.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m")
        key = (month, e.operator_id, e.division_code[:2] + "0000")
        expected[key] = expected.get(key, 0) + 1
    rows = report_queries.swaps(demo.engine)
    assert {(r["month"], r["operator_id"], r["province_code"]): r["swaps"] for r in rows} == expected
    assert [(r["month"], r["operator_id"], r["province_code"]) for r in rows] == sorted(expected)
    assert report_queries.swaps_count(demo.engine) == len(rows)
    assert {r["operator_name_en"] for r in rows} == {"Yihuan Energy Technology Co."}
    assert all(r["province_name"] and r["province_name_en"] for r in rows)


def test_swaps_filters_by_operator_region_and_months(demo: Demo) -> None:
    whole = report_queries.swaps(demo.engine)
    operator = demo.summary.actors["swap_operator"]
    assert report_queries.swaps(demo.engine, Filters(manufacturer=operator)) == whole
    assert report_queries.swaps(demo.engine, Filters(manufacturer=demo.summary.actors["recycler"])) == []
    guangdong = report_queries.swaps(demo.engine, Filters(region=GUANGDONG))
    assert guangdong and guangdong == [r for r in whole if r["province_code"] == "440000"]
    shenzhen_stations = battery_events(demo, Battery.SwappedIn)
    in_futian = sum(e.division_code == "440304" for e in shenzhen_stations)
    assert sum(r["swaps"] for r in report_queries.swaps(demo.engine, Filters(region="440304"))) == in_futian
    months = sorted({r["month"] for r in whole})
    since, until = date.fromisoformat(months[1] + "-20"), date.fromisoformat(months[-2] + "-01")
    between = report_queries.swaps(demo.engine, Filters(since=since, until=until))
    assert between == [r for r in whole if months[1] <= r["month"] <= months[-2]]
    assert report_queries.swaps(demo.engine, Filters(limit=2, offset=1)) == whole[1:3]


def test_overdue_report_is_exactly_the_overdue_batteries(demo: Demo) -> None:
    for days in (OVERDUE_DAYS, 30, 365):
        reported = {r["code"] for r in report_queries.overdue(demo.engine, now=demo.now, days=days)}
        assert reported == demo.oracle.overdue(demo.now, days), days


def test_monthly_report_matches_the_events(demo: Demo) -> None:
    got = {
        (r["manufacturer_id"], r["month"]): rounded(r, MONTH_FIELDS)
        for r in report_queries.monthly(demo.engine)
        if any(r[f] for f in MONTH_FIELDS)
    }
    expected = {k: rounded(v, MONTH_FIELDS) for k, v in demo.oracle.monthly_nonzero().items()}
    assert got == expected, differing(got, expected)


def test_network_report_matches_the_events(demo: Demo) -> None:
    got = {r["id"]: rounded(r, POINT_FIELDS) for r in report_queries.network(demo.engine)}
    expected = {k: rounded(v, POINT_FIELDS) for k, v in demo.oracle.points.items()}
    assert got == expected, differing(got, expected)


def test_flows_report_matches_the_events(demo: Demo) -> None:
    got = {
        (r["source_kind"], r["source_id"], r["receiver_id"], r["activity"]): rounded(r, FLOW_FIELDS)
        for r in report_queries.flows(demo.engine)
    }
    expected = {k: rounded(v, FLOW_FIELDS) for k, v in demo.oracle.flows.items()}
    assert got == expected, differing(got, expected)


def test_recycling_rate_is_the_share_of_retired_that_reached_formal_hands(demo: Demo) -> None:
    """Of the batteries retired in a month, the share that has since reached a whitelisted
    recycler or a second life: a cohort share, so never above 1."""
    rows = report_queries.monthly(demo.engine)
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
    everything = report_queries.monthly(demo.engine)
    busiest = max({r["manufacturer_id"] for r in everything}, key=lambda m: sum(
        r["manufacturer_id"] == m for r in everything
    ))  # fmt: skip
    since, until = date(2022, 3, 15), date(2024, 8, 2)  # months are whole: 2022-03 to 2024-08
    filtered = report_queries.monthly(demo.engine, Filters(manufacturer=busiest, since=since, until=until))
    expected = [
        r for r in everything if r["manufacturer_id"] == busiest and "2022-03" <= r["month"] <= "2024-08"
    ]
    assert filtered and plain(filtered) == plain(expected)
    assert report_queries.monthly(demo.engine, Filters(manufacturer="91110000600037341L")) == []


def _guangdong_points(demo: Demo) -> set[str]:
    return {p for p, division in demo.oracle.point_divisions.items() if division.startswith(GUANGDONG)}


@pytest.mark.parametrize("region", ["44", "440000"])
def test_network_filtered_by_province_is_guangdong_only(demo: Demo, region: str) -> None:
    rows = report_queries.network(demo.engine, Filters(region=region))
    assert {r["id"] for r in rows} == _guangdong_points(demo)
    whole = report_queries.network(demo.engine)
    assert plain(rows) == plain([r for r in whole if r["division_code"].startswith(GUANGDONG)])


@pytest.mark.parametrize("level", ["province", "prefecture"])
def test_regions_filtered_by_province_are_guangdong_only(demo: Demo, level: str) -> None:
    rows = report_queries.regions(demo.engine, Filters(region=GUANGDONG), level=level)
    assert rows and all(r["region_code"].startswith(GUANGDONG) for r in rows)
    whole = report_queries.regions(demo.engine, level=level)
    assert plain(rows) == plain([r for r in whole if r["region_code"].startswith(GUANGDONG)])
    if level == "province":
        (row,) = rows
        assert row["region_code"] == "440000" and row["collection_points"] == len(_guangdong_points(demo))


def test_flows_filtered_by_province_leave_guangdong_outlets_only(demo: Demo) -> None:
    rows = report_queries.flows(demo.engine, Filters(region=GUANGDONG))
    guangdong = _guangdong_points(demo)
    assert rows and all(r["source_kind"] == "collection_point" and r["source_id"] in guangdong for r in rows)
    whole = report_queries.flows(demo.engine)
    assert plain(rows) == plain(
        [r for r in whole if r["source_kind"] == "collection_point" and r["source_id"] in guangdong]
    )


def test_network_filtered_by_prefecture_is_that_prefecture_only(demo: Demo) -> None:
    everything = report_queries.network(demo.engine)
    leaks = {}
    for prefecture in sorted({r["prefecture_code"] for r in everything}):
        got = {r["id"] for r in report_queries.network(demo.engine, Filters(region=prefecture))}
        expected = {r["id"] for r in everything if r["prefecture_code"] == prefecture}
        if got != expected:
            leaks[prefecture] = sorted(got ^ expected)
    assert leaks == {}
