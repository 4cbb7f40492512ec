"""The start page at ``/`` in a real browser (issue 11, item 9): it renders in Chinese, switches to
English, leads to the API documentation, and asks nothing of the internet or of a script."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import console_errors
from tests.browser.test_docs_page import offline_but_for
from tests.utils.server import Server, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("home-site")
    with running_server(f"sqlite:///{folder / 'batterytrace.db'}", folder) as running:
        yield running


def test_the_start_page_switches_language_and_leads_to_the_docs(
    browser: Any, server: Server, screenshot: Callable[[Any, str], Path]
) -> None:
    context = browser.new_context(locale="zh-CN")
    offline_but_for(context, server.base_url)
    page = context.new_page()
    errors = console_errors(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{server.base_url}/")
    assert page.locator("html").get_attribute("lang") == "zh"
    assert page.locator("h1").inner_text() == "动力电池溯源"
    assert page.get_by_role("link", name="监管看板").get_attribute("href") == "/regulator"
    screenshot(page, "home-page")

    page.click("#lang-switch")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("h1").inner_text() == "Power battery traceability"
    page.get_by_role("link", name="API documentation (Swagger UI)").click()
    page.wait_for_url(f"{server.base_url}/docs")
    page.locator(".opblock-summary-path").first.wait_for()

    assert errors == []
    assert [url for url in requests if not url.startswith(f"{server.base_url}/")] == []
    context.close()
