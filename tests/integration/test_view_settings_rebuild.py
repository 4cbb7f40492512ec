"""Settings the views' rows depend on: changing them rebuilds the views at the next start, on both
stores.

The lifecycle view (late-report flags) and the reports view (findings) are built with the
reporting deadline table, the public holidays and the working weekends. A dismantler's handover
reported 25 working days late is not late under a 30-day deadline and late under the default
15: a service started again with the default table must find it, without anyone running
``projections rebuild``. A start with the same settings rebuilds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.integration.test_deadline_findings import (
    Story,
    dismantlers_hand_over,
    late_reports,
    page_says_late,
)
from tests.utils.cast import register_cast

LONGER_DISMANTLER_DEADLINE = ((("dismantler", "HandedOver"), 30),)


@pytest.fixture
def started(database_url: str) -> Iterator[Any]:
    """Starts the service's views on the store with the given settings (as serve, the worker and
    the CLI do: a runner, then a catch-up); everything started is closed afterwards."""
    made: list[tuple[BatteryTrace, ViewRunner]] = []

    def start(**settings: Any) -> ViewRunner:
        app = BatteryTrace(Settings(database_url=database_url, **settings))
        runner = ViewRunner(app)
        made.append((app, runner))
        return runner

    yield start
    for app, runner in made:
        runner.engine.dispose()
        app.close()


def positions(runner: ViewRunner) -> dict[str, int]:
    return {s.view: s.position for s in runner.status()}


def test_a_shorter_deadline_configured_before_a_restart_finds_the_late_handover(
    started: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first = started(deadlines=LONGER_DISMANTLER_DEADLINE)
    story = dismantlers_hand_over(Story(first.app, register_cast(first.app)))
    first.catch_up()
    assert late_reports(first.engine, story.code) == []
    head = first.head()

    with caplog.at_level(logging.WARNING, logger="batterytrace.projections.runner"):
        again = started()  # BATTERYTRACE_DEADLINES removed: the default 15 working days
    assert positions(again) == {"lifecycle": 0, "network": head, "reports": 0, "ledger": head}
    assert [r.getMessage() for r in caplog.records if "other settings" in r.getMessage()] == [
        f"view {view}: it was built with other settings (BATTERYTRACE_DEADLINES, "
        "BATTERYTRACE_HOLIDAYS or BATTERYTRACE_WORKING_WEEKENDS changed, or the release's default "
        "deadlines did); rebuilding it from the events"
        for view in ("lifecycle", "reports")
    ]
    again.catch_up()
    (late,) = late_reports(again.engine, story.code)
    assert (late["deadline_role"], late["deadline_working_days"]) == ("dismantler", 15)
    assert page_says_late(again.engine, story.code, "HandedOver")


def test_a_holiday_added_before_a_restart_rebuilds_the_views_that_count_working_days(
    started: Any,
) -> None:
    first = started()
    dismantlers_hand_over(Story(first.app, register_cast(first.app)))
    first.catch_up()
    head = first.head()

    again = started(holidays=(date(2026, 4, 6),))
    assert positions(again) == {"lifecycle": 0, "network": head, "reports": 0, "ledger": head}


def test_a_restart_with_the_same_settings_rebuilds_nothing(
    started: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {"deadlines": LONGER_DISMANTLER_DEADLINE, "holidays": (date(2026, 4, 6),)}
    first = started(**settings)
    dismantlers_hand_over(Story(first.app, register_cast(first.app)))
    first.catch_up()
    head = first.head()

    with caplog.at_level(logging.WARNING, logger="batterytrace.projections.runner"):
        again = started(**settings)
    assert positions(again) == dict.fromkeys(("lifecycle", "network", "reports", "ledger"), head)
    assert not [r for r in caplog.records if "rebuilding" in r.getMessage()]


def test_views_built_before_settings_were_recorded_are_rebuilt_once(started: Any) -> None:
    """An upgrade from a release that stored only the tables' fingerprint: the settings those
    views were built with are unknown, so the views that depend on settings are rebuilt, once."""
    first = started()
    dismantlers_hand_over(Story(first.app, register_cast(first.app)))
    first.catch_up()
    head = first.head()
    with first.engine.begin() as connection:  # the position rows as the earlier release wrote them
        connection.exec_driver_sql("UPDATE view_positions SET schema = substr(schema, 1, 16)")

    upgraded = started()
    assert positions(upgraded) == {"lifecycle": 0, "network": head, "reports": 0, "ledger": head}
    upgraded.catch_up()
    assert positions(started()) == dict.fromkeys(("lifecycle", "network", "reports", "ledger"), head)
