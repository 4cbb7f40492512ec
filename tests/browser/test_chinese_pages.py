"""Chinese pages say everything in Chinese (issue 11, items 6 and 7): an outlet's refusal, a public
error page, the compliance table's 详情 column and a battery's flags carry no English server
sentences with ``?lang=zh`` (the same places in English still read English); the demo's
enterprises and outlets have Chinese names; codes, VINs and times stay on one line; headers never
stack one character per line; counts read "3 块电池" / "3 batteries"; the scan field's hint fits.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import DemoSite, console_errors, sign_in

# A run of English words ("is not whitelisted", "cannot collect"): what a Chinese page must not
# show. Single Latin tokens (codes, "kg", "CP-110105-0001", "API") are fine.
ENGLISH_WORDS = re.compile(r"[A-Za-z]{2,}(?:[ '\-][A-Za-z]{2,})+")
CJK = re.compile(r"[\u4e00-\u9fff]")
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1366, "height": 900}
READY = "#regulator[data-state=ready]"
TIMEOUT = 20_000
UNKNOWN = "3CAPB120A1B2C3R7F0000999"  # a well-formed code no one recorded


def english_in(text: str) -> list[str]:
    return ENGLISH_WORDS.findall(text)


@pytest.fixture(scope="module")
def pages(browser: Any) -> Iterator[Any]:
    """``pages(viewport)``: a new page; its contexts close after the module."""
    contexts: list[Any] = []

    def open_page(viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def scan_refused(page: Any, code: str) -> Any:
    page.fill("#ol-text", code)
    page.click("#ol-type-form button[type=submit]")
    shown = page.locator("#ol-result .ol-outcome[data-verdict=refused]").filter(has_text=code)
    shown.wait_for(timeout=TIMEOUT)
    return shown


# ------------------------------------------------------------------------------------ outlet
def test_an_outlet_refusal_is_said_in_chinese_and_in_english_on_the_english_page(
    pages: Any, demo_site: DemoSite
) -> None:
    installed = demo_site.examples["installed"]
    page = pages(PHONE)
    errors = console_errors(page)
    sign_in(page, demo_site, "outlet_operator", "/outlet", lang="zh")
    page.wait_for_selector("#ol-point option", state="attached")
    point = page.locator("#ol-point option").first.inner_text()
    assert CJK.search(point) and not english_in(point), point  # the demo outlet's own name

    outcome = scan_refused(page, installed)
    reason = outcome.locator(".ol-reason").inner_text()
    assert "使用中" in reason and "收集入库" in reason and installed in reason, reason
    facts = outcome.locator("dl").inner_text()
    assert not english_in(reason) and not english_in(facts), (reason, facts)
    assert "电池包" in facts or "模块" in facts or "单体" in facts, facts

    unknown = scan_refused(page, UNKNOWN).locator(".ol-reason").inner_text()
    assert "尚无记录" in unknown and not english_in(unknown), unknown
    mistyped = scan_refused(page, "3CAPB120A1B2C3I7F0000999").locator(".ol-reason").inner_text()
    assert "生产日期" in mistyped and not english_in(mistyped), mistyped
    history = page.locator("#ol-history").inner_text()
    assert not english_in(history), history
    assert all("status of 4" in e for e in errors), errors

    english = pages(PHONE)
    sign_in(english, demo_site, "outlet_operator", "/outlet", lang="en")
    english.wait_for_selector("#ol-point option", state="attached")
    said = scan_refused(english, installed).locator(".ol-reason").inner_text()
    assert f"battery {installed} is installed: cannot collect" in said, said


def test_counts_have_their_plural_and_the_scan_hint_fits_a_phone(pages: Any, demo_site: DemoSite) -> None:
    for lang, expected in (
        ("zh", {1: "在库电池 1 块。", 3: "在库电池 3 块。"}),
        ("en", {1: "1 battery on hand.", 3: "3 batteries on hand."}),
    ):
        page = pages(PHONE)
        sign_in(page, demo_site, "outlet_operator", "/outlet", lang=lang)
        for count, text in expected.items():
            assert page.evaluate("(n) => BT.plural('outlet.handover.count', n)", count) == text
        assert "(" not in page.evaluate("BT.plural('outlet.queue.waiting', 2, { seconds: 4 })")
        hint_fits = page.evaluate(
            """() => {
                const input = document.getElementById("ol-text");
                const style = getComputedStyle(input);
                const context = document.createElement("canvas").getContext("2d");
                context.font = `${style.fontSize} ${style.fontFamily}`;
                const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
                const room = input.clientWidth - padding;
                return context.measureText(input.placeholder).width <= room;
            }"""
        )
        assert hint_fits, lang


# ------------------------------------------------------------------------------- public page
def error_page(site: DemoSite, code: str, lang: str) -> tuple[int, str]:
    request = urllib.request.Request(f"{site.url}/b/{code}?lang={lang}", headers={"Accept": "text/html"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_public_error_pages_speak_the_pages_language(pages: Any, demo_site: DemoSite) -> None:
    page = pages(PHONE)
    for code, status, words in ((UNKNOWN, 404, "尚无记录"), ("3CAPB120A1B2C3I7F0000999", 422, "生产日期")):
        answer = page.goto(f"{demo_site.url}/b/{code}?lang=zh")
        assert answer is not None and answer.status == status
        said = page.locator("#problem").inner_text()
        assert words in said and not english_in(said), said
        assert not english_in(page.locator("h1").inner_text())
    status, body = error_page(demo_site, UNKNOWN, "en")
    assert status == 404 and "no battery with this code has been recorded" in body


# -------------------------------------------------------------------------------- regulator
@pytest.fixture(scope="module")
def dashboard_zh(pages: Any, demo_site: DemoSite) -> Any:
    page = pages(DESKTOP)
    sign_in(page, demo_site, "regulator", "/regulator", lang="zh")
    page.wait_for_selector(READY, timeout=60_000)
    return page


def column_texts(page: Any, column: str) -> list[str]:
    return page.locator(f"#rg-compliance-table td[data-col={column}]").all_inner_texts()


def test_the_compliance_details_and_names_are_chinese(dashboard_zh: Any, demo_site: DemoSite) -> None:
    page = dashboard_zh
    details = column_texts(page, "detail")
    assert len(details) > 3
    assert [d for d in details if english_in(d)] == []
    for column in ("kind", "event", "manufacturer", "actor"):
        assert [t for t in column_texts(page, column) if english_in(t)] == [], column
    kinds = set(column_texts(page, "kind"))
    assert {"违规移交", "逾期上报"} <= kinds, kinds
    assert any("不在再生利用白名单内" in d for d in details), details
    assert any("应于" in d and "前上报" in d for d in details), details

    operators = page.locator("#rg-network-table td[data-col=operator]").all_inner_texts()
    assert operators and not [o for o in operators if english_in(o)], operators[:5]


def test_a_flagged_batterys_flags_are_chinese(dashboard_zh: Any, demo_site: DemoSite) -> None:
    page = dashboard_zh
    code = demo_site.examples["non_compliant_handover"]
    page.locator(f"#rg-compliance-table .rg-code[data-code='{code}']").first.click()
    dialog = page.locator("#rg-battery")
    dialog.locator(".rg-timeline").wait_for()
    flags = dialog.locator(".rg-flags .badge").all_inner_texts()
    assert "违规移交" in flags, flags
    assert not english_in(dialog.locator(".rg-flags").inner_text())
    assert not english_in(dialog.locator(".rg-timeline").inner_text())
    page.click("#rg-battery-close")


def test_the_english_dashboard_keeps_english_details(pages: Any, demo_site: DemoSite) -> None:
    page = pages(DESKTOP)
    sign_in(page, demo_site, "regulator", "/regulator", lang="en")
    page.wait_for_selector(READY, timeout=60_000)
    details = page.locator("#rg-compliance-table td[data-col=detail]").all_inner_texts()
    assert any("was not whitelisted for recycling" in d.lower() for d in details), details
    assert not [d for d in details if CJK.search(d) and not english_in(d)]


def one_line(page: Any, selector: str) -> list[str]:
    """The texts under ``selector`` that take more than one line."""
    return page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector)).filter((el) => {
            const style = getComputedStyle(el);
            const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
            const range = document.createRange();
            range.selectNodeContents(el);
            return range.getBoundingClientRect().height > line * 1.5;
        }).map((el) => el.textContent)""",
        selector,
    )


@pytest.mark.parametrize("viewport", [DESKTOP, {"width": 390, "height": 844}], ids=["desktop", "phone"])
def test_codes_times_and_headers_stay_on_one_line(dashboard_zh: Any, viewport: dict[str, int]) -> None:
    page = dashboard_zh
    page.set_viewport_size(viewport)
    page.wait_for_timeout(300)
    for table in ("#rg-compliance-table", "#rg-overdue-table", "#rg-network-table"):
        assert one_line(page, f"{table} th") == [], table
    assert one_line(page, "#rg-compliance-table td[data-col=code] .rg-code") == []
    assert one_line(page, "#rg-compliance-table td[data-col=occurred_at]") == []
    assert one_line(page, "#rg-overdue-table td[data-col=vin] code") == []
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    page.set_viewport_size(DESKTOP)
