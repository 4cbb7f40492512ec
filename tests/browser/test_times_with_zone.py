"""Every time a page shows carries its zone (issue 11, item 2): China Standard Time to the minute,
named in the page's language (``2025-09-30 11:28 北京时间`` / ``2025-09-30 11:28 CST (UTC+8)``), on
one line. One formatter (``BT.when`` in static/js/common.js) serves the regulator dashboard (its
tables and a battery's timeline), the outlet page (a scan's result, the batteries on hand) and
the public page; a time the API gives in UTC is shown in Beijing time, never as it came.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from batterytrace.trace.pages.i18n import messages
from tests.browser.conftest import DemoSite, console_errors, sign_in
from tests.browser.test_outlet_page import TIMEOUT, retired_batteries, type_code

SHOWN_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


def marker(language: str) -> str:
    return messages(language)["time.zone"]


def untagged_times(text: str, language: str) -> list[str]:
    """Times in ``text`` that are not followed by the zone marker."""
    zone = marker(language)
    return [
        found.group()
        for found in SHOWN_TIME.finditer(text)
        if not text[found.end() :].replace("\u00a0", " ").startswith(" " + zone.replace("\u00a0", " "))
    ]


def check_time_elements(page: Any, selector: str, language: str) -> int:
    """Every <time> under ``selector`` shows a time with its zone on one line; how many there are.
    (Read in one call: a dashboard table holds hundreds.)"""
    times = page.evaluate(
        """(selector) => [...document.querySelectorAll(`${selector} time`)].map((e) => {
             const style = getComputedStyle(e);
             return { shown: e.textContent, wrap: style.whiteSpace, lines: e.getClientRects().length };
           })""",
        selector,
    )
    for time in times:
        assert SHOWN_TIME.match(time["shown"]) and time["shown"].endswith(marker(language)), time
        assert time["wrap"] == "nowrap" and time["lines"] == 1, time  # on one line
    return len(times)


def cells_without_a_time_element(page: Any, table: str) -> list[str]:
    """The time columns' cells (``*_at``) that show something other than one <time>."""
    return page.evaluate(
        """(table) => [...document.querySelectorAll(`${table} td[data-col$=_at]`)]
             .filter((td) => td.textContent.trim() !== "" && td.querySelectorAll("time").length !== 1)
             .map((td) => td.innerHTML)""",
        table,
    )


@pytest.mark.parametrize("language", ["zh", "en"])
def test_one_formatter_shows_china_standard_time_with_its_zone(
    browser: Any, demo_site: DemoSite, language: str
) -> None:
    page = browser.new_page()
    try:
        sign_in(page, demo_site, "regulator", "/regulator", lang=language)
        zone = marker(language)
        shown = page.evaluate(
            """() => [
              BT.when("2025-09-30T03:28:00Z"), BT.when("2025-09-30T03:28:00+00:00"),
              BT.when("2025-09-30T11:28:00+08:00"), BT.when("2025-09-30T11:28:00"),
              BT.when("2025-09-30"), BT.when(null)]"""
        )
        assert shown == [f"2025-09-30 11:28\u00a0{zone}"] * 4 + ["2025-09-30", ""]
    finally:
        page.close()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_dashboards_tables_and_a_batterys_timeline_show_times_with_their_zone(
    browser: Any, demo_site: DemoSite, language: str
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors = console_errors(page)
    try:
        sign_in(page, demo_site, "regulator", "/regulator", lang=language)
        page.wait_for_selector("#regulator[data-state=ready]")
        for table in ("#rg-overdue-table", "#rg-compliance-table"):
            assert cells_without_a_time_element(page, table) == []
        assert check_time_elements(page, "#rg-overdue-table", language) > 0
        assert check_time_elements(page, "#rg-compliance-table", language) > 0
        assert untagged_times(page.locator("#rg-content").inner_text(), language) == []

        page.locator("#rg-overdue-table .rg-code").first.click()
        page.wait_for_selector("#rg-battery .rg-timeline tbody tr")
        assert check_time_elements(page, "#rg-battery .rg-timeline", language) >= 2  # occurred, recorded
        assert untagged_times(page.locator("#rg-battery").inner_text(), language) == []
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_outlet_shows_when_a_battery_was_taken_in_with_its_zone(
    browser: Any, demo_site: DemoSite, language: str
) -> None:
    (code,) = retired_batteries(demo_site, 1)
    context = browser.new_context()
    page = context.new_page()
    errors = console_errors(page)
    try:
        sign_in(page, demo_site, "outlet_operator", "/outlet", lang=language)
        page.wait_for_selector("#ol-point option", state="attached")
        type_code(page, code)
        page.wait_for_selector("#ol-result .ol-outcome[data-verdict=taken] time", timeout=TIMEOUT)
        assert check_time_elements(page, "#ol-result", language) == 1
        assert untagged_times(page.locator("#ol-result").inner_text(), language) == []

        page.click("#ol-tab-handover")
        page.wait_for_selector(f"#ol-onhand input[value='{code}']", timeout=TIMEOUT)
        row = page.locator("#ol-onhand tbody tr").filter(has=page.locator(f"input[value='{code}']"))
        assert check_time_elements(page, "#ol-onhand", language) >= 1
        assert row.locator("time").inner_text().endswith(marker(language))
        assert untagged_times(page.locator("#ol-onhand").inner_text(), language) == []
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_public_page_shows_no_time_without_its_zone(
    browser: Any, demo_site: DemoSite, language: str
) -> None:
    page = browser.new_page()
    try:
        for example in ("collected", "overdue"):
            answer = page.goto(f"{demo_site.url}/b/{demo_site.examples[example]}?lang={language}")
            assert answer is not None and answer.status == 200
            assert untagged_times(page.locator("body").inner_text(), language) == []
    finally:
        page.close()
