"""Late reports in the compliance report and on the battery's page, by who reported what: a
dismantler hands over within 15 working days, an outlet within 30, a repaired battery is
reinstalled within 30 (domain.md's table), on both stores.

Each battery event here is reported an hour after it happened, except the one under test.
March 2026 has no public holidays (none are configured): from Monday 2 March, 15 working days run
to Monday 23 March and 25 working days reach Monday 6 April.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from batterytrace.events.base import recording_clock
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import (
    Collect,
    Deliver,
    HandOver,
    Install,
    Remove,
    Reporting,
    Retire,
    ScrapVehicle,
)
from batterytrace.projections import queries, report_queries
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.cast import NationalCast, register_cast
from tests.utils.recompute import CST

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=CST)
AFTER_25_WORKING_DAYS = datetime(2026, 4, 6, 9, 0, tzinfo=CST)
AFTER_20_WORKING_DAYS = datetime(2026, 3, 30, 9, 0, tzinfo=CST)
VIN = "LSVAU2180N2183294"


class Story:
    """One battery's life, each event reported an hour after it happened unless said otherwise."""

    def __init__(self, app: BatteryTrace, cast: NationalCast) -> None:
        self.app, self.cast = app, cast
        self.code = make_battery_code("3CA", "P", "E", "12", "0A1B2C3", MONDAY.date() - timedelta(days=60), 1)
        self.at(
            MONDAY - timedelta(days=60),
            lambda when: app.produce(
                actor_id=cast.manufacturer,
                spec=ProductionSpec(
                    code=self.code,
                    rated_capacity_ah=150,
                    nominal_voltage_v=400.0,
                    energy_kwh=60.0,
                    mass_kg=450.0,
                    occurred_at=when,
                ),
            ),
        )

    def at(self, when: datetime, write: Callable[[datetime], Any], reported: datetime | None = None) -> None:
        with recording_clock(lambda: reported or when + timedelta(hours=1)):
            write(when)

    def installed(self, when: datetime, reported: datetime | None = None) -> Story:
        app, cast, code = self.app, self.cast, self.code
        if self.app.battery(code).state == "produced":
            self.at(
                when - timedelta(days=1),
                lambda w: app.execute(
                    Deliver(
                        actor_id=cast.manufacturer,
                        code=code,
                        receiver_id=cast.vehicle_maker,
                        reporting=Reporting(occurred_at=w),
                    )
                ),
            )
        self.at(
            when,
            lambda w: app.execute(
                Install(actor_id=cast.vehicle_maker, code=code, vin=VIN, reporting=Reporting(occurred_at=w))
            ),
            reported,
        )
        return self

    def removed_for_repair(self, when: datetime) -> Story:
        app, cast, code = self.app, self.cast, self.code
        self.at(
            when,
            lambda w: app.execute(
                Remove(
                    actor_id=cast.vehicle_maker,
                    code=code,
                    reason="repair",
                    reporting=Reporting(occurred_at=w),
                )
            ),
        )
        return self

    def scrapped_with_vehicle(self, when: datetime) -> Story:
        """The vehicle passes to the cast's dismantler with the battery in it."""
        app, cast, code = self.app, self.cast, self.code
        self.at(
            when,
            lambda w: app.execute(
                ScrapVehicle(
                    actor_id=cast.dismantler, vin=VIN, codes=(code,), reporting=Reporting(occurred_at=w)
                )
            ),
        )
        return self

    def retired_by(self, actor: str, when: datetime) -> Story:
        app, code = self.app, self.code
        self.at(
            when,
            lambda w: app.execute(
                Retire(
                    actor_id=actor, code=code, reason="vehicle scrapped", reporting=Reporting(occurred_at=w)
                )
            ),
        )
        return self

    def collected(self, actor: str, point: str, when: datetime) -> Story:
        app, code = self.app, self.code
        self.at(
            when,
            lambda w: app.execute(
                Collect(
                    actor_id=actor, code=code, collection_point_id=point, reporting=Reporting(occurred_at=w)
                )
            ),
        )
        return self

    def handed_over_by(self, actor: str, when: datetime, reported: datetime) -> Story:
        app, cast, code = self.app, self.cast, self.code
        self.at(
            when,
            lambda w: app.execute(
                HandOver(
                    actor_id=actor,
                    code=code,
                    receiver_id=cast.recycler,
                    activity="recycling",
                    reporting=Reporting(occurred_at=w),
                )
            ),
            reported,
        )
        return self


def late_reports(engine: Engine, code: str) -> list[dict[str, Any]]:
    return [f for f in report_queries.compliance(engine, kind="late_report") if f["code"] == code]


def views(app: BatteryTrace) -> Engine:
    runner = ViewRunner(app)
    runner.catch_up()
    return runner.engine


def page_says_late(engine: Engine, code: str, event: str) -> bool:
    life = queries.battery_lifecycle(engine, code)
    assert life is not None
    (entry,) = [e for e in life["timeline"] if e["event"] == event][-1:]
    return bool(entry["reported_late"]) and "late report" in life["battery"]["flags"]


def dismantlers_hand_over(story: Story) -> Story:
    cast = story.cast
    story.installed(MONDAY - timedelta(days=30)).scrapped_with_vehicle(MONDAY - timedelta(days=2))
    story.retired_by(cast.dismantler, MONDAY - timedelta(days=1))
    return story.handed_over_by(cast.dismantler, MONDAY, reported=AFTER_25_WORKING_DAYS)


def test_a_dismantlers_hand_over_25_working_days_late_is_a_late_report(
    app: BatteryTrace, cast: NationalCast
) -> None:
    story = dismantlers_hand_over(Story(app, cast))
    engine = views(app)
    (late,) = late_reports(engine, story.code)
    assert late["event"] == "HandedOver" and late["actor_id"] == cast.dismantler
    assert (late["deadline_role"], late["deadline_working_days"]) == ("dismantler", 15)
    assert late["due_at"] == "2026-03-24T00:00:00+08:00" and late["due_by"] == "2026-03-23"
    assert "due by 2026-03-23 (15 working days for a dismantler)" in late["detail"], late["detail"]
    assert page_says_late(engine, story.code, "HandedOver")


def test_an_outlets_hand_over_25_working_days_later_is_on_time(app: BatteryTrace, cast: NationalCast) -> None:
    story = Story(app, cast).installed(MONDAY - timedelta(days=40))
    story.retired_by(cast.vehicle_maker, MONDAY - timedelta(days=10))
    story.collected(cast.outlet_operator, cast.collection_point, MONDAY - timedelta(days=5))
    story.handed_over_by(cast.outlet_operator, MONDAY, reported=AFTER_25_WORKING_DAYS)
    engine = views(app)
    assert late_reports(engine, story.code) == []
    assert not page_says_late(engine, story.code, "HandedOver")


def test_a_vehicle_makers_outlet_hands_over_as_an_outlet(app: BatteryTrace, cast: NationalCast) -> None:
    story = Story(app, cast).installed(MONDAY - timedelta(days=40))
    story.retired_by(cast.vehicle_maker, MONDAY - timedelta(days=10))
    story.collected(cast.vehicle_maker, cast.other_collection_point, MONDAY - timedelta(days=5))
    story.handed_over_by(cast.vehicle_maker, MONDAY, reported=AFTER_25_WORKING_DAYS)
    assert late_reports(views(app), story.code) == []


def test_a_reinstall_after_repair_20_working_days_later_is_on_time(
    app: BatteryTrace, cast: NationalCast
) -> None:
    story = Story(app, cast).installed(MONDAY - timedelta(days=40))
    story.removed_for_repair(MONDAY - timedelta(days=3)).installed(MONDAY, reported=AFTER_20_WORKING_DAYS)
    engine = views(app)
    assert late_reports(engine, story.code) == []
    assert not page_says_late(engine, story.code, "Installed")


def test_a_first_install_20_working_days_later_is_late(app: BatteryTrace, cast: NationalCast) -> None:
    story = Story(app, cast).installed(MONDAY, reported=AFTER_20_WORKING_DAYS)
    engine = views(app)
    (late,) = late_reports(engine, story.code)
    assert (late["event"], late["deadline_role"], late["deadline_working_days"]) == (
        "Installed",
        "vehicle_maker",
        15,
    )
    assert page_says_late(engine, story.code, "Installed")


def test_the_roles_are_known_whatever_the_batches(app: BatteryTrace, cast: NationalCast) -> None:
    """The dismantler registers many events before it acts: one event per batch finds its roles
    in the view's table, one batch for all finds them in the batch; the findings are the same."""
    story = dismantlers_hand_over(Story(app, cast))
    runner = ViewRunner(app, batch_size=1)
    while runner.process_batch("reports"):
        pass
    one_by_one = late_reports(runner.engine, story.code)
    ViewRunner(app, engine=runner.engine).rebuild(["reports"])
    assert one_by_one == late_reports(runner.engine, story.code) != []


@pytest.fixture
def app_with_longer_dismantler_deadline(database_url: str) -> Iterator[BatteryTrace]:
    settings = Settings(database_url=database_url, deadlines=((("dismantler", "HandedOver"), 30),))
    application = BatteryTrace(settings)
    yield application
    application.close()


def test_a_configured_deadline_replaces_the_default(
    app_with_longer_dismantler_deadline: BatteryTrace,
) -> None:
    app = app_with_longer_dismantler_deadline
    story = dismantlers_hand_over(Story(app, register_cast(app)))
    engine = views(app)
    assert late_reports(engine, story.code) == []
    assert not page_says_late(engine, story.code, "HandedOver")
