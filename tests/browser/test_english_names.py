"""The demo's enterprises and outlets have Chinese names, each with an English one (issue 11,
item 6): the Chinese pages show the registered names, the English pages the English ones (the
regulator dashboard's network, flows and overdue tables, the outlet page's points and receivers,
the public page's maker and collection points). What the pages show is checked against the API.
"""

from __future__ import annotations

from typing import Any

import pytest

from batterytrace.demo.cast import ENGLISH_NAMES
from tests.browser.conftest import DemoSite, console_errors, sign_in


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def api_items(site: DemoSite, role: str, path: str, **query: Any) -> list[dict[str, Any]]:
    with site.server.client(role, site.keys) as client:
        answer = client.get(path, params={"limit": 1000, **query})
        answer.raise_for_status()
        return answer.json()["items"]


def column(page: Any, table: str, key: str) -> list[str]:
    return page.evaluate(
        """([table, key]) => [...document.querySelectorAll(`${table} td[data-col=${key}]`)]
             .map((td) => td.textContent)""",
        [table, key],
    )


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_dashboard_names_outlets_and_enterprises_in_the_pages_language(
    browser: Any, demo_site: DemoSite, language: str
) -> None:
    network = api_items(demo_site, "regulator", "/api/v1/reports/network")
    assert network and all(row["name_en"] for row in network), "every demo outlet has an English name"
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors = console_errors(page)
    try:
        sign_in(page, demo_site, "regulator", "/regulator", lang=language)
        page.wait_for_selector("#regulator[data-state=ready]")
        shown_points = dict(
            page.evaluate(
                """() => [...document.querySelectorAll("#rg-network-table td[data-col=point]")].map((td) =>
                     [td.querySelector("code").textContent, td.lastChild.textContent])"""
            )
        )
        field = "name_en" if language == "en" else "name"
        assert shown_points == {row["id"]: row[field] for row in network}

        receivers = [name for name in column(page, "#rg-flows-table", "receiver") if name]
        makers = [name for name in column(page, "#rg-overdue-table", "manufacturer") if name]
        assert receivers and makers
        for name in receivers + makers:
            assert has_chinese(name) == (language == "zh"), name
        if language == "en":
            assert set(receivers + makers) <= set(ENGLISH_NAMES.values())
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_outlet_page_names_its_points_and_receivers_in_the_pages_language(
    browser: Any, demo_site: DemoSite, language: str
) -> None:
    points = api_items(demo_site, "outlet_operator", "/api/v1/me/collection-points")
    context = browser.new_context()
    page = context.new_page()
    errors = console_errors(page)
    try:
        sign_in(page, demo_site, "outlet_operator", "/outlet", lang=language)
        page.wait_for_selector("#ol-point option", state="attached")
        options = page.locator("#ol-point option").all_inner_texts()
        field = "name_en" if language == "en" else "name"
        assert options == [f"{p[field]} · {p['id']}" for p in points]
        page.click("#ol-tab-handover")
        page.wait_for_selector("#ol-receiver option", state="attached")
        receivers = [text.split(" · ")[0] for text in page.locator("#ol-receiver option").all_inner_texts()]
        assert receivers
        for name in receivers:
            assert has_chinese(name) == (language == "zh"), name
        assert errors == []
    finally:
        context.close()


def test_the_public_page_names_the_maker_and_the_outlets_in_the_pages_language(
    browser: Any, demo_site: DemoSite
) -> None:
    code = demo_site.examples["retired"]
    page = browser.new_page()
    try:
        shown = {}
        for language in ("zh", "en"):
            page.goto(f"{demo_site.url}/b/{code}?lang={language}")
            facts = dict(
                zip(
                    page.locator(".facts dt").all_inner_texts(),
                    page.locator(".facts dd").all_inner_texts(),
                    strict=True,
                )
            )
            shown[language] = (list(facts.values())[2], page.locator("#points .name").all_inner_texts())
        maker_zh, points_zh = shown["zh"]
        maker_en, points_en = shown["en"]
        assert has_chinese(maker_zh) and ENGLISH_NAMES[maker_zh] == maker_en
        assert points_zh and len(points_zh) == len(points_en)
        assert all(has_chinese(name) for name in points_zh)
        assert not any(has_chinese(name) for name in points_en)
    finally:
        page.close()
