"""The swaps report and the ``scrapped_not_handed_over`` finding, through the views, the API (JSON
and CSV) and the CLI, on both stores.

A swap operator swaps three times at stations in two provinces over two months; two vehicles are
scrapped on the same day with one pack each: the first pack is retired and left with the
dismantler, the second retired and handed over to a whitelisted recycler within the dismantler's
15 working days. The finding is a state of now, as the overdue report is: it appears once the
deadline has passed, only for the battery still with the dismantler, and goes away when the
dismantler hands the battery on.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Deliver, HandOver, Install, Reporting, Retire, ScrapVehicle, Swap
from batterytrace.events.working_days import WorkingCalendar
from batterytrace.projections import report_queries
from batterytrace.projections.queries import Filters
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from tests.utils.api import Api, api_on
from tests.utils.server import batterytrace_command

SCRAPPED = "scrapped_not_handed_over"
SCRAPPED_AT = datetime(2026, 5, 4, 9, 30, tzinfo=CHINA_STANDARD_TIME)  # a Monday
DUE = datetime(2026, 5, 26, 0, 0, tzinfo=CHINA_STANDARD_TIME)  # 15 working days: by 25 May
# (occurred at, removed, installed, station, division): codes by serial, see ``_code``
SWAPS = (
    (datetime(2026, 3, 10, 10, tzinfo=CHINA_STANDARD_TIME), 1, 11, "YH-440304-03", "440304"),
    (datetime(2026, 3, 20, 10, tzinfo=CHINA_STANDARD_TIME), 2, 12, "YH-440305-01", "440305"),
    (datetime(2026, 4, 2, 10, tzinfo=CHINA_STANDARD_TIME), 11, 1, "YH-310115-05", "310115"),
)
VINS = {1: "LSVAU2180N2000001", 2: "LSVAU2180N2000002", 21: "LSVAU2180N2000021", 22: "LSVAU2180N2000022"}


def _code(serial: int) -> str:
    return make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2025, 6, 2), serial)


@dataclass
class Store:
    api: Api
    engine: Engine
    runner: ViewRunner
    operator: str

    @property
    def service(self) -> BatteryTrace:
        return self.api.service

    def get(self, path: str, **params: Any) -> Any:
        answer = self.api.client.get(path, params=params, headers=self.api.auth("regulator"))
        assert answer.status_code == 200, answer.text
        return answer


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with api_on(database_url, run_projections=False) as api:
        service, cast = api.service, api.cast
        service.register_participant(
            actor_id=cast.regulator,
            credit_code=cast.swap_operator,
            name="易换能源",
            name_en="Yihuan Energy",
            roles=["swap_operator"],
        )
        m, vm = cast.manufacturer, cast.vehicle_maker
        for serial in (1, 2, 11, 12, 21, 22):
            service.produce(
                actor_id=m,
                spec=ProductionSpec(
                    code=_code(serial),
                    rated_capacity_ah=150,
                    nominal_voltage_v=100,
                    energy_kwh=15,
                    mass_kg=110,
                ),
            )
            receiver = cast.swap_operator if serial in (11, 12) else vm
            when = datetime(2025, 6, 20, 10, tzinfo=CHINA_STANDARD_TIME)
            service.execute(
                Deliver(actor_id=m, code=_code(serial), receiver_id=receiver, reporting=Reporting(when))
            )
            if serial in VINS:
                service.execute(
                    Install(
                        actor_id=vm,
                        code=_code(serial),
                        vin=VINS[serial],
                        reporting=Reporting(when + timedelta(days=10)),
                    )
                )
        vehicle_of = {1: VINS[1], 2: VINS[2]}
        for when, removed, installed, station, division_code in SWAPS:
            vin = vehicle_of.pop(removed)
            service.execute(
                Swap(
                    actor_id=cast.swap_operator,
                    vin=vin,
                    removed_code=_code(removed),
                    installed_code=_code(installed),
                    station=station,
                    division_code=division_code,
                    reporting=Reporting(when),
                )
            )
            vehicle_of[installed] = vin
        for serial in (21, 22):
            service.execute(
                ScrapVehicle(
                    actor_id=cast.dismantler,
                    vin=VINS[serial],
                    codes=(_code(serial),),
                    reporting=Reporting(SCRAPPED_AT),
                )
            )
            service.execute(
                Retire(
                    actor_id=cast.dismantler,
                    code=_code(serial),
                    reason="vehicle scrapped",
                    reporting=Reporting(SCRAPPED_AT + timedelta(days=2)),
                )
            )
        service.execute(
            HandOver(
                actor_id=cast.dismantler,
                code=_code(22),
                receiver_id=cast.recycler,
                activity="recycling",
                reporting=Reporting(SCRAPPED_AT + timedelta(days=8)),
            )
        )
        runner = ViewRunner(service)
        try:
            runner.catch_up()
            yield Store(api, runner.engine, runner, cast.swap_operator)
        finally:
            runner.engine.dispose()


# ---------------------------------------------------------------------------------------- swaps
def test_each_swap_is_counted_once_per_operator_province_and_month(store: Store) -> None:
    rows = report_queries.swaps(store.engine)
    assert [(r["month"], r["province_code"], r["swaps"]) for r in rows] == [
        ("2026-03", "440000", 2),  # two stations in Shenzhen: one province
        ("2026-04", "310000", 1),
    ]
    assert {r["operator_id"] for r in rows} == {store.operator}
    assert [(r["operator_name"], r["operator_name_en"]) for r in rows] == [("易换能源", "Yihuan Energy")] * 2
    assert [(r["province_name"], r["province_name_en"]) for r in rows] == [
        ("广东省", "Guangdong"),
        ("上海市", "Shanghai"),
    ]
    assert report_queries.swaps_count(store.engine) == 2


@pytest.mark.parametrize(
    ("filters", "months"),
    [
        (Filters(region="44"), ["2026-03"]),
        (Filters(region="440304"), ["2026-03"]),
        (Filters(region="4403"), ["2026-03"]),
        (Filters(region="440100"), []),
        (Filters(region="310000"), ["2026-04"]),
        (Filters(since=date(2026, 4, 1)), ["2026-04"]),
        (Filters(until=date(2026, 3, 31)), ["2026-03"]),
        (Filters(limit=1, offset=1), ["2026-04"]),
    ],
)
def test_the_swaps_report_narrows_to_a_region_and_months(
    store: Store, filters: Filters, months: list[str]
) -> None:
    assert [r["month"] for r in report_queries.swaps(store.engine, filters)] == months


def test_one_division_counts_only_its_own_stations(store: Store) -> None:
    (futian,) = report_queries.swaps(store.engine, Filters(region="440304"))
    assert futian["swaps"] == 1  # the other March swap was at Nanshan (440305)


def test_the_api_answers_the_swaps_report_as_a_page_and_as_csv_in_both_languages(store: Store) -> None:
    page = store.get("/api/v1/reports/swaps").json()
    assert page["total"] == 2 and [r["swaps"] for r in page["items"]] == [2, 1]
    assert store.get("/api/v1/reports/swaps", operator=store.api.cast.recycler).json()["total"] == 0
    assert store.get("/api/v1/reports/swaps", region="31", since="2026-04-01").json()["total"] == 1
    keys = next(csv.reader(io.StringIO(store.get("/api/v1/reports/swaps", format="csv").text)))
    assert keys[0] == "month" and keys[-1] == "swaps"
    zh = list(csv.reader(io.StringIO(store.get("/api/v1/reports/swaps", format="csv", lang="zh").text)))
    assert zh[0][0].lstrip("\ufeff") == "月份" and zh[0][-1] == "换电次数" and zh[1][-1] == "2"
    en = next(csv.reader(io.StringIO(store.get("/api/v1/reports/swaps", format="csv", lang="en").text)))
    assert en[-1] == "swaps" and "swap operator" in en
    refused = store.api.client.get(
        "/api/v1/reports/swaps", params={"manufacturer": store.operator}, headers=store.api.auth("regulator")
    )
    assert refused.status_code == 422  # a filter this report does not take is refused, not ignored


def test_only_a_regulator_reads_the_swaps_report(store: Store) -> None:
    answer = store.api.client.get("/api/v1/reports/swaps", headers=store.api.auth("manufacturer"))
    assert answer.status_code == 403


# -------------------------------------------------------------------------- scrapped vehicles
def test_the_deadline_stored_with_the_scrapping_is_the_dismantlers_15_working_days() -> None:
    assert WorkingCalendar().due(SCRAPPED_AT, 15) == DUE


def test_a_battery_still_with_the_dismantler_is_a_finding_from_the_moment_its_deadline_passed(
    store: Store,
) -> None:
    def found(now: datetime) -> list[dict[str, Any]]:
        return report_queries.compliance(store.engine, kind=SCRAPPED, now=now)

    assert found(DUE - timedelta(seconds=1)) == []
    (finding,) = found(DUE)
    assert finding["code"] == _code(21)  # not the one handed over in time
    assert (finding["event"], finding["actor_id"]) == ("VehicleScrapped", store.api.cast.dismantler)
    assert finding["occurred_at"] == SCRAPPED_AT.isoformat()
    assert (finding["due_at"], finding["due_by"]) == (DUE.isoformat(), "2026-05-25")
    assert (finding["deadline_working_days"], finding["deadline_role"]) == (15, "dismantler")
    assert "still with the dismantler after 15 working days" in finding["detail"]
    assert report_queries.compliance_count(store.engine, kind=SCRAPPED, now=DUE) == 1
    everything = report_queries.compliance(store.engine, now=DUE)
    assert {(f["kind"], f["code"]) for f in everything} >= {(SCRAPPED, _code(21))}
    assert report_queries.compliance_count(store.engine, now=DUE) == len(everything)


@pytest.mark.parametrize(
    ("filters", "listed"),
    [
        (Filters(since=date(2026, 5, 4), until=date(2026, 5, 4)), True),
        (Filters(since=date(2026, 5, 5)), False),
        (Filters(until=date(2026, 5, 3)), False),
    ],
)
def test_the_finding_is_dated_by_the_scrapping(store: Store, filters: Filters, listed: bool) -> None:
    codes = {f["code"] for f in report_queries.compliance(store.engine, filters, kind=SCRAPPED, now=DUE)}
    assert codes == ({_code(21)} if listed else set())


def test_the_finding_is_the_batterys_manufacturers(store: Store) -> None:
    def codes(manufacturer: str) -> set[str]:
        found = report_queries.compliance(
            store.engine, Filters(manufacturer=manufacturer), kind=SCRAPPED, now=DUE
        )
        return {f["code"] for f in found}

    assert codes(store.api.cast.manufacturer) == {_code(21)}
    assert codes(store.api.cast.other_manufacturer) == set()


def test_the_api_and_its_csv_list_the_finding_with_its_deadline(store: Store) -> None:
    page = store.get("/api/v1/reports/compliance", kind=SCRAPPED).json()
    (item,) = page["items"]
    assert (item["code"], item["due_by"], item["deadline_working_days"]) == (_code(21), "2026-05-25", 15)
    zh = list(
        csv.DictReader(
            io.StringIO(store.get("/api/v1/reports/compliance", kind=SCRAPPED, format="csv", lang="zh").text)
        )
    )
    assert [(row["问题类型"], row["上报截止日"]) for row in zh] == [(SCRAPPED, "2026-05-25")]


def test_handing_the_battery_on_ends_the_finding(store: Store) -> None:
    cast = store.api.cast
    store.service.execute(
        HandOver(
            actor_id=cast.dismantler,
            code=_code(21),
            receiver_id=cast.recycler,
            activity="recycling",
            reporting=Reporting(datetime(2026, 6, 10, 10, tzinfo=CHINA_STANDARD_TIME)),
        )
    )
    store.runner.catch_up()
    assert report_queries.compliance(store.engine, kind=SCRAPPED, now=DUE + timedelta(days=30)) == []


def test_the_cli_prints_the_swaps_report_and_the_finding(
    store: Store, database_url: str, tmp_path: Any
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
    env.update(BATTERYTRACE_DATABASE_URL=database_url, COLUMNS="200", NO_COLOR="1", PYTHONIOENCODING="utf-8")

    def cli(*args: str) -> str:
        done = subprocess.run(
            [batterytrace_command(), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    rows = list(csv.DictReader(io.StringIO(cli("report", "swaps", "--format", "csv", "--region", "44"))))
    assert [(r["month"], r["province_code"], r["swaps"]) for r in rows] == [("2026-03", "440000", "2")]
    table = cli("report", "swaps", "--lang", "zh")
    assert "换电次数" in table and "易换能源" in table
    findings = list(csv.DictReader(io.StringIO(cli("report", "compliance", "--kind", SCRAPPED, "-f", "csv"))))
    assert [(f["code"], f["due_by"]) for f in findings] == [(_code(21), "2026-05-25")]
