"""The read-only commands' shortcut: whether the views hold every stored event, read without the
application (``projections/freshness.py``), agrees with the runner on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from batterytrace.events.credit_code import credit_code_check_character
from batterytrace.projections.freshness import _STORE_HEAD, expected_fingerprint, views_are_current
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.cast import register_cast


@pytest.fixture
def runner(database_url: str) -> Iterator[ViewRunner]:
    app = BatteryTrace(Settings(database_url=database_url))
    app.regulator = register_cast(app).regulator  # type: ignore[attr-defined]
    runner = ViewRunner(app)
    yield runner
    runner.engine.dispose()
    app.close()


def calendar(runner: ViewRunner) -> Any:
    return runner.app.settings.working_calendar()


def test_the_store_head_read_in_plain_sql_is_the_librarys(runner: ViewRunner) -> None:
    with runner.engine.connect() as connection:
        head = connection.execute(text(_STORE_HEAD[connection.dialect.name])).scalar()

    assert head == runner.app.recorder.max_notification_id() > 0


def test_the_expected_fingerprints_are_those_the_runner_stores(runner: ViewRunner) -> None:
    assert {name: runner.build_fingerprint(name) for name in runner.views} == {
        name: expected_fingerprint(name, calendar(runner)) for name in runner.views
    }


def test_views_are_current_only_when_they_hold_every_event(runner: ViewRunner) -> None:
    assert not views_are_current(runner.engine, calendar(runner))  # the cast is not applied yet

    runner.catch_up()
    assert views_are_current(runner.engine, calendar(runner))

    first17 = "91440300MA5F00009"
    runner.app.register_participant(
        actor_id=runner.app.regulator,  # type: ignore[attr-defined]
        credit_code=first17 + credit_code_check_character(first17),
        name="Late Recycler",
        roles=["recycler"],
    )
    assert not views_are_current(runner.engine, calendar(runner))  # one more participant

    runner.catch_up()
    assert views_are_current(runner.engine, calendar(runner))


def test_views_built_with_other_settings_are_not_current(runner: ViewRunner) -> None:
    runner.catch_up()
    other = Settings(database_url="sqlite://", holidays=(date(2026, 10, 1),)).working_calendar()

    assert not views_are_current(runner.engine, other)


def test_a_store_without_views_is_not_current(tmp_path: Any) -> None:
    from batterytrace.projections.database import create_view_engine

    engine = create_view_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert not views_are_current(engine, Settings().working_calendar())
    engine.dispose()
