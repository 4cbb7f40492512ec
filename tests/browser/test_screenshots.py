"""The README's screenshots are rewritten only when asked (issue 11, item 13): a default test run
takes every screenshot (a page that cannot render still fails) but leaves the tracked files in
``docs/screenshots/`` untouched, so the working tree stays clean."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS, SCREENSHOTS_WANTED, screenshot_folder


class PageThatPaints:
    """Stands in for a Playwright page: "paints" a screenshot file where it is told to."""

    def screenshot(self, *, path: str, full_page: bool) -> None:
        Path(path).write_bytes(b"\x89PNG fake")


def _tracked_screenshots() -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in SCREENSHOTS.glob("*.png")}


def test_a_default_run_keeps_screenshots_out_of_the_working_tree(
    screenshot: Callable[[Any, str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SCREENSHOTS_WANTED, raising=False)
    before = _tracked_screenshots()

    saved = screenshot(PageThatPaints(), "a-page")

    assert saved == tmp_path / "a-page.png" and saved.exists()
    assert _tracked_screenshots() == before


@pytest.mark.parametrize(
    ("value", "into_docs"), [("1", True), (" 1 ", True), ("", False), ("0", False), ("yes", False)]
)
def test_screenshots_go_to_the_readme_folder_only_with_batterytrace_screenshots_1(
    value: str, into_docs: bool, tmp_path: Path
) -> None:
    folder = screenshot_folder({SCREENSHOTS_WANTED: value}, tmp_path)

    assert folder == (SCREENSHOTS if into_docs else tmp_path)
    assert screenshot_folder({}, tmp_path) == tmp_path
