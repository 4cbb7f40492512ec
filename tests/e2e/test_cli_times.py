"""Every time the CLI shows carries its zone, China Standard Time (issue 11, item 2).

A battery's timeline is printed from the lifecycle view (``show``), rebuilt from its events
(``show --as-of``) and at the end of ``demo --show-example``. The three must read the same: the
report of an event produced at 10:32 Beijing time and recorded six hours later was once shown as
"recorded 04:29:26" (UTC, without a zone) by the last two: recorded before it happened.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.test_cli import Cli

ZONED = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?\+08:00")
ANY_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)?")
EXAMPLE_ROW = re.compile(r"│ (\w+)\s+│ ([0-9A-Z]{24}) ")
AFTER_THE_DEMO = "2099-01-01"  # --as-of a date after every demo event: the whole timeline


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, str, dict[str, str]]:
    """A small demo store: the CLI on it, what ``demo --show-example`` printed, its examples."""
    folder: Path = tmp_path_factory.mktemp("times")
    cli = Cli(f"sqlite:///{folder / 'batterytrace.db'}", folder)
    printed = cli.ok("demo", "--batteries", "40", "--show-example").stdout
    return cli, printed, dict(EXAMPLE_ROW.findall(printed))


def _times(text: str) -> list[str]:
    return ZONED.findall(text)


def test_every_time_the_timeline_prints_carries_the_china_standard_time_offset(
    demo: tuple[Cli, str, dict[str, str]],
) -> None:
    cli, printed, examples = demo
    for output in (
        printed,
        cli.ok("show", examples["recycled"]).stdout,
        cli.ok("show", examples["recycled"], "--as-of", AFTER_THE_DEMO).stdout,
    ):
        shown = ANY_TIME.findall(output)
        assert shown, output
        assert [t for t in shown if not ZONED.fullmatch(t)] == [], output


def test_show_as_of_prints_the_same_times_as_show(demo: tuple[Cli, str, dict[str, str]]) -> None:
    cli, _printed, examples = demo
    for code in (examples["recycled"], examples["late_report"], examples["second_life_product"]):
        from_view = cli.ok("show", code).stdout
        rebuilt = cli.ok("show", code, "--as-of", AFTER_THE_DEMO).stdout
        assert _times(from_view), from_view
        as_of = f"{AFTER_THE_DEMO} 00:00:00+08:00"  # in the title, before the timeline
        assert _times(rebuilt) == [as_of, *_times(from_view)], f"{from_view}\n{rebuilt}"


def test_show_as_of_and_show_give_the_same_timeline_as_json(demo: tuple[Cli, str, dict[str, str]]) -> None:
    cli, _printed, examples = demo
    code = examples["late_report"]
    from_view = cli.ok("show", code, "--format", "json").json()
    rebuilt = cli.ok("show", code, "--as-of", AFTER_THE_DEMO, "--format", "json").json()

    def when(document: dict) -> list[tuple[str, str]]:
        return [(e["occurred_at"], e["recorded_at"]) for e in document["timeline"]]

    assert when(rebuilt) == when(from_view)
    assert all(t.endswith("+08:00") for pair in when(rebuilt) for t in pair)
    assert rebuilt["as_of"] == f"{AFTER_THE_DEMO}T00:00:00+08:00"
    assert rebuilt["battery"]["last_occurred_at"] == from_view["battery"]["last_occurred_at"]


def test_the_demo_example_prints_the_times_show_prints(demo: tuple[Cli, str, dict[str, str]]) -> None:
    cli, printed, _examples = demo
    example = re.search(r"e\.g\. ([0-9A-Z]{24})", printed)
    assert example, printed
    timeline_part = printed[printed.rindex("─ " + example.group(1)) :]

    assert _times(timeline_part) == _times(cli.ok("show", example.group(1)).stdout)
