"""GS1 EPCIS 2.0 out and in, on both stores: every exported document is valid against the official
2.0.1 JSON Schema (URI formats checked), loses no term when expanded as JSON-LD, and a document
captured into an empty store with the same participants exports again as the same document.
Capture is all or nothing and names the event it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pyld import jsonld

from batterytrace.events.battery import ProductionSpec
from batterytrace.events.commands import Collect, Deliver, Install, Reporting, Retire
from batterytrace.events.errors import DomainError, InvalidInput, NotAuthorised
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.epcis.capture import capture
from batterytrace.trace.epcis.reading import CAPTURED
from batterytrace.trace.epcis.source import battery_events
from batterytrace.trace.settings import Settings
from tests.utils.cast import NationalCast, register_cast
from tests.utils.epcis import (
    compact_values,
    context_loader,
    expanded_values,
    export,
    schema_errors,
    without_times_of_recording,
)
from tests.utils.views import VIN, VariedStore, at, battery_code, varied_store


@pytest.fixture
def store(app: BatteryTrace, cast: NationalCast) -> VariedStore:
    return varied_store(app, cast)


@pytest.fixture
def empty(tmp_path: Any) -> Any:
    """A second store (SQLite) with the same participants and nothing else."""
    other = BatteryTrace(Settings(database_url=f"sqlite:///{tmp_path / 'other.db'}"))
    register_cast(other)
    yield other
    other.close()


def capturable(app: BatteryTrace, store: VariedStore) -> list[str]:
    """The batteries whose every event capture records (no swap, scrapping or second life)."""
    return [
        code
        for code in store.codes
        if not app.battery(code).derived_from
        and all(type(e).__name__ in (*CAPTURED, "AssembledInto") for e in app.history(code))
    ]


def test_every_exported_document_is_valid_epcis_2_0_1(app: BatteryTrace, store: VariedStore) -> None:
    document = export(app)
    names = {type(e).__name__ for code in store.codes for e in app.history(code)}
    assert len(document["epcisBody"]["eventList"]) == sum(len(app.history(c)) for c in store.codes)
    assert {"SwappedOut", "SwappedIn", "VehicleScrapped", "CascadeReused", "Recycled"} <= names
    assert schema_errors(document) == []
    for code in store.codes:
        assert schema_errors(export(app, [code])) == [], code


def test_the_format_check_is_live_a_bare_code_is_no_epc(app: BatteryTrace, store: VariedStore) -> None:
    document = export(app, [store.pack])
    document["epcisBody"]["eventList"][0]["epcList"] = [store.pack]
    assert any("is not a 'uri'" in error for error in schema_errors(document))


def test_json_ld_expansion_drops_no_term(app: BatteryTrace, store: VariedStore) -> None:
    """JSON-LD silently drops a member its context does not define: every value must survive."""
    document = export(app)
    expanded = jsonld.expand(document, {"documentLoader": context_loader})
    assert expanded_values(expanded) == compact_values(document)
    document["epcisBody"]["eventList"][0]["undefinedTerm"] = "dropped"  # the check can fail
    expanded = jsonld.expand(document, {"documentLoader": context_loader})
    assert expanded_values(expanded) == compact_values(document) - 1


def test_a_round_trip_gives_the_same_document(
    app: BatteryTrace, store: VariedStore, empty: BatteryTrace
) -> None:
    codes = capturable(app, store)
    assert {store.pack, *store.modules, store.non_compliant} <= set(codes)
    first = export(app, codes)
    result = capture(empty, first, caller=None)
    assert len(result.events) == len(first["epcisBody"]["eventList"])
    again = export(empty, codes)
    assert without_times_of_recording(again) == without_times_of_recording(first)
    assert capture(empty, first, caller=None).replayed  # the same document again records nothing


def test_capture_is_all_or_nothing_and_names_the_refused_event(
    app: BatteryTrace, store: VariedStore, empty: BatteryTrace
) -> None:
    """The whole store's document holds a second-life product's commissioning, which capture does
    not record (its originals are recorded with it): nothing before it is recorded either."""
    document = export(app)
    events = document["epcisBody"]["eventList"]
    refused = next(i for i, e in enumerate(events) if e.get("ilmd", {}).get("bt:derived_from"))
    assert refused > 0
    with pytest.raises(
        InvalidInput, match=rf"^event {refused}: a second-life product is recorded with its originals"
    ):
        capture(empty, document, caller=None)
    assert not any(empty.exists(code) for code in store.codes)


def test_a_participant_captures_only_its_own_events(
    app: BatteryTrace, store: VariedStore, empty: BatteryTrace
) -> None:
    document = export(app, [store.non_compliant])
    manufacturer = empty.participant(NationalCast().manufacturer)
    with pytest.raises(
        NotAuthorised, match=r"^event 2: the event was done by .*a participant captures only its own"
    ):
        capture(empty, document, caller=manufacturer)
    mine = {**document, "epcisBody": {"eventList": document["epcisBody"]["eventList"][:2]}}
    assert [name.split(":")[1] for name in capture(empty, mine, caller=manufacturer).events] == [
        "Produced",
        "Delivered",
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e.update(bizStep="inspecting"), "is no battery event this service records"),
        (lambda e: e.update(epcList=["urn:epc:id:sgtin:4012345.011111.9876"]), "is not a battery identifier"),
        (lambda e: e["ilmd"].pop("bt:mass_kg"), "commissioning needs ilmd bt:mass_kg"),
    ],
    ids=["unknown step", "foreign epc", "missing rating"],
)
def test_what_does_not_map_is_refused_with_the_reason(
    app: BatteryTrace, store: VariedStore, empty: BatteryTrace, change: Any, reason: str
) -> None:
    document = export(app, [store.non_compliant])
    change(document["epcisBody"]["eventList"][0])
    with pytest.raises(DomainError, match=rf"^event 0: .*{reason}"):
        capture(empty, document, caller=None)
    assert not empty.exists(store.non_compliant)


def test_a_participant_reads_from_its_involvement_on_without_the_vin(
    app: BatteryTrace, store: VariedStore, cast: NationalCast
) -> None:
    everything = battery_events(app, store.pack, None)
    outlet = battery_events(app, store.pack, app.participant(cast.outlet_operator))
    assert 0 < len(outlet) < len(everything)
    assert type(outlet[0].event).__name__ == "Collected"
    assert not any(seen.knows_vin for seen in outlet)
    text = json.dumps(export(app, [store.pack]))
    assert VIN in text  # the operator's export names the vehicle


def test_measurements_are_sensor_reports_and_survive_a_round_trip(
    app: BatteryTrace, cast: NationalCast, empty: BatteryTrace
) -> None:
    """State of health at retirement (percent) and the outlet's weighing (kg) are sensor reports."""
    code = battery_code("P", 41)
    app.produce(
        actor_id=cast.manufacturer,
        spec=ProductionSpec(
            code=code, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110
        ),
    )
    steps = [
        Deliver(
            actor_id=cast.manufacturer,
            code=code,
            receiver_id=cast.vehicle_maker,
            reporting=Reporting(at(2024, 7, 25)),
        ),
        Install(actor_id=cast.vehicle_maker, code=code, vin=VIN, reporting=Reporting(at(2024, 8, 1))),
        Retire(
            actor_id=cast.vehicle_maker,
            code=code,
            reason="capacity fade",
            state_of_health_pct=71.5,
            reporting=Reporting(at(2026, 3, 1)),
        ),
        Collect(
            actor_id=cast.outlet_operator,
            code=code,
            collection_point_id=cast.collection_point,
            mass_kg=108.25,
            condition="damaged",
            source_vin=VIN,
            reporting=Reporting(at(2026, 3, 5)),
        ),
    ]
    for step in steps:
        app.execute(step)
    first = export(app, [code])
    reports = [
        e["sensorElementList"][0]["sensorReport"][0]
        for e in first["epcisBody"]["eventList"]
        if "sensorElementList" in e
    ]
    assert reports == [
        {"type": "Dimensionless", "value": 71.5, "uom": "P1"},
        {"type": "Mass", "value": 108.25, "uom": "KGM"},
    ]
    assert schema_errors(first) == []
    capture(empty, first, caller=None)
    assert without_times_of_recording(export(empty, [code])) == without_times_of_recording(first)
