"""The regulator dashboard's swaps report and the scrapped-vehicle finding, in English and Chinese;
and the public page of a battery at a swap station or in a scrapped vehicle.

The demo's swap operator swaps packs in and out of vehicles at stations in two provinces, and one
dismantler leaves a scrapped vehicle's pack with itself long past its deadline: the page must list
the swaps as the API counts them, and the finding with its words in the page's language (the
deadline's last day from the API's ``due_by``), never the API's English detail on a Chinese page.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import DemoSite, console_errors, sign_in

READY = "#regulator[data-state=ready]"
SCRAPPED = "scrapped_not_handed_over"


def _report(site: DemoSite, report: str, **query: Any) -> list[dict[str, Any]]:
    with site.server.client("regulator", site.keys) as client:
        answer = client.get(f"/api/v1/reports/{report}", params={**query, "limit": 1000})
        answer.raise_for_status()
        return answer.json()["items"]


def _column(page: Any, table: str, column: str) -> list[str]:
    return page.locator(f"{table} td[data-col={column}]").all_inner_texts()


@pytest.fixture(scope="module", params=["en", "zh"])
def dashboard(request: pytest.FixtureRequest, browser: Any, demo_site: DemoSite) -> Iterator[tuple[Any, str]]:
    """The dashboard signed in as the regulator in one language; its console errors are checked
    when the module's tests are done with it."""
    language = request.param
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, demo_site, "regulator", "/regulator", lang=language)
    page.wait_for_selector(f"html[lang={language}]")
    page.wait_for_selector(READY)
    yield page, language
    assert errors == []
    context.close()


def test_the_swaps_report_lists_the_apis_swaps_by_operator_and_province(
    dashboard: tuple[Any, str], demo_site: DemoSite
) -> None:
    page, language = dashboard
    swaps = _report(demo_site, "swaps")
    assert swaps and len({r["province_code"] for r in swaps}) > 1, "the demo swaps in two provinces"
    table = "#rg-swaps-table"
    assert page.locator(table).get_attribute("data-rows") == str(len(swaps))
    assert sum(int(n) for n in _column(page, table, "swaps")) == sum(r["swaps"] for r in swaps)
    newest_first = sorted(swaps, key=lambda r: r["month"], reverse=True)
    assert _column(page, table, "month") == [r["month"] for r in newest_first]
    operators, provinces = set(_column(page, table, "operator")), set(_column(page, table, "region"))
    if language == "en":
        assert page.locator("#rg-swaps-title").inner_text() == "Battery swaps by operator, province and month"
        assert operators == {"Yihuan Energy Technology Co."}
        assert provinces == {r["province_name_en"] for r in swaps} >= {"Guangdong", "Shanghai"}
        assert page.locator(f"{table} th").last.inner_text() == "Swaps"
    else:
        assert page.locator("#rg-swaps-title").inner_text() == "换电次数（按运营商、省份和月份）"
        assert operators == {"易换能源科技有限公司"}
        assert provinces == {r["province_name"] for r in swaps} >= {"广东省", "上海市"}
        assert page.locator(f"{table} th").last.inner_text() == "换电次数"


def test_the_swaps_csv_is_the_apis_export_with_headers_in_the_pages_language(
    dashboard: tuple[Any, str], demo_site: DemoSite
) -> None:
    page, language = dashboard
    with page.expect_download() as caught:
        page.click("#rg-swaps-card .rg-csv")
    assert caught.value.suggested_filename == "swaps.csv"
    with open(caught.value.path(), encoding="utf-8-sig") as saved:
        rows = list(csv.reader(saved))
    with demo_site.server.client("regulator", demo_site.keys) as client:
        answer = client.get("/api/v1/reports/swaps", params={"format": "csv", "lang": language})
        answer.raise_for_status()
    assert rows == list(csv.reader(answer.text.lstrip("\ufeff").splitlines()))
    assert rows[0][-1] == ("swaps" if language == "en" else "换电次数")
    assert len(rows) == 1 + len(_report(demo_site, "swaps"))


def test_a_scrapped_vehicles_battery_left_with_the_dismantler_is_a_finding_in_the_pages_words(
    dashboard: tuple[Any, str], demo_site: DemoSite
) -> None:
    page, language = dashboard
    found = _report(demo_site, "compliance", kind=SCRAPPED)
    assert demo_site.examples[SCRAPPED] in {f["code"] for f in found}
    page.select_option("#rg-compliance-kind", SCRAPPED)
    table = "#rg-compliance-table"
    try:
        assert page.locator(table).get_attribute("data-rows") == str(len(found))
        codes = page.locator(f"{table} td[data-col=code] .rg-code").all_inner_texts()
        assert codes == [f["code"] for f in found]
        kinds, details = set(_column(page, table, "kind")), _column(page, table, "detail")
        events = set(_column(page, table, "event"))
        for row, detail in zip(found, details, strict=True):
            assert row["due_by"] in detail and str(row["deadline_working_days"]) in detail
            assert row["occurred_at"][:10] in detail
        if language == "en":
            assert kinds == {"Scrapped vehicle's battery not handed on"} and events == {"Vehicle scrapped"}
            assert all(d.startswith("The vehicle was scrapped on") for d in details)
        else:
            assert kinds == {"报废车辆电池未按期移交"} and events == {"车辆报废"}
            assert all("报废" in d and not re.search(r"[A-Za-z]{3,}", d) for d in details)
    finally:
        page.select_option("#rg-compliance-kind", "")


@pytest.mark.parametrize(
    ("example", "language", "state", "meaning"),
    [
        ("swap_stock", "en", "at a swap station", "At a battery-swap station"),
        ("swap_stock", "zh", "换电站存放", "在换电站充电备用"),
        ("in_scrapped_vehicle", "en", "in a scrapped vehicle", "Its vehicle has been scrapped"),
        ("in_scrapped_vehicle", "zh", "随车报废", "所在车辆已报废"),
    ],
)
def test_the_public_page_names_the_new_states(
    browser: Any, demo_site: DemoSite, example: str, language: str, state: str, meaning: str
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    errors = console_errors(page)
    page.goto(f"{demo_site.url}/b/{demo_site.examples[example]}?lang={language}")
    assert page.inner_text("#state") == state
    assert page.inner_text("#meaning").startswith(meaning)
    assert errors == []
    context.close()
