"""The demo's EU battery passports: every battery a user is pointed at has one, complete and valid.

A demo whose passports all answer 404 teaches nothing about the passport. These tests build one
demo per store (module fixture) and check that every pack model produced has its data, that a
battery in each passport status (Original, Waste, Repurposed both ways) has a passport whose every
aspect validates against the vendored Battery Pass 1.2.0 schemas in every access tier, that a
recycled battery's passport has ended (410 over HTTP), that readings come from the battery's holder
and are plausible, and that the printed passport example is found again from the views.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.utils import get_topic
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from batterytrace.demo.examples import examples_from_views
from batterytrace.demo.national import DemoSummary, generate_demo
from batterytrace.demo.passports import PASSPORT_EXAMPLE
from batterytrace.events.battery import Battery
from batterytrace.events.battery_model import model_code_of
from batterytrace.events.battery_readings import BatteryReadings
from batterytrace.events.lifecycle import State
from batterytrace.events.passport_access import Tier
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.api.app import create_app
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.passport.build import ASPECTS, PassportEnded, battery_passport
from batterytrace.trace.passport.service import battery_model, readings_of
from batterytrace.trace.settings import Settings
from tests.utils.batterypass import aspect_errors
from tests.utils.stores import store_url

BATTERIES = 160
PERFORMANCE = ASPECTS["PerformanceAndDurability"]
MODEL_ASPECTS = {urn for name, urn in ASPECTS.items() if name != "PerformanceAndDurability"}
# example key -> the passport status its battery has
STATUS_EXAMPLES = {
    PASSPORT_EXAMPLE: "Original",
    "installed": "Original",
    "removed": "Original",
    "swap_stock": "Original",
    "in_scrapped_vehicle": "Original",
    "retired": "Waste",
    "collected": "Waste",
    "handed_over": "Waste",
    "cascade_reused": "Repurposed",
    "second_life_product": None,  # Repurposed, or Waste once its second life ended
}


@dataclass
class Demo:
    app: BatteryTrace
    engine: Engine
    summary: DemoSummary
    url: str


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with store_url(request, tmp_path_factory, "passports") as url:
        now = datetime.now(UTC).replace(microsecond=0)
        app = BatteryTrace(Settings(database_url=url), clock=lambda: now)
        runner = None
        try:
            summary = generate_demo(app, seed=5, batteries=BATTERIES)
            runner = ViewRunner(app)
            runner.catch_up()
            yield Demo(app, runner.engine, summary, url)
        finally:
            if runner is not None:
                runner.engine.dispose()
            app.close()


def events_of(app: BatteryTrace, topic: str) -> list[Any]:
    found, start = [], 1
    while page := app.recorder.select_notifications(start=start, limit=1000, topics=[topic]):
        found.extend(app.mapper.to_domain_event(n) for n in page)
        start = page[-1].id + 1
    return found


def test_every_pack_model_produced_has_its_passport_data(demo: Demo) -> None:
    produced = events_of(demo.app, get_topic(Battery.Produced))
    models = {model_code_of(e.code) for e in produced if e.code[3] == "P"}
    assert any(code.startswith("9") for code in models)  # second-life products' models too
    data = {code: battery_model(demo.app, code) for code in sorted(models)}
    assert [code for code, model in data.items() if model is None] == []
    footprints = {m.data["carbon_footprint"]["batteryCarbonFootprint"] for m in data.values() if m}
    assert len(footprints) > len(models) // 2  # varied per model, not one body copied
    for code, model in data.items():
        assert model is not None and model.manufacturer_id == demo.app.code_owner(code[:3])
        recycled = {r["recycledMaterial"]: r for r in model.data["circularity"]["recycledContent"]}
        chemistry = model.data["material_composition"]["batteryChemistry"]["shortName"]
        assert chemistry == {"B": "LFP", "E": "NCM"}[code[4]]
        if code[4] == "B":  # no nickel or cobalt in lithium iron phosphate
            assert recycled["Nickel"]["postConsumerShare"] == recycled["Cobalt"]["preConsumerShare"] == 0
        meanings = [label["labelingMeaning"] for label in model.data["labeling"]["labels"]]
        assert all(set(meaning) == {"zh", "en"} for meaning in meanings)


@pytest.mark.parametrize("tier", list(Tier))
def test_passports_in_each_status_are_complete_and_valid(demo: Demo, tier: Tier) -> None:
    examples = demo.summary.examples
    for key, status in STATUS_EXAMPLES.items():
        battery = demo.app.battery(examples[key])
        passport = battery_passport(demo.app, battery.code, None, tier=tier)
        assert status is None or passport["status"] == status, key
        assert aspect_errors(passport) == [], key
        assert set(passport["aspects"]) >= MODEL_ASPECTS, key
        if readings_of(demo.app, battery.code) is None:
            assert set(passport["missing"]) == {PERFORMANCE}
        else:
            assert PERFORMANCE in passport["aspects"] and passport["missing"] == {}
        if tier == Tier.AUTHORITIES:
            assert passport["withheld"] == {}
    product = battery_passport(demo.app, examples["second_life_product"], None, tier=tier)
    assert product["links"]["repurposedFrom"]
    original = battery_passport(demo.app, examples["cascade_reused"], None, tier=tier)
    assert original["links"]["repurposedInto"].endswith(
        demo.app.battery(examples["cascade_reused"]).second_life_product
    )
    with pytest.raises(PassportEnded):
        battery_passport(demo.app, examples["recycled"], None, tier=tier)


def test_the_passport_example_shows_the_performance_aspect_over_http(demo: Demo) -> None:
    code = demo.summary.examples[PASSPORT_EXAMPLE]
    with TestClient(create_app(Settings(database_url=demo.url), run_projections=False)) as client:
        public = client.get(f"/api/v1/batteries/{code}/passport")
        ended = client.get(f"/api/v1/batteries/{demo.summary.examples['recycled']}/passport")
    assert public.status_code == 200, public.text
    body = public.json()
    assert body["status"] == "Original" and body["access"] == "public"
    assert PERFORMANCE in body["aspects"] and aspect_errors(body) == []
    assert ended.status_code == 410 and ended.json()["code"] == "passport.ended"


def test_readings_come_from_the_holder_and_are_plausible(demo: Demo) -> None:
    reported = events_of(demo.app, get_topic(BatteryReadings.Reported))
    installed = [e for e in events_of(demo.app, get_topic(Battery.Produced)) if e.code[3] == "P"]
    assert 2 <= len(reported) < len(installed) // 4  # some batteries in service, not every one
    for event in reported:
        readings = demo.app.repository.get(event.originator_id)
        battery = demo.app.battery(readings.code)
        assert battery.state == State.INSTALLED and readings.reported_by == battery.responsible_id
        values = readings.latest
        assert 60 <= values["state_of_certified_energy_pct"] <= 100
        assert values["remaining_capacity_ah"] <= battery.rated_capacity_ah
        assert values["remaining_energy_kwh"] <= battery.energy_kwh
        assert battery.produced_at <= readings.measured_at <= demo.app.clock()
        assert readings.measured_at >= battery.last_occurred_at


def test_the_passport_example_is_found_again_from_the_views(demo: Demo) -> None:
    """A second ``run-demo`` start reads its examples from the views: the same battery, with readings."""
    again = examples_from_views(demo.engine)
    assert again[PASSPORT_EXAMPLE] == demo.summary.examples[PASSPORT_EXAMPLE]
    assert readings_of(demo.app, again[PASSPORT_EXAMPLE]) is not None
