"""The EU battery passport's tables and rules, without a store: the access table against the
Battery Pass longlist and the vendored schemas, the cut per tier, the status table, model codes,
readings' bounds, and the schema corrections (each must still refuse what the published rule was
meant to refuse)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft4Validator

import batterytrace.trace.passport as passport_package
from batterytrace.events.battery_model import model_code_of, parse_model_code
from batterytrace.events.battery_readings import READING_LIMITS, BatteryReadings, Readings
from batterytrace.events.errors import InvalidInput
from batterytrace.events.lifecycle import State
from batterytrace.events.passport_access import Tier, attributes, cut, field_tiers
from batterytrace.events.passport_status import WITHOUT_PASSPORT, passport_status
from batterytrace.trace.passport.build import ASPECTS
from batterytrace.trace.passport.model_data import ModelData, ReadingsReport
from tests.utils.batterypass import DATA, OVERRIDES, _object_at, model_body, readings_body, schema


def test_the_access_table_has_every_longlist_attribute_with_its_tier() -> None:
    rows = attributes()
    assert [a.number for a in rows] == list(range(1, 94))
    assert Counter(a.tier for a in rows) == {
        Tier.PUBLIC: 60,
        Tier.LEGITIMATE_INTEREST: 32,
        Tier.AUTHORITIES: 1,
    }
    by_number = {a.number: a for a in rows}
    assert by_number[7].name == "Date of putting the battery into service"
    assert by_number[7].tier == by_number[11].tier == Tier.LEGITIMATE_INTEREST
    assert (by_number[18].tier, by_number[18].path) == (Tier.AUTHORITIES, "resultOfTestReport")
    assert {a.level for a in rows} == {"model", "battery"}


@pytest.mark.parametrize("attribute", attributes(), ids=lambda a: f"{a.number}-{a.path}")
def test_each_attribute_maps_to_a_field_of_its_aspects_schema(attribute) -> None:
    """A path that is not in the vendored schema would cut nothing and show everything."""
    assert attribute.aspect in ASPECTS
    document = schema(attribute.aspect)
    *parents, last = attribute.field.split(".")
    node = _object_at(document, document, parents)
    assert last in node["properties"], f"{attribute.aspect} has no field {attribute.field}"
    if attribute.flag:
        listed = _object_at(document, node["properties"][last], [])
        items = _object_at(document, listed["items"], [])
        assert attribute.flag in items["properties"]


def test_a_shared_field_takes_its_strictest_attribute_and_status_is_the_one_widening() -> None:
    assert field_tiers("MaterialComposition")["batteryMaterials"] == Tier.LEGITIMATE_INTEREST
    general = field_tiers("GeneralProductInformation")
    assert general["batteryStatus"] == Tier.PUBLIC  # widened: the public page shows the state
    assert general["puttingIntoService"] == Tier.LEGITIMATE_INTEREST


def test_the_public_cut_keeps_critical_raw_materials_only_and_names_what_it_left_out() -> None:
    body = model_body()["material_composition"]
    public, withheld = cut("MaterialComposition", body, Tier.PUBLIC)
    assert [m["batteryMaterialName"] for m in public["batteryMaterials"]] == ["Natural graphite", "Lithium"]
    assert withheld == ["batteryMaterials[not isCriticalRawMaterial]"]
    involved, none = cut("MaterialComposition", body, Tier.LEGITIMATE_INTEREST)
    assert involved == body and none == []
    assert body["batteryMaterials"][0]["batteryMaterialName"] == "Lithium iron phosphate"  # not changed


def test_an_object_left_empty_by_the_cut_is_left_out_and_named() -> None:
    body = {
        "batteryCondition": {
            "temperatureInformation": {
                "timeExtremeHighTemp": 1.0,
                "timeExtremeLowTemp": 2.0,
                "timeExtremeHighTempCharging": 3.0,
                "timeExtremeLowTempCharging": 4.0,
                "lastUpdate": "2026-01-01T00:00:00+08:00",
            },
            "roundTripEfficiencyat50PerCentCycleLife": 92.0,
        }
    }
    shown, withheld = cut("PerformanceAndDurability", body, Tier.PUBLIC)
    assert shown == {"batteryCondition": {"roundTripEfficiencyat50PerCentCycleLife": 92.0}}
    assert withheld == ["batteryCondition.temperatureInformation"]


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.name.lower())
def test_every_state_has_a_passport_status_or_none_of_its_own(state: State) -> None:
    if state in WITHOUT_PASSPORT:
        return
    first = passport_status(state, second_life=False)
    assert first in ("Original", "Waste", "Repurposed", None)
    if state in (State.RETIRED, State.COLLECTED, State.HANDED_OVER):
        assert first == "Waste"
    if state == State.RECYCLED:
        assert first is None  # the passport has ended
    if state == State.INSTALLED:
        assert first == "Original" and passport_status(state, second_life=True) == "Repurposed"


def test_model_codes() -> None:
    assert parse_model_code(" 3capb12 ") == "3CAPB12"
    assert model_code_of("3CAPB120A1B2C3R7F0000123") == "3CAPB12"
    for bad in ("3CAPB1", "3CAXB12", "3CAPX12", "3CAPB12X", "３CAPB12"):
        with pytest.raises(InvalidInput):
            parse_model_code(bad)


def test_readings_need_every_value_within_its_bounds() -> None:
    body = readings_body()
    values = {name: float(body[name]) for name in READING_LIMITS}
    assert Readings(values).checked().values == values
    with pytest.raises(InvalidInput, match="missing: full_cycles"):
        Readings({k: v for k, v in values.items() if k != "full_cycles"}).checked()
    with pytest.raises(InvalidInput, match="state_of_charge_pct must be between 0 and 100"):
        Readings({**values, "state_of_charge_pct": 101}).checked()
    with pytest.raises(InvalidInput, match="capacity_fade_pct"):
        Readings({**values, "capacity_fade_pct": float("nan")}).checked()
    with pytest.raises(InvalidInput, match="negative event"):
        Readings(values, negative_events=("",)).checked()


def test_readings_come_in_the_order_they_were_measured_and_a_retry_is_not_recorded_twice() -> None:
    stream = BatteryReadings(code="3CAPB120A1B2C3R7F0000123")
    values = {name: 1.0 for name in READING_LIMITS}
    later, earlier = datetime(2026, 5, 2, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
    assert stream.report(Readings(values), actor_id="A", occurred_at=later, request_id="r1")
    assert not stream.report(Readings(values), actor_id="A", occurred_at=later, request_id="r1")
    with pytest.raises(InvalidInput, match="before the latest"):
        stream.report(Readings(values), actor_id="A", occurred_at=earlier)
    assert stream.reports == 1 and len(stream.collect_events()) == 2  # Opened, Reported


def test_the_model_body_is_bounded_and_refuses_unknown_fields() -> None:
    assert ModelData.model_validate(model_body()).data()["warranty_months"] == 96
    for change in (
        {"unknown": 1},
        {"warranty_months": 0},
        {"manufacturer": {**model_body()["manufacturer"], "emailAddress": "not an address"}},
        {"labeling": {**model_body()["labeling"], "labels": model_body()["labeling"]["labels"] * 21}},
        {"labeling": {**model_body()["labeling"], "declarationOfConformity": "ftp://example.com/doc.pdf"}},
    ):
        with pytest.raises(ValueError):
            ModelData.model_validate({**model_body(), **change})


def test_only_the_date_put_into_service_is_no_longer_required() -> None:
    (dropped,) = [o for o in OVERRIDES if o.pointer == "/required"]
    published = json.loads((DATA / f"{dropped.aspect}-schema.json").read_text("utf-8"))["required"]
    assert set(published) - set(dropped.value) == {"puttingIntoService"}
    assert set(dropped.value) <= set(published)


@pytest.mark.parametrize(
    "override",
    [o for o in OVERRIDES if o.pointer.endswith("/pattern")],
    ids=lambda o: o.pointer.rsplit("/", 2)[-2],
)
def test_each_schema_correction_still_refuses_what_the_rule_is_for(override) -> None:
    """The corrected rules accept what the passport emits and refuse what the field forbids."""
    good, bad = {
        "EmailAddressTrait": ("passport@ningde-cells.example.com", "no-at-sign.example.com"),
        "WarrentyPeriod": ("P96M", "--06"),
        "ProductPassportIdentifierTrait": ("urn:batterytrace:3CAPB120A1B2C3R7F0000123", "3CAPB12"),
    }[override.pointer.split("/")[3]]
    name = override.pointer.split("/")[3]
    corrected = Draft4Validator(schema(override.aspect)["components"]["schemas"][name])
    assert corrected.is_valid(good) and not corrected.is_valid(bad)
    published = json.loads((DATA / f"{override.aspect}-schema.json").read_text("utf-8"))
    assert not Draft4Validator(published["components"]["schemas"][name]).is_valid(good), (
        "the published rule accepts what the passport emits: the correction is not needed"
    )


def test_the_example_files_are_valid_bodies() -> None:
    """The files README's commands post (``batterytrace/trace/passport/examples``)."""
    examples = Path(passport_package.__file__).parent / "examples"
    model = ModelData.model_validate_json((examples / "model.json").read_text("utf-8"))
    assert model.model_code == "3CAPB12"
    report = ReadingsReport.model_validate_json((examples / "readings.json").read_text("utf-8"))
    assert report.occurred_at is not None and report.readings().checked()
