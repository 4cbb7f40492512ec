"""The API docs in a real browser (issue 10, finding 13): Swagger UI at ``/docs`` and ReDoc at
``/redoc`` render from the package's vendored copies under their strict content security policy,
with every request to anywhere but the service answered as if there were no internet (issue 11,
item 8): no request leaves the service's address, the console shows no violation, "Authorize" with an API
key still works for "Try it out", and no other page may frame them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import console_errors
from tests.utils.server import Server, cast_with_keys, running_server

# Every violation of the page's policy, as the page itself sees it (also logged to the console).
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
    (event) => window.__violations.push(`${event.effectiveDirective} ${event.blockedURI}`));
"""


@dataclass
class DocsSite:
    server: Server
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.base_url


@dataclass
class Watched:
    """What a page did: every request's URL, console errors and policy violations."""

    page: Any
    requests: list[str]
    errors: list[str]

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__violations")

    def outside(self, base_url: str) -> list[str]:
        """Requests to anything but the service itself (``blob:`` of its origin included)."""
        own = (f"{base_url}/", f"blob:{base_url}/", "data:")
        return [url for url in self.requests if not url.startswith(own)]


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocsSite]:
    folder: Path = tmp_path_factory.mktemp("docs-site")
    database_url = f"sqlite:///{folder / 'batterytrace.db'}"
    _cast, keys = cast_with_keys(database_url)
    with running_server(database_url, folder) as server:
        yield DocsSite(server, keys)


def offline_but_for(context: Any, base_url: str) -> None:
    """Answer every request that is not to ``base_url`` as if there were no internet (as on a
    machine without it): a page that needs a CDN then fails here too, not only in the field."""

    def only_the_service(route: Any) -> None:
        if route.request.url.startswith(f"{base_url}/"):
            route.continue_()
        else:
            route.abort("internetdisconnected")

    context.route("**/*", only_the_service)


@pytest.fixture
def watched(browser: Any, docs_site: DocsSite) -> Iterator[Watched]:
    context = browser.new_context()
    offline_but_for(context, docs_site.url)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.add_init_script(WATCH_VIOLATIONS)
    yield Watched(page, requests, console_errors(page))
    context.close()


def test_swagger_ui_renders_from_the_package_and_authorize_works(
    docs_site: DocsSite, watched: Watched
) -> None:
    page = watched.page
    page.goto(f"{docs_site.url}/docs")
    page.locator(".opblock-summary-path", has_text="/api/v1/batteries").first.wait_for()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/batteries" in paths and "/api/v1/participants" in paths

    # Authorize with the regulator's key, then list the participants with "Try it out".
    page.click("button.authorize")
    page.fill(".auth-container input", docs_site.keys["regulator"])
    page.click(".auth-btn-wrapper button.authorize")
    page.click("button.btn-done")
    operation = page.locator(
        ".opblock-get", has=page.locator(".opblock-summary-path", has_text="/api/v1/participants")
    )
    operation.first.locator(".opblock-summary").click()
    operation.first.locator("button.try-out__btn").click()
    with page.expect_response(lambda answer: urlsplit(answer.url).path == "/api/v1/participants") as sent:
        operation.first.locator("button.execute").click()
    assert sent.value.status == 200
    assert sent.value.request.headers["authorization"] == f"Bearer {docs_site.keys['regulator']}"
    assert "91350900MA2YE0001" in operation.first.locator(".live-responses-table").inner_text()

    assert watched.outside(docs_site.url) == []
    assert watched.violations() == []
    assert watched.errors == []


def test_redoc_renders_from_the_package(docs_site: DocsSite, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{docs_site.url}/redoc")
    page.get_by_text("/api/v1/batteries/bulk").first.wait_for()
    assert page.get_by_text("Record the production of one battery").count() > 0
    page.fill("input[placeholder='Search...']", "participants")  # the search index runs in a worker
    page.locator("[role=search] li, [data-role='search:result']").first.wait_for()

    assert watched.outside(docs_site.url) == []
    assert watched.violations() == []
    assert watched.errors == []


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_another_page_cannot_frame_the_docs(docs_site: DocsSite, watched: Watched, path: str) -> None:
    page = watched.page
    with page.expect_console_message(lambda message: "frame-ancestors" in message.text):
        page.set_content(f'<iframe id="framed" src="{docs_site.url}{path}"></iframe>')
    assert page.frame_locator("#framed").locator("#swagger-ui, redoc").count() == 0
    assert [frame.url for frame in page.frames[1:]] == ["chrome-error://chromewebdata/"]
    assert len(watched.errors) == 1 and "frame-ancestors 'none'" in watched.errors[0], watched.errors
