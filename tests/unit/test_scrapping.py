"""Vehicle scrapping (车电一体报废), told by the aggregate alone: a scrapped vehicle passes to a
licensed dismantler with its batteries, recorded by VIN; only then may the dismantler retire
them (``events/battery_vehicles.py``, ``Battery.retire``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from batterytrace.events.battery import FLAG_CUSTODY_UNVERIFIED, Battery
from batterytrace.events.battery_vehicles import MAX_BATTERIES_PER_VEHICLE, scrap_vehicle
from batterytrace.events.deadlines import DEFAULT_DEADLINES
from batterytrace.events.disclosure import disclosure_for
from batterytrace.events.errors import ChronologyViolation, InvalidInput, LifecycleViolation, NotAuthorised
from batterytrace.events.lifecycle import State
from batterytrace.events.participant import Participant
from tests.unit import test_lifecycle
from tests.unit.test_disclosure import facts
from tests.unit.test_lifecycle import VIN, World

world = test_lifecycle.world  # the same cast and stories as the lifecycle tests

OTHER_VIN = "LGWEF6A52MH000001"


def in_vehicle(world: World, vin: str = VIN) -> Battery:
    battery = world.produce()
    world.deliver(battery)
    battery.install(actor=world.vehicle_maker, vin=vin, occurred_at=world.clock.now())
    return battery


def scrap(world: World, *batteries: Battery, actor: Participant | None = None, **overrides: Any) -> None:
    facts: dict[str, Any] = {
        "actor": actor or world.dismantler,
        "vin": VIN,
        "scrapped_on": None,
        "occurred_at": world.clock.now(),
        **overrides,
    }
    scrap_vehicle(list(batteries), **facts)


def test_custody_of_the_installed_battery_passes_with_the_scrapped_vehicle(world: World) -> None:
    battery = in_vehicle(world)
    scrap(world, battery)
    assert battery.state == State.IN_SCRAPPED_VEHICLE
    assert battery.custody == ("vehicle", VIN, world.dismantler.id)
    scrapped = battery.collect_events()[-1]
    assert type(scrapped).__name__ == "VehicleScrapped"
    assert (scrapped.vin, scrapped.dismantler_id) == (VIN, world.dismantler.id)
    assert scrapped.scrapped_on == scrapped.occurred_at.date().isoformat()  # by default, that day


def test_then_the_dismantler_retires_and_hands_it_over(world: World) -> None:
    battery = in_vehicle(world)
    scrap(world, battery)
    world.retire(battery, actor=world.dismantler)
    assert (battery.state, battery.custody) == (
        State.RETIRED,
        ("enterprise", world.dismantler.id, world.dismantler.id),
    )
    world.hand_over(battery, actor=world.dismantler, to=world.recycler)
    assert battery.state == State.HANDED_OVER and battery.flags == []


def test_without_the_scrapping_record_the_dismantler_may_not_retire_it(world: World) -> None:
    battery = in_vehicle(world)
    with pytest.raises(NotAuthorised, match=r"record the vehicle's scrapping first \(batterytrace scrap"):
        world.retire(battery, actor=world.dismantler)
    assert battery.state == State.INSTALLED


def test_a_vehicle_with_several_batteries_is_scrapped_all_or_nothing(world: World) -> None:
    first, second, elsewhere = in_vehicle(world), in_vehicle(world), in_vehicle(world, OTHER_VIN)
    with pytest.raises(NotAuthorised, match="not installed in the vehicle you named") as refused:
        scrap(world, first, second, elsewhere)
    assert OTHER_VIN not in f"{refused.value.message} {refused.value.params}"
    assert [b.state for b in (first, second)] == [State.INSTALLED, State.INSTALLED]
    scrap(world, first, second)
    assert {b.responsible_id for b in (first, second)} == {world.dismantler.id}


def test_only_a_dismantler_takes_a_scrapped_vehicle_in(world: World) -> None:
    battery = in_vehicle(world)
    for intruder in (world.vehicle_maker, world.swap_operator, world.recycler):
        with pytest.raises(NotAuthorised, match="needs the role dismantler"):
            scrap(world, battery, actor=intruder)


def test_a_battery_out_of_the_vehicle_is_not_scrapped_with_it(world: World) -> None:
    battery = in_vehicle(world)
    world.remove(battery)
    with pytest.raises(LifecycleViolation, match="cannot scrap with vehicle"):
        scrap(world, battery)


@pytest.mark.parametrize("count", [0, MAX_BATTERIES_PER_VEHICLE + 1])
def test_a_scrapping_names_one_to_eight_batteries(world: World, count: int) -> None:
    batteries = [in_vehicle(world) for _ in range(count)]
    with pytest.raises(InvalidInput, match="1 to 8 batteries"):
        scrap(world, *batteries)


def test_a_battery_is_named_once(world: World) -> None:
    battery = in_vehicle(world)
    with pytest.raises(InvalidInput, match="listed twice"):
        scrap(world, battery, battery)


def test_the_scrapping_date_lies_between_production_and_the_hand_over(world: World) -> None:
    battery = in_vehicle(world)
    when = world.clock.now()
    with pytest.raises(ChronologyViolation, match="scrapping date"):
        scrap(world, battery, occurred_at=when, scrapped_on=when.date() + timedelta(days=1))
    with pytest.raises(ChronologyViolation, match="scrapping date"):
        scrap(world, battery, occurred_at=when, scrapped_on=date(2020, 1, 1))
    scrap(world, battery, occurred_at=when, scrapped_on=when.date() - timedelta(days=3))
    assert battery.collect_events()[-1].scrapped_on == (when.date() - timedelta(days=3)).isoformat()


def test_a_replayed_scrapping_records_nothing_more(world: World) -> None:
    battery = in_vehicle(world)
    scrap(world, battery, request_id="elv-1")
    version = battery.version
    scrap(world, battery, request_id="elv-1")
    assert battery.version == version


def test_the_dismantler_had_the_vehicle_so_it_knows_the_vin(world: World) -> None:
    battery = in_vehicle(world)
    scrap(world, battery)
    assert world.dismantler.id in battery.vin_known_to
    seen = disclosure_for(world.dismantler.id, facts(battery.collect_events()), is_regulator=False)
    assert seen.knows_vin and seen.involved_from == battery.version


def test_the_dismantler_reports_a_scrapping_within_15_working_days() -> None:
    rule = DEFAULT_DEADLINES.rule("VehicleScrapped", ["dismantler"])
    assert rule is not None and (rule.role, rule.working_days) == ("dismantler", 15)


def test_a_retirement_flagged_before_scrapping_records_existed_still_reads_flagged(world: World) -> None:
    """Events recorded when a dismantler's retirement was flagged rather than refused keep their
    flag when the battery is rebuilt from them."""
    battery = in_vehicle(world)
    battery._retired(
        reason="vehicle scrapped",
        state_of_health_pct=None,
        actor_id=world.dismantler.id,
        occurred_at=world.clock.now(),
        request_id=None,
        late_correction=False,
        custody_unverified=True,
    )
    rebuilt = None
    for event in battery.collect_events():
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Battery) and FLAG_CUSTODY_UNVERIFIED in rebuilt.flags
