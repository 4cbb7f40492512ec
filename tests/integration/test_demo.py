"""The demo generator: every example it offers exists in the state it claims, on both stores.

The demo is the first thing a new user runs, and each example is a command they will type next
(``batterytrace battery show CODE``); an example in the wrong state would teach them the wrong
thing. The generator writes through the domain's commands in batches, so these tests also check
that what it saved reads back as valid aggregates. Recording times are simulated like real-world
times: each report comes shortly after its event, so that a regulator's late-report check finds
the planted late report and nothing else.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from eventsourcing.utils import get_topic

from batterytrace.demo.national import DemoSummary, generate_demo
from batterytrace.demo.parts import vin_check_digit
from batterytrace.demo.vehicles import STORY_PACKS, SWAPS
from batterytrace.events.battery import Battery
from batterytrace.events.errors import AlreadyExists, InvalidInput
from batterytrace.events.participant import Activity
from batterytrace.events.working_days import WorkingCalendar
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.cast import NationalCast

BATTERIES = 300
REQUIRED_EXAMPLES = {
    "produced": "produced",
    "installed": "installed",
    "removed": "removed",
    "retired": "retired",
    "collected": "collected",
    "handed_over": "handed over",
    "recycled": "recycled",
    "cascade_reused": "cascade-reused",
    "second_life_product": None,  # any state: checked through its lineage
    "pack_with_modules": "installed",
    "non_compliant_handover": "handed over",
    "overdue": "retired",
    "backwards_date": "collected",
    "late_report": "collected",
    "swapped_in": "installed",
    "swap_stock": "at swap station",
    "retired_from_swap_stock": "retired",
    "scrapped_and_handed_over": "handed over",
    "scrapped_not_handed_over": "retired",
    "in_scrapped_vehicle": "in scrapped vehicle",
}
BATTERY_EVENTS = {
    "Produced", "AssembledInto", "Delivered", "Installed", "Removed", "Retired", "Collected", "HandedOver",
    "CascadeReused", "Recycled", "SwappedOut", "SwappedIn", "VehicleScrapped",
}  # fmt: skip
ACTOR_ROLES = {
    "regulator": "regulator",
    "manufacturer": "manufacturer",
    "vehicle_maker": "vehicle_maker",
    "outlet_operator": "outlet_operator",
    "dismantler": "dismantler",
    "recycler": "recycler",
    "non_whitelisted_recycler": "recycler",
    "cascade_user": "cascade_user",
    "swap_operator": "swap_operator",
}


@pytest.fixture
def demo(app: BatteryTrace) -> DemoSummary:
    return generate_demo(app, seed=7, batteries=BATTERIES)


def stored_events(app: BatteryTrace, topic: str | None = None) -> list[Any]:
    """Every event of the store in notification order (optionally of one topic)."""
    found, start = [], 1
    while page := app.recorder.select_notifications(start=start, limit=1000, topics=[topic] if topic else []):
        found.extend(app.mapper.to_domain_event(n) for n in page)
        start = page[-1].id + 1
    return found


def test_examples_exist_in_their_stated_states(app: BatteryTrace, demo: DemoSummary) -> None:
    assert set(REQUIRED_EXAMPLES) | {"over_capacity_outlet"} <= set(demo.examples)
    for key, state in REQUIRED_EXAMPLES.items():
        battery = app.battery(demo.examples[key])
        assert state is None or battery.state == state, (key, battery.code, battery.state)
    assert not app.battery(demo.examples["installed"]).is_second_life
    pack = app.battery(demo.examples["pack_with_modules"])
    assert pack.components
    assert all(app.battery(code).pack == pack.code for code in pack.components)


def test_summary_counts_what_was_stored(app: BatteryTrace, demo: DemoSummary) -> None:
    assert demo.packs == BATTERIES
    assert demo.batteries == demo.packs + demo.modules + demo.second_life_products
    assert demo.events == len(stored_events(app))
    assert len(stored_events(app, get_topic(Battery.Produced))) == demo.batteries
    assert demo.participants == len(app.participants())
    assert demo.collection_points == len(app.collection_points()) >= 369 + 31
    for label, role in ACTOR_ROLES.items():
        assert role in app.participant(demo.actors[label]).roles, label


def test_second_life_product_keeps_its_originals_linked(app: BatteryTrace, demo: DemoSummary) -> None:
    product = app.battery(demo.examples["second_life_product"])
    maker = app.participant(product.manufacturer_id)
    assert product.derived_from and 1 <= len(product.derived_from) <= 4
    assert "cascade_user" in maker.roles and product.manufacturer_code in maker.manufacturer_codes
    for code in product.derived_from:
        original = app.battery(code)
        assert original.state == "cascade-reused"
        assert original.second_life_product == product.code
    original = app.battery(demo.examples["cascade_reused"])
    assert original.code in app.battery(original.second_life_product).derived_from


def test_planted_compliance_cases(app: BatteryTrace, demo: DemoSummary) -> None:
    now = app.clock()
    overdue = app.battery(demo.examples["overdue"])
    assert now - overdue.retired_at > timedelta(days=90)

    handover = app.history(demo.examples["non_compliant_handover"])[-1]
    assert type(handover).__name__ == "HandedOver" and handover.compliant is False
    receiver = app.participant(handover.receiver_id)
    assert not receiver.is_whitelisted(Activity.RECYCLING, handover.occurred_at.date())
    assert receiver.whitelist == []

    history = app.history(demo.examples["backwards_date"])
    late = [e for e in history if getattr(e, "late_correction", False)]
    assert late and late[0].occurred_at < history[late[0].originator_version - 2].occurred_at
    assert late[0].recorded_at > history[late[0].originator_version - 2].recorded_at

    (reported,) = [e for e in app.history(demo.examples["late_report"]) if type(e).__name__ == "Collected"]
    assert reported.recorded_at - reported.occurred_at >= timedelta(days=60)

    outlet = app.collection_point(demo.examples["over_capacity_outlet"])
    held = 0.0
    for event in stored_events(app, get_topic(Battery.Collected)):
        battery = app.battery(event.originator_id)
        if battery.state == "collected" and battery.collection_point_id == outlet.id:
            held += battery.mass_kg
    assert held > outlet.capacity_kg


def test_the_swap_operator_swaps_batteries_in_and_out_of_vehicles(
    app: BatteryTrace, demo: DemoSummary
) -> None:
    """Each swap is one battery out of a vehicle and one in, same vehicle, same moment, by the
    swap operator; its pool came new from a manufacturer; one pack left it, retired."""
    operator = demo.actors["swap_operator"]
    outs = stored_events(app, get_topic(Battery.SwappedOut))
    ins = stored_events(app, get_topic(Battery.SwappedIn))
    assert len(outs) == len(ins) == SWAPS
    pairs = {(e.vin, e.occurred_at, e.station, e.division_code) for e in outs}
    assert pairs == {(e.vin, e.occurred_at, e.station, e.division_code) for e in ins}
    assert len({e.vin for e in ins}) > 1 and {e.actor_id for e in outs + ins} == {operator}
    delivered = [e for e in stored_events(app, get_topic(Battery.Delivered)) if e.receiver_id == operator]
    assert delivered and all("manufacturer" in app.participant(e.actor_id).roles for e in delivered)
    swapped_in = app.battery(demo.examples["swapped_in"])
    assert swapped_in.responsible_id == operator and swapped_in.holder_kind == "vehicle"
    in_stock = app.battery(demo.examples["swap_stock"])
    assert in_stock.responsible_id == operator and in_stock.holder_kind == "swap_station"
    worn = app.history(demo.examples["retired_from_swap_stock"])
    assert [type(e).__name__ for e in worn[-2:]] == ["SwappedOut", "Retired"]
    assert worn[-1].actor_id == operator


def test_dismantlers_take_in_the_vehicle_before_they_retire_its_battery(
    app: BatteryTrace, demo: DemoSummary
) -> None:
    """Every retirement by a dismantler follows the scrapping of the vehicle it took in; one
    battery is handed on within the deadline, one is left with the dismantler long past it."""
    dismantlers = {p.id for p in app.participants() if "dismantler" in p.roles}
    retired_by_dismantlers = [
        e for e in stored_events(app, get_topic(Battery.Retired)) if e.actor_id in dismantlers
    ]
    assert retired_by_dismantlers
    for retired in retired_by_dismantlers:
        before = app.history(retired.originator_id)[retired.originator_version - 2]
        assert type(before).__name__ == "VehicleScrapped" and before.dismantler_id == retired.actor_id
        assert not getattr(retired, "custody_unverified", False)
    calendar, now = WorkingCalendar(), app.clock()
    on_time = app.history(demo.examples["scrapped_and_handed_over"])
    scrapped = next(e for e in on_time if type(e).__name__ == "VehicleScrapped")
    assert on_time[-1].occurred_at < calendar.due(scrapped.occurred_at, 15)
    late = app.history(demo.examples["scrapped_not_handed_over"])
    scrapped = next(e for e in late if type(e).__name__ == "VehicleScrapped")
    assert type(late[-1]).__name__ == "Retired" and calendar.due(scrapped.occurred_at, 15) < now


def test_real_world_times_run_forward_and_never_into_the_future(app: BatteryTrace, demo: DemoSummary) -> None:
    last: dict[str, datetime] = {}
    now = app.clock()
    for event in stored_events(app):
        occurred = getattr(event, "occurred_at", None)
        if occurred is None:
            continue
        assert occurred <= now
        previous = last.get(event.originator_id)
        assert previous is None or occurred >= previous or event.late_correction, event
        last[event.originator_id] = max(occurred, previous or occurred)


def test_reports_are_recorded_shortly_after_the_events(app: BatteryTrace, demo: DemoSummary) -> None:
    """Every battery event is recorded after it happened, in its stream's order, and not in the
    future; only the planted late report misses its working-day deadline."""
    calendar, now = WorkingCalendar(), app.clock()
    late, seen, last = set(), set(), {}
    for event in stored_events(app):
        name = type(event).__name__
        previous = last.get(event.originator_id, event.recorded_at)
        assert previous <= event.recorded_at <= now, event
        last[event.originator_id] = event.recorded_at
        if name not in BATTERY_EVENTS:
            continue
        seen.add(name)
        assert event.occurred_at <= event.recorded_at, event
        if calendar.is_late(name, event.occurred_at, event.recorded_at):
            late.add((event.originator_id, name))
    assert seen == BATTERY_EVENTS
    assert late == {(demo.examples["late_report"], "Collected")}


def test_recovered_metals_follow_the_chemistry(app: BatteryTrace, demo: DemoSummary) -> None:
    recycled = stored_events(app, get_topic(Battery.Recycled))
    assert recycled
    for event in recycled:
        battery = app.battery(event.originator_id)
        metals = event.recovered_kg
        assert {"Li", "Ni", "Co", "Mn"} <= set(metals)
        assert sum(metals.values()) <= battery.mass_kg
        if battery.battery_type == "B":
            assert metals["Ni"] == metals["Co"] == metals["Mn"] == 0


def test_same_seed_gives_the_same_events(database_url: str, tmp_path, fixed_now) -> None:
    """Two fresh stores, one seed, one pinned clock: the same events, recording times included."""

    def generate(url: str) -> tuple[dict[str, str], list[tuple[Any, ...]]]:
        app = BatteryTrace(Settings(database_url=url), clock=lambda: fixed_now)
        try:
            summary = generate_demo(app, seed=11, batteries=120, batch_size=50)
            return summary.examples, [
                (type(e).__name__, e.originator_id, e.originator_version, e.__dict__)
                for e in stored_events(app)
            ]
        finally:
            app.close()

    first = generate(database_url)
    second = generate(f"sqlite:///{tmp_path / 'second.db'}")
    assert first == second
    recorded = [fields["timestamp"] for *_, fields in first[1]]
    assert min(recorded) < fixed_now - timedelta(days=365 * 3)  # simulated, not the clock's now


def test_progress_reports_every_batch(app: BatteryTrace) -> None:
    calls: list[int] = []
    generate_demo(app, batteries=120, batch_size=50, progress=calls.append)
    assert calls == [50, 50, 10, STORY_PACKS]  # the swapping and scrapping stories come last


def test_refuses_a_store_that_holds_data(app: BatteryTrace, cast: NationalCast) -> None:
    with pytest.raises(AlreadyExists, match="demo needs an empty store"):
        generate_demo(app, batteries=100)


def test_refuses_a_second_run(app: BatteryTrace, demo: DemoSummary) -> None:
    events = len(stored_events(app))
    with pytest.raises(AlreadyExists, match="BATTERYTRACE_DATABASE_URL"):
        generate_demo(app, batteries=100)
    assert len(stored_events(app)) == events


def test_refuses_too_few_batteries(app: BatteryTrace) -> None:
    with pytest.raises(InvalidInput, match="at least"):
        generate_demo(app, batteries=5)


def test_vin_check_digit_matches_the_standard_example() -> None:
    assert vin_check_digit("1M8GDM9A0KP042788") == "X"
