"""English names in the views (issue 11, item 6), on SQLite and PostgreSQL.

The lifecycle and network views keep a participant's and a collection point's ``name_en`` beside
the registered name, and the queries the pages read return it (a battery's maker and actors, the
points on hand, the receivers, the report rows). A store whose views were built by a release
without those columns is brought up to date when the views next start: the runner sees the tables
differ from this release's and rebuilds them from the events, English names included.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.collection_point import CollectionPoint
from batterytrace.events.commands import Collect, Reporting, Retire
from batterytrace.projections import queries, report_queries
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from tests.utils.cast import NationalCast

MAKER_EN = "Ningde Era Cells Co."
RECYCLER_EN = "Ganzhou Haopeng Recycling Co."
POINT = "CP-440305-0101"
POINT_EN = "Nanshan Collection Outlet 440305-1, Guangdong"
NAMED_TABLES = ("lifecycle_participants", "lifecycle_points", "network_points", "network_participants")


@pytest.fixture
def named_store(app: BatteryTrace) -> Iterator[dict[str, str]]:
    """A manufacturer and a recycler registered with English names, an outlet with one, and a
    battery of that maker taken in at the outlet."""
    cast = NationalCast()
    app.register_participant(
        actor_id=None, credit_code=cast.regulator, name="工业和信息化部", roles=["regulator"]
    )
    app.register_participant(
        actor_id=cast.regulator,
        credit_code=cast.manufacturer,
        name="宁德纪元电芯有限公司",
        name_en=MAKER_EN,
        roles=["manufacturer"],
        manufacturer_codes=["3CA"],
    )
    app.register_participant(
        actor_id=cast.regulator,
        credit_code=cast.recycler,
        name="赣州豪鹏回收有限公司",
        name_en=RECYCLER_EN,
        roles=["recycler"],
    )
    app.register_participant(
        actor_id=cast.regulator,
        credit_code=cast.outlet_operator,
        name="绿网电池回收服务有限公司",
        roles=["outlet_operator"],
    )
    operator = app.participant(cast.outlet_operator)
    point = CollectionPoint.register(  # the domain command BatteryTrace.register_collection_point runs
        point_id=POINT,
        operator=operator,
        name="南山回收服务网点",
        name_en=POINT_EN,
        kind="collection",
        capacity_kg=5000,
        address="深圳市南山区科技路8号",
        division_code="440305",
        by=app.participant(cast.regulator),
    )
    app.save(point)
    code = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", datetime(2024, 7, 15).date(), 1)
    spec = ProductionSpec(code=code, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110)
    app.produce(actor_id=cast.manufacturer, spec=spec)
    retired_at = datetime(2025, 6, 1, 10, 0, tzinfo=CHINA_STANDARD_TIME)
    app.execute(
        Retire(
            actor_id=cast.manufacturer,
            code=code,
            reason="capacity below 80%",
            reporting=Reporting(occurred_at=retired_at),
        )
    )
    app.execute(
        Collect(
            actor_id=cast.outlet_operator,
            code=code,
            collection_point_id=POINT,
            reporting=Reporting(occurred_at=datetime(2025, 6, 2, 10, 0, tzinfo=CHINA_STANDARD_TIME)),
        )
    )
    yield {"code": code, "maker": cast.manufacturer, "recycler": cast.recycler}


def english_names(runner: ViewRunner, store: dict[str, str]) -> dict[str, object]:
    """What the pages read, by where they read it."""
    battery = queries.battery_lifecycle(runner.engine, store["code"])
    assert battery is not None
    receivers = {r["credit_code"]: r for r in queries.receivers(runner.engine, ("recycler",))}
    return {
        "maker": battery["battery"]["manufacturer_name_en"],
        "producer": battery["timeline"][0]["actor_name_en"],
        "holding point": battery["battery"]["collection_point"]["name_en"],
        "on hand": [b["manufacturer_name_en"] for b in queries.batteries_on_hand(runner.engine, POINT)],
        "receiver": receivers[store["recycler"]]["name_en"],
        "network": [r["name_en"] for r in report_queries.network(runner.engine)],
        "public list": [p["name_en"] for p in queries.collection_points(runner.engine)],
    }


EXPECTED = {
    "maker": MAKER_EN,
    "producer": MAKER_EN,
    "holding point": POINT_EN,
    "on hand": [MAKER_EN],
    "receiver": RECYCLER_EN,
    "network": [POINT_EN],
    "public list": [POINT_EN],
}


def test_the_views_return_english_names_beside_the_registered_ones(
    app: BatteryTrace, named_store: dict[str, str]
) -> None:
    runner = ViewRunner(app)
    try:
        runner.catch_up()
        assert english_names(runner, named_store) == EXPECTED
        battery = queries.battery_lifecycle(runner.engine, named_store["code"])
        assert battery is not None and battery["battery"]["manufacturer_name"] == "宁德纪元电芯有限公司"
    finally:
        runner.engine.dispose()


def test_views_built_before_english_names_are_rebuilt_with_them(
    app: BatteryTrace, named_store: dict[str, str]
) -> None:
    earlier = ViewRunner(app)
    try:
        earlier.catch_up()
        with earlier.engine.begin() as connection:  # the tables as the previous release created them
            for table in NAMED_TABLES:
                connection.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN name_en")
    finally:
        earlier.engine.dispose()

    upgraded = ViewRunner(app)
    try:
        upgraded.catch_up()
        assert english_names(upgraded, named_store) == EXPECTED
    finally:
        upgraded.engine.dispose()
