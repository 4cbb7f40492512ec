"""The regulator dashboard in a real browser: what it draws must be the regulator API's numbers.

One signed-in page is shared by the module's tests (reading every report takes a moment); the
numbers are read back from the ECharts instances and compared with the API called directly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import DemoSite, console_errors, sign_in

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
READY = "#regulator[data-state=ready]"


def _all(site: DemoSite, path: str, **query: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with site.server.client("regulator", site.keys) as client:
        while True:
            answer = client.get(path, params={**query, "limit": 1000, "offset": len(rows)})
            answer.raise_for_status()
            items = answer.json()["items"]
            rows += items
            if len(items) < 1000:
                return rows


def _api_csv(site: DemoSite, report: str, **query: Any) -> list[dict[str, str]]:
    with site.server.client("regulator", site.keys) as client:
        answer = client.get(f"/api/v1/reports/{report}", params={**query, "format": "csv", "limit": 1000})
        answer.raise_for_status()
        return list(csv.DictReader(io.StringIO(answer.text)))


def _chart(page: Any, element_id: str) -> dict[str, Any]:
    """The chart's option as ECharts holds it (functions dropped on the way out)."""
    return page.evaluate(
        "(id) => JSON.parse(JSON.stringify("
        "echarts.getInstanceByDom(document.getElementById(id)).getOption()))",
        element_id,
    )


def _series(option: dict[str, Any], series_id: str) -> dict[str, Any]:
    return next(s for s in option["series"] if s["id"] == series_id)


@pytest.fixture(scope="module")
def dashboard(browser: Any, demo_site: DemoSite) -> Iterator[tuple[Any, list[str]]]:
    """The dashboard signed in as the regulator, in English, with its console errors."""
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, demo_site, "regulator", "/regulator")
    page.wait_for_selector(READY)
    yield page, errors
    context.close()


def test_the_charts_and_totals_show_the_apis_numbers(
    dashboard: tuple[Any, list[str]], demo_site: DemoSite, screenshot: Any
) -> None:
    page, errors = dashboard
    monthly = _all(demo_site, "/api/v1/reports/monthly")
    flows = _all(demo_site, "/api/v1/reports/flows")
    regions = _all(demo_site, "/api/v1/reports/regions")
    assert monthly and flows and regions, "the demo data should fill every report"

    shown = {
        el.get_attribute("data-total"): el.get_attribute("data-value")
        for el in page.locator("#rg-totals [data-total]").all()
    }
    retired = sum(r["retired"] for r in monthly)
    expected = {
        "produced": sum(r["produced"] for r in monthly),
        "in_use": sum(r["installed"] for r in monthly) - retired,
        "retired": retired,
        "collected": sum(r["collected"] for r in monthly),
        "handed_over": sum(f["count"] for f in flows),
        "recycled": sum(r["recycled"] for r in monthly),
        "cascade_used": sum(r["cascade_used"] for r in monthly),
    }
    assert {key: int(shown[key]) for key in expected} == expected
    rated = [r for r in monthly if r["recycling_rate"] is not None]
    formal = sum(round(r["recycling_rate"] * r["retired"]) for r in rated)
    assert float(shown["recycling_rate"]) == pytest.approx(formal / retired)
    assert 0 < formal < retired

    tiles = _series(_chart(page, "rg-regions-chart"), "provinces")["data"]
    assert {t["code"]: (t["name"], t["value"][2]) for t in tiles} == {
        r["region_code"]: (r["region_name_en"], r["collected"]) for r in regions
    }
    assert len({tuple(t["value"][:2]) for t in tiles}) == len(tiles), "two provinces share a tile"

    option = _chart(page, "rg-monthly-chart")
    for key in ("produced", "retired", "collected", "recycled"):
        assert sum(_series(option, key)["data"]) == sum(r[key] for r in monthly), key
    assert option["xAxis"][0]["data"][0] == min(r["month"] for r in monthly)
    assert option["xAxis"][0]["data"][-1] == max(r["month"] for r in monthly)
    assert any(v is not None and v > 0 for v in _series(option, "recycling_rate")["data"])

    maker = monthly[-1]["manufacturer_id"]
    page.select_option("#rg-manufacturer", maker)
    option = _chart(page, "rg-monthly-chart")
    own = [r for r in monthly if r["manufacturer_id"] == maker]
    for key in ("produced", "retired", "collected", "recycled"):
        assert sum(_series(option, key)["data"]) == sum(r[key] for r in own), key
    assert page.locator("#rg-monthly-table").get_attribute("data-rows") == str(len(own))
    page.select_option("#rg-manufacturer", "")

    sankey = _series(_chart(page, "rg-flows-chart"), "flows")
    assert sankey["links"], "the sankey has no links"
    assert page.locator("#rg-flows-dropped").is_hidden()  # the demo's flows have no loops
    assert sum(link["value"] for link in sankey["links"]) == sum(f["count"] for f in flows)
    names = {node["name"] for node in sankey["data"]}
    assert all(link["source"] in names and link["target"] in names for link in sankey["links"])

    page.select_option("#rg-flows-group", "point")
    by_point = _series(_chart(page, "rg-flows-chart"), "flows")
    assert sum(link["value"] for link in by_point["links"]) == sum(f["count"] for f in flows)
    assert len(by_point["data"]) > len(sankey["data"])
    page.select_option("#rg-flows-group", "province")

    page.locator("#rg-totals-card").scroll_into_view_if_needed()
    screenshot(page, "regulator-dashboard")
    assert errors == []


def test_overdue_and_compliance_entries_open_the_batterys_lifecycle(
    dashboard: tuple[Any, list[str]], demo_site: DemoSite
) -> None:
    page, errors = dashboard
    overdue = _all(demo_site, "/api/v1/reports/overdue")
    assert demo_site.examples["overdue"] in {r["code"] for r in overdue}
    assert page.locator("#rg-overdue-table").get_attribute("data-rows") == str(len(overdue))

    for table, code in (
        ("#rg-overdue-table", demo_site.examples["overdue"]),
        ("#rg-compliance-table", demo_site.examples["non_compliant_handover"]),
    ):
        page.locator(f"{table} .rg-code[data-code='{code}']").first.click()
        dialog = page.locator("#rg-battery")
        dialog.locator(".rg-timeline").wait_for()
        with demo_site.server.client("regulator", demo_site.keys) as client:
            lifecycle = client.get(f"/api/v1/batteries/{code}").json()
        assert dialog.locator(".rg-timeline tbody tr").count() == len(lifecycle["timeline"]) > 1
        assert code in dialog.inner_text()
        assert dialog.locator("a.rg-public").get_attribute("href") == f"/b/{code}"
        page.click("#rg-battery-close")
        assert dialog.is_hidden()

    public = page.context.new_page()
    answer = public.goto(f"{demo_site.url}/b/{demo_site.examples['overdue']}")
    assert answer is not None and answer.status == 200
    public.close()
    assert errors == []


def test_csv_downloads_hold_the_apis_rows(dashboard: tuple[Any, list[str]], demo_site: DemoSite) -> None:
    page, errors = dashboard
    page.select_option("#rg-compliance-kind", "non_compliant_handover")
    shown = int(page.locator("#rg-compliance-table").get_attribute("data-rows") or 0)
    with page.expect_download() as caught:
        page.click("#rg-compliance-card .rg-csv")
    download = caught.value
    assert download.suggested_filename == "compliance-non_compliant_handover.csv"
    with open(download.path(), encoding="utf-8") as saved:
        rows = list(csv.DictReader(saved))
    assert rows == _api_csv(demo_site, "compliance", kind="non_compliant_handover", lang="en")
    assert len(rows) == shown > 0 and {r["kind"] for r in rows} == {"non_compliant_handover"}
    page.select_option("#rg-compliance-kind", "")

    with page.expect_download() as caught:
        page.click("#rg-monthly-card .rg-csv")
    with open(caught.value.path(), encoding="utf-8") as saved:
        rows = list(csv.DictReader(saved))
    assert rows == _api_csv(demo_site, "monthly", lang="en")
    assert "manufacturer" in rows[0] and "manufacturer_name" not in rows[0]  # the English header
    assert len(rows) == len(_all(demo_site, "/api/v1/reports/monthly"))

    with page.expect_download() as caught:
        page.click("#rg-totals-card .rg-csv")
    with open(caught.value.path(), encoding="utf-8") as saved:
        totals = {row["metric"]: row["value"] for row in csv.DictReader(saved)}
    for el in page.locator("#rg-totals [data-total]").all():  # by the metric's name on the page
        assert totals[el.locator(".rg-total-label").inner_text()] == el.get_attribute("data-value")
    assert errors == []


def test_chinese_labels_and_a_phone_sized_screen(browser: Any, demo_site: DemoSite, screenshot: Any) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, demo_site, "regulator", "/regulator")  # in English first, then the switch
    page.wait_for_selector(READY)
    page.click("#bt-lang")
    page.wait_for_selector("html[lang=zh]")
    page.wait_for_selector(READY)

    assert page.locator("#regulator h1").inner_text() == "监管看板"
    assert page.locator("#rg-totals [data-total=recycling_rate] .rg-total-label").inner_text() == "回收利用率"
    assert page.locator("#rg-overdue-table th").first.inner_text() == "编码"
    legend = [s["name"] for s in _chart(page, "rg-monthly-chart")["series"]]
    assert legend == ["生产", "退役", "回收", "再生利用", "回收利用率"]
    tiles = _series(_chart(page, "rg-regions-chart"), "provinces")["data"]
    regions = {r["region_code"]: r["region_name"] for r in _all(demo_site, "/api/v1/reports/regions")}
    assert {t["code"]: t["name"] for t in tiles} == regions
    assert "广东省" in regions.values()
    page.locator("#rg-totals-card").scroll_into_view_if_needed()
    screenshot(page, "regulator-dashboard-zh")

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(400)  # the charts follow the window after a short pause
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for element_id in ("rg-regions-chart", "rg-monthly-chart", "rg-flows-chart"):
        width = page.evaluate(
            "(id) => echarts.getInstanceByDom(document.getElementById(id)).getWidth()", element_id
        )
        assert 0 < width <= PHONE["width"], element_id
    assert errors == []
    context.close()


def test_a_manufacturers_key_is_told_the_page_is_for_regulators(browser: Any, demo_site: DemoSite) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, demo_site, "manufacturer", "/regulator")
    page.wait_for_selector("#regulator[data-state=denied]")
    assert page.locator("#rg-denied h2").inner_text() == "This page is for regulators"
    assert page.locator("#rg-content").is_hidden()
    with demo_site.server.client("manufacturer", demo_site.keys) as client:
        assert client.get("/api/v1/reports/network").status_code == 403
    assert errors == []
    context.close()
