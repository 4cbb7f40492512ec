"""What a participant may read of a battery: from its first involvement on, and the VIN only if it
had the vehicle or made the battery (``events/disclosure.py``)."""

from __future__ import annotations

from typing import Any

from batterytrace.events.battery import Battery
from batterytrace.events.disclosure import FULL, EventFacts, disclosure_for
from batterytrace.projections.event_data import event_details
from tests.unit import test_lifecycle
from tests.unit.test_lifecycle import VIN, World

world = test_lifecycle.world  # the same cast and stories as the lifecycle tests


def facts(events: list[Any]) -> list[EventFacts]:
    return [EventFacts(e.originator_version, type(e).__name__, e.actor_id, event_details(e)) for e in events]


def story(world: World) -> tuple[Battery, list[EventFacts]]:
    """Made, delivered, installed, retired by the vehicle maker, collected, handed to a recycler."""
    battery = world.produce()
    world.install(battery)
    world.retire(battery)
    world.collect(battery)
    world.hand_over(battery, to=world.recycler)
    return battery, facts(battery.collect_events())


def test_a_regulator_reads_everything(world: World) -> None:
    _, events = story(world)
    assert disclosure_for(world.regulator.id, events, is_regulator=True) == FULL


def test_the_manufacturer_reads_the_whole_life_vin_included(world: World) -> None:
    _, events = story(world)
    seen = disclosure_for(world.manufacturer.id, events, is_regulator=False)
    assert (seen.involved_from, seen.knows_vin) == (1, True)


def test_the_vehicle_maker_reads_from_the_delivery_with_the_vin(world: World) -> None:
    _, events = story(world)
    seen = disclosure_for(world.vehicle_maker.id, events, is_regulator=False)
    assert next(e.name for e in events if seen.visible(e.version)) == "Delivered"
    assert seen.knows_vin


def test_an_outlet_reads_from_its_intake_without_the_vin(world: World) -> None:
    _, events = story(world)
    seen = disclosure_for(world.outlet_operator.id, events, is_regulator=False)
    assert [e.name for e in events if seen.visible(e.version)] == ["Collected", "HandedOver"]
    assert not seen.knows_vin
    assert not any(VIN in str(e.details) for e in events if seen.visible(e.version))


def test_the_recycler_reads_from_the_handover(world: World) -> None:
    _, events = story(world)
    seen = disclosure_for(world.recycler.id, events, is_regulator=False)
    assert [e.name for e in events if seen.visible(e.version)] == ["HandedOver"]
    assert not seen.knows_vin


def test_a_stranger_reads_nothing(world: World) -> None:
    _, events = story(world)
    seen = disclosure_for(world.informal_recycler.id, events, is_regulator=False)
    assert not seen.involved and not seen.knows_vin and not seen.visible(1)


def test_a_dismantler_that_took_it_out_of_the_vehicle_knows_the_vin(world: World) -> None:
    battery = world.produce()
    world.install(battery)
    world.scrap(battery)
    battery.retire(actor=world.dismantler, reason="vehicle scrapped", occurred_at=world.clock.now())
    events = facts(battery.collect_events())
    assert disclosure_for(world.dismantler.id, events, is_regulator=False).knows_vin


def test_the_aggregate_keeps_the_same_vin_rule_as_the_event_facts(world: World) -> None:
    battery, events = story(world)
    for participant in world.participants:
        rule = disclosure_for(participant.id, events, is_regulator=False).knows_vin
        assert (participant.id in battery.vin_known_to) == rule, participant.name
