"""The pages' shell in a real browser: sign-in with a key kept in the tab, language switch."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import DemoSite, console_errors, sign_in


def test_sign_in_keeps_the_key_in_the_tab_and_the_language_switch_works(
    browser: Any, demo_site: DemoSite
) -> None:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    errors = console_errors(page)
    page.goto(f"{demo_site.url}/regulator")
    assert page.locator("html").get_attribute("lang") == "zh"
    assert page.locator("#bt-signin h2").inner_text() == "登录"

    page.fill("#bt-key", "bt_wrong_key")
    page.click("#bt-signin-form button[type=submit]")
    page.wait_for_selector("#bt-signin-error:not([hidden])")
    assert "密钥未被接受" in page.inner_text("#bt-signin-error")
    assert errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    errors.clear()

    page.fill("#bt-key", demo_site.keys["regulator"])
    page.click("#bt-signin-form button[type=submit]")
    page.wait_for_selector("#bt-app:not([hidden])")
    assert "当前用户" in page.inner_text("#bt-who")
    assert demo_site.keys["regulator"] not in page.url

    page.click("#bt-lang")
    page.wait_for_selector("html[lang=en]")
    page.wait_for_selector("#bt-app:not([hidden])")  # still signed in: the key is in the tab
    assert "Signed in as" in page.inner_text("#bt-who")
    assert page.evaluate("sessionStorage.length") == 1
    assert errors == []
    context.close()


def test_a_new_tab_asks_for_the_key_again(browser: Any, demo_site: DemoSite) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, demo_site, "regulator", "/regulator")
    other = context.new_page()
    other.goto(f"{demo_site.url}/regulator?lang=en")
    other.wait_for_selector("#bt-signin:not([hidden])")
    context.close()
