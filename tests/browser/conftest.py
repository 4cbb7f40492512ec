"""Browser tests: Playwright for Python driving Debian's Chromium (``/usr/bin/chromium``, installed
by ``scripts/setup``; Playwright's own browser downloads are not used).

Where Chromium or Playwright is missing these tests skip with the reason, except under
``CI=true``, where they fail: CI must run them. ``demo_site`` is one ``batterytrace serve`` process
on a SQLite store with a small demo data set and a key per demo role, shared by the module's tests;
``launch_browser`` starts Chromium with extra command-line switches (a fake camera, for example).
Screenshots (``screenshot``) are always taken, so a page that cannot render fails the test, but go
to ``docs/screenshots/`` (where README shows them) only when asked with
``BATTERYTRACE_SCREENSHOTS=1``; otherwise into the test's temporary folder, so that running the
tests leaves the working tree as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from batterytrace.demo.national import generate_demo
from batterytrace.events.participant import Role
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.server import Server, running_server

CHROMIUM = Path(os.environ.get("BATTERYTRACE_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENSHOTS_WANTED = "BATTERYTRACE_SCREENSHOTS"  # =1: refresh the README's screenshots
DEMO_BATTERIES = 300

pytestmark = pytest.mark.browser


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run; scripts/setup installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium; scripts/setup does)")
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="session")
def launch_browser(playwright_driver: Any) -> Iterator[Callable[..., Any]]:
    """``launch_browser(*switches)``: a headless Chromium with those command-line switches,
    closed at the end of the session."""
    browsers: list[Any] = []

    def launch(*switches: str) -> Any:
        browser = playwright_driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", *switches]
        )
        browsers.append(browser)
        return browser

    yield launch
    for browser in browsers:
        browser.close()


@pytest.fixture(scope="session")
def browser(launch_browser: Callable[..., Any]) -> Any:
    return launch_browser()


@dataclass
class DemoSite:
    """A served demo store: its address, the database, a key per role and example batteries."""

    server: Server
    database_url: str
    keys: dict[str, str]  # role value (regulator, recycling_outlet, …) -> API key
    participants: dict[str, str]  # role value -> participant id
    examples: dict[str, str]  # lifecycle stage or planted case -> battery code
    folder: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.base_url

    def service(self) -> BatteryTrace:
        """A service on the same store (close it after use)."""
        return BatteryTrace(Settings(database_url=self.database_url))


def make_demo_store(database_url: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Demo data and one key per role: (keys, participants, examples) by role value."""
    service = BatteryTrace(Settings(database_url=database_url))
    try:
        summary = generate_demo(service, batteries=DEMO_BATTERIES)
        keys: dict[str, str] = {}
        participants: dict[str, str] = {}
        for participant in service.participants():
            for role in participant.roles:
                if role in keys:
                    continue
                keys[role] = service.issue_api_key(
                    actor_id=None, participant_id=participant.id, label="browser tests"
                ).token
                participants[role] = participant.id
        missing = {r.value for r in Role} - set(keys)
        assert not missing, f"the demo has no participant with role(s) {missing}"
        return keys, participants, dict(summary.examples)
    finally:
        service.close()


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    folder = tmp_path_factory.mktemp("demo-site")
    database_url = f"sqlite:///{folder / 'batterytrace.db'}"
    keys, participants, examples = make_demo_store(database_url)
    with running_server(database_url, folder) as server:
        yield DemoSite(server, database_url, keys, participants, examples, folder)


def screenshot_folder(environment: dict[str, str] | os._Environ[str], scratch: Path) -> Path:
    """Where screenshots go: the README's folder only when ``BATTERYTRACE_SCREENSHOTS=1`` asks for
    it (they are tracked files), else ``scratch``."""
    return SCREENSHOTS if environment.get(SCREENSHOTS_WANTED, "").strip() == "1" else scratch


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Any, str], Path]:
    """``screenshot(page, "outlet-scan")`` saves outlet-scan.png (full page): into
    docs/screenshots/ with ``BATTERYTRACE_SCREENSHOTS=1``, else into the test's temporary folder."""

    def save(page: Any, name: str) -> Path:
        folder = screenshot_folder(os.environ, tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


def console_errors(page: Any) -> list[str]:
    """Start collecting the page's console errors and uncaught exceptions; returns the live list."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def sign_in(page: Any, site: DemoSite, role: str, path: str, *, lang: str = "en") -> None:
    """Open ``path`` and sign in with the demo key of ``role``."""
    page.goto(f"{site.url}{path}?lang={lang}")
    page.fill("#bt-key", site.keys[role])
    page.click("#bt-signin-form button[type=submit]")
    page.wait_for_selector("#bt-app:not([hidden])")
