"""Reports larger than a page (issue 11, item 3): before, the API answered the first 100 rows,
``count`` was the page size and ``?format=csv`` exported 100 of 771 monthly rows without saying so.

A national platform with 25 battery manufacturers reporting production for 100 months holds 2,500
monthly rows. On SQLite and PostgreSQL: the CSV export holds every one of them (streamed), JSON
pages say the total and link the next page, and walking ``next`` visits every row exactly once;
a page larger than 1,000 rows is refused, saying how to get more. The CLI's CSV of the same report
is the API's, byte for byte, and a streamed export does not hold SQLite's write lock.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from batterytrace.cli.main import app as cli
from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.projections import report_queries
from batterytrace.projections.database import create_view_engine
from batterytrace.trace.bulk_import import import_text
from batterytrace.trace.report_columns import REPORT_COLUMNS, column_keys
from tests.utils.api import Api, api_on
from tests.utils.cast import credit_code

MANUFACTURERS = 25
MONTHS = 100
MONTHLY_ROWS = MANUFACTURERS * MONTHS


def _months() -> Iterator[date]:
    for index in range(MONTHS):
        yield date(2016 + index // 12, 1 + index % 12, 15)


@pytest.fixture
def national(database_url: str) -> Iterator[tuple[Api, str, int]]:
    """The API on a store where 25 manufacturers each produced one battery a month for 100
    months (bulk import, one file per manufacturer); the last notification id."""
    with api_on(database_url) as api:
        service, last = api.service, 0
        for number in range(MANUFACTURERS):
            maker = credit_code(f"91330100MA2{number:06d}")
            manufacturer_code = f"7{chr(ord('A') + number // 10)}{number % 10}"
            service.register_participant(
                actor_id=api.cast.regulator,
                credit_code=maker,
                name=f"Manufacturer {number:02d}",
                roles=["manufacturer"],
                manufacturer_codes=[manufacturer_code],
            )
            lines = ["code,rated_capacity_ah,nominal_voltage_v,energy_kwh,mass_kg,occurred_at"]
            for serial, day in enumerate(_months(), start=1):
                code = make_battery_code(manufacturer_code, "P", "B", "12", "0A1B2C3", day, serial)
                moment = datetime(day.year, day.month, day.day, 10, tzinfo=CHINA_STANDARD_TIME).isoformat()
                lines.append(f"{code},150,100,15,110,{moment}")
            report = import_text(service, maker, "\n".join(lines) + "\n", "csv")
            assert report.refused == [], report.refused[:3]
        last = service.produce(
            actor_id=api.cast.manufacturer,
            spec=ProductionSpec(
                code=make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), 1),
                rated_capacity_ah=150,
                nominal_voltage_v=100,
                energy_kwh=15,
                mass_kg=110,
            ),
        ).notification_id
        yield api, database_url, last or 0


def _get(api: Api, path: str, **params: object) -> Any:
    return api.client.get(path, params=params, headers=api.auth("regulator"))


def test_the_monthly_csv_holds_every_row_not_the_first_page(national: tuple[Api, str, int]) -> None:
    api, _, last = national
    answer = _get(api, "/api/v1/reports/monthly", format="csv", after=last)
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == MONTHLY_ROWS + 1  # and the cast's own manufacturer's one month
    assert len({(r["manufacturer_id"], r["month"]) for r in rows}) == len(rows)
    assert sum(int(r["produced"]) for r in rows) == MONTHLY_ROWS + 1


def test_json_pages_say_the_total_and_walking_next_reads_every_row_once(
    national: tuple[Api, str, int],
) -> None:
    api, _, last = national
    first = _get(api, "/api/v1/reports/monthly", after=last).json()
    assert (first["total"], first["count"], first["limit"], first["offset"]) == (
        MONTHLY_ROWS + 1,
        100,
        100,
        0,
    )
    assert first["next"] == f"/api/v1/reports/monthly?after={last}&offset=100&limit=100"
    seen: list[tuple[str, str]] = []
    path, pages = "/api/v1/reports/monthly?limit=1000", 0
    while path:
        page = api.client.get(path, headers=api.auth("regulator")).json()
        assert page["total"] == MONTHLY_ROWS + 1
        seen += [(r["manufacturer_id"], r["month"]) for r in page["items"]]
        path, pages = page["next"], pages + 1
    assert pages == 3 and len(seen) == MONTHLY_ROWS + 1 and len(set(seen)) == len(seen)
    everything = list(csv.DictReader(io.StringIO(_get(api, "/api/v1/reports/monthly", format="csv").text)))
    assert seen == [(r["manufacturer_id"], r["month"]) for r in everything]  # the same order


def test_a_page_over_1000_rows_is_refused_saying_how_to_get_more(national: tuple[Api, str, int]) -> None:
    api, _, _ = national
    refused = _get(api, "/api/v1/reports/monthly", limit=5000)
    assert refused.status_code == 422, refused.text
    assert "1000" in refused.json()["detail"] and "format=csv" in refused.json()["detail"]


def test_the_cli_csv_is_the_api_csv(national: tuple[Api, str, int], tmp_path, monkeypatch) -> None:
    api, database_url, last = national
    monkeypatch.setenv("BATTERYTRACE_DATABASE_URL", database_url)
    for language in (None, "zh"):
        output = tmp_path / f"monthly-{language}.csv"
        args = ["report", "monthly", "--output", str(output)] + (["--lang", language] if language else [])
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        params = {"format": "csv", "after": last} | ({"lang": language} if language else {})
        from_api = _get(api, "/api/v1/reports/monthly", **params).text
        assert output.read_text(encoding="utf-8") == from_api
    header = (tmp_path / "monthly-zh.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == [c.zh for c in REPORT_COLUMNS["monthly"]]


def test_a_streamed_export_lets_writers_go_on(national: tuple[Api, str, int]) -> None:
    """Half-way through reading the export, a manufacturer records production: on SQLite the
    reader must not hold the write lock (BEGIN IMMEDIATE) meanwhile, or the write waits 30 s and
    fails "database is locked"."""
    api, database_url, last = national
    assert _get(api, "/api/v1/reports/monthly", after=last, limit=1).status_code == 200
    rows = report_queries.monthly_rows(create_view_engine(database_url))
    first = [next(rows) for _ in range(10)]
    started = time.monotonic()
    written = api.service.produce(
        actor_id=api.cast.manufacturer,
        spec=ProductionSpec(
            code=make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), 2),
            rated_capacity_ah=150,
            nominal_voltage_v=100,
            energy_kwh=15,
            mass_kg=110,
        ),
    )
    assert written.notification_id and time.monotonic() - started < 5
    assert len(first) + len(list(rows)) == MONTHLY_ROWS + 1


def test_every_report_model_has_the_shared_columns_in_order() -> None:
    from batterytrace.trace.api.routes import reports

    models = {
        "network": reports.NetworkRow,
        "regions": reports.RegionRow,
        "flows": reports.FlowRow,
        "monthly": reports.MonthlyRow,
        "swaps": reports.SwapsRow,
        "overdue": reports.OverdueRow,
        "compliance": reports.ComplianceRow,
    }
    for name, model in models.items():
        assert list(model.model_fields) == column_keys(name), name
