"""The public battery page (``/b/{code}``, where a battery's QR code leads) in a real browser at
phone size: Chinese or English as the phone asks, a language switch that is remembered, no
sideways scrolling, the status and the nearest collection points in view, and "use my location"
ranking the points by distance from the phone."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import DemoSite, console_errors

PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
HERE = {"latitude": 39.92, "longitude": 116.44}  # Beijing, Dongcheng
DISTANCE = re.compile(r"^\d+\.\d (km|公里)$")


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """``phone(locale, **options)``: a new phone-sized page; its contexts close after the test."""
    contexts: list[Any] = []

    def open_page(locale: str, **options: Any) -> Any:
        context = browser.new_context(locale=locale, **PHONE, **options)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def public_json(site: DemoSite, code: str, **params: float) -> dict[str, Any]:
    query = "&".join(f"{name}={value}" for name, value in params.items())
    with urllib.request.urlopen(f"{site.url}/b/{code}?format=json&{query}") as response:
        result: dict[str, Any] = json.load(response)
    return result


def fits_the_screen(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= 360"))


def point_names(page: Any) -> list[str]:
    return [name.strip() for name in page.locator("#points .name").all_inner_texts()]


def test_a_retired_battery_in_chinese_then_english_on_a_phone(
    phone: Any, demo_site: DemoSite, screenshot: Any
) -> None:
    code = demo_site.examples["retired"]
    expected = public_json(demo_site, code)
    assert expected["state"] == "retired" and expected["collection_points"]
    page = phone("zh-CN")
    errors = console_errors(page)
    page.goto(f"{demo_site.url}/b/{code}")

    assert page.locator("html").get_attribute("lang") == "zh"
    assert page.inner_text("#state") == "已退役"
    assert "请交到下方的回收服务网点" in page.inner_text("#meaning")
    assert page.inner_text("#return") == "回收服务网点"
    # The stylesheets loaded under the page's CSP: the badge is coloured, white on amber.
    badge = page.eval_on_selector(
        "#state", "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]"
    )
    assert badge == ["rgb(154, 77, 0)", "rgb(255, 255, 255)"]
    assert point_names(page) == [p["name"] for p in expected["collection_points"]]
    distances = page.locator("#points .distance").all_inner_texts()
    assert len(distances) == len(expected["collection_points"])
    assert all(DISTANCE.match(d) and d.endswith("公里") for d in distances), distances
    addresses = page.locator("#points .address").all_inner_texts()
    assert addresses == [p["address"] for p in expected["collection_points"]]
    assert page.locator("#points").is_visible()
    assert page.locator("dl.facts dt").all_inner_texts()[:2] == ["类型", "材料体系"]
    assert page.get_attribute("#qr-link", "href") == f"{code}/qr.png"
    page.wait_for_function("document.querySelector('.qr img').naturalWidth > 0")  # the QR drawn
    assert fits_the_screen(page)
    screenshot(page, "public-page-phone")

    page.click("#lang-switch")
    page.wait_for_selector("html[lang=en]")
    assert page.inner_text("#state") == "retired"
    assert page.inner_text("#return") == "Where to return it"
    assert all(d.endswith(" km") for d in page.locator("#points .distance").all_inner_texts())
    assert fits_the_screen(page)
    # The choice is remembered: the same address without ?lang= stays in English.
    page.goto(f"{demo_site.url}/b/{code}")
    assert page.locator("html").get_attribute("lang") == "en"
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=zh]")
    assert page.inner_text("#state") == "已退役"
    assert errors == []


def test_a_cascade_reused_battery_in_english_leads_to_its_second_life_product(
    phone: Any, demo_site: DemoSite, screenshot: Any
) -> None:
    code = demo_site.examples["cascade_reused"]
    expected = public_json(demo_site, code)
    product = expected["second_life_product"]
    assert product
    page = phone("en-US")
    errors = console_errors(page)
    page.goto(f"{demo_site.url}/b/{code}")

    assert page.locator("html").get_attribute("lang") == "en"
    assert page.inner_text("#state") == "cascade-reused"
    assert page.inner_text("#meaning") == "Lives on in a second-life product."
    assert page.inner_text("#life") == "Second life"
    assert point_names(page) == [p["name_en"] for p in expected["collection_points"]]  # English names
    assert page.locator("#points .distance").count() == len(expected["collection_points"])
    assert fits_the_screen(page)
    screenshot(page, "public-page-phone-en")

    page.click("#second-life-product")
    page.wait_for_url(f"**/b/{product}")
    assert "second-life product, made from retired batteries" in page.inner_text("main")
    assert fits_the_screen(page)
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=zh]")
    assert "这是由退役电池制成的梯次利用产品" in page.inner_text("main")
    assert errors == []


def test_with_location_granted_the_points_nearest_to_the_phone_come_first(
    phone: Any, demo_site: DemoSite
) -> None:
    code = demo_site.examples["retired"]
    page = phone("en-US", geolocation=HERE, permissions=["geolocation"])
    errors = console_errors(page)
    page.goto(f"{demo_site.url}/b/{code}")
    assert page.inner_text("#points-near") != "Nearest to your location."

    page.click("#near")
    page.wait_for_url(re.compile(r"lat=39\.920&lon=116\.440"))
    assert page.inner_text("#points-near") == "Nearest to your location."
    expected = public_json(demo_site, code, lat=39.92, lon=116.44)["collection_points"]
    assert point_names(page) == [p["name_en"] for p in expected]  # an English page
    distances = page.locator("#points .distance").all_inner_texts()
    assert distances == [f"{p['distance_km']:.1f} km" for p in expected]
    kilometres = [float(d.split()[0]) for d in distances]
    assert kilometres == sorted(kilometres)
    # The language switch keeps the location the points were chosen for.
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=zh]")
    assert "lat=39.92" in page.url
    assert page.inner_text("#points-near") == "离您所在位置最近的网点。"
    assert fits_the_screen(page)
    assert errors == []


def test_without_location_permission_the_list_stays_and_the_page_says_why(
    phone: Any, demo_site: DemoSite
) -> None:
    code = demo_site.examples["retired"]
    page = phone("en-US")  # no permission granted: the browser refuses
    errors = console_errors(page)
    page.goto(f"{demo_site.url}/b/{code}")
    before = point_names(page)
    page.click("#near")
    page.wait_for_selector("#near-status:not([hidden])")
    assert "not available" in page.inner_text("#near-status")
    assert "lat=" not in page.url and point_names(page) == before
    assert page.is_enabled("#near")
    assert errors == []
