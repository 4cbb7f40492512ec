"""A collection point's English name (issue 11, item 6): the registered (Chinese) name is what the
platform records, ``name_en`` what English pages show beside it; registrations recorded before
``name_en`` existed still load, and the views store None for them. The demo's outlets are named
in Chinese, each with an English name."""

from __future__ import annotations

import random
from typing import Any

import pytest

from batterytrace.demo.cast import DemoPoints, _point
from batterytrace.events.collection_point import CollectionPoint, CollectionPointKind
from batterytrace.events.participant import Participant
from batterytrace.events.regions import prefectures
from batterytrace.projections import lifecycle_view, network_view
from tests.utils.cast import NationalCast

CAST = NationalCast()


@pytest.fixture
def operator() -> Participant:
    regulator = Participant.register(
        credit_code=CAST.regulator, name="工业和信息化部", roles=["regulator"], registered_by=None
    )
    return Participant.register(
        credit_code=CAST.outlet_operator,
        name="绿网电池回收服务有限公司",
        name_en="Green Network Battery Outlets Co.",
        roles=["outlet_operator"],
        registered_by=regulator,
    )


def chaoyang(operator: Participant, name_en: str | None) -> CollectionPoint:
    return CollectionPoint.register(
        point_id="CP-110105-0009",
        operator=operator,
        name="朝阳回收服务网点",
        name_en=name_en,
        kind="collection",
        capacity_kg=5000,
        address="朝阳区电池路1号",
        division_code="110105",
        by=operator,
    )


def test_a_point_keeps_its_english_name_beside_its_registered_one(operator: Participant) -> None:
    point = chaoyang(operator, " Chaoyang collection outlet ")
    assert (point.name, point.name_en) == ("朝阳回收服务网点", "Chaoyang collection outlet")
    assert chaoyang(operator, " ").name_en is None
    assert chaoyang(operator, None).name_en is None


def test_the_views_store_both_names_and_none_for_points_registered_before_english_names(
    operator: Participant,
) -> None:
    [registered] = chaoyang(operator, "Chaoyang collection outlet").collect_events()
    for row in (lifecycle_view._point_row(registered), network_view._point_row(registered)):
        assert (row["name"], row["name_en"]) == ("朝阳回收服务网点", "Chaoyang collection outlet")

    state: dict[str, Any] = {k: v for k, v in vars(registered).items() if k != "name_en"}
    old = object.__new__(type(registered))
    object.__setattr__(old, "__dict__", state)  # as an event stored by an earlier release reads back
    replayed = old.mutate(None)
    assert isinstance(replayed, CollectionPoint) and replayed.name_en is None
    assert lifecycle_view._point_row(old)["name_en"] is None
    assert network_view._point_row(old)["name_en"] is None


def test_every_demo_outlet_has_a_chinese_name_and_an_english_one(operator: Participant) -> None:
    points, rng = DemoPoints(), random.Random(7)
    shenzhen = next(p for p in prefectures("440000") if p.code == "440300")
    outlet = _point(rng, points, shenzhen, CollectionPointKind.COLLECTION.value, operator)
    central = _point(rng, points, shenzhen, CollectionPointKind.CENTRAL_STORAGE.value, operator)
    assert outlet.name == "绿网深圳市回收服务网点1号"
    assert outlet.name_en == "Green Network Collection Outlet 440300-1, Guangdong"
    assert central.name_en == "Green Network Central Storage 440300-2, Guangdong"
