"""Battery swapping (换电), told by the aggregate alone: a swap operator takes a battery out of a
vehicle at one of its stations and puts a charged one in, two batteries and one VIN at one moment
(``events/battery_vehicles.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from batterytrace.events.battery import Battery
from batterytrace.events.battery_vehicles import swap
from batterytrace.events.disclosure import disclosure_for
from batterytrace.events.errors import InvalidInput, LifecycleViolation, NotAuthorised
from batterytrace.events.lifecycle import State
from batterytrace.events.participant import Participant
from tests.unit import test_lifecycle
from tests.unit.test_disclosure import facts
from tests.unit.test_lifecycle import CAST, VIN, World, register

world = test_lifecycle.world  # the same cast and stories as the lifecycle tests

OTHER_VIN = "LGWEF6A52MH000001"
STATION = "Futian 03"
FUTIAN = "440304"


def in_stock(world: World) -> Battery:
    """A new battery the manufacturer delivered to the swap operator: its swap pool."""
    battery = world.produce()
    world.deliver(battery, receiver=world.swap_operator)
    return battery


def in_vehicle(world: World) -> Battery:
    """The battery the vehicle maker sold the vehicle ``VIN`` with."""
    battery = world.produce()
    world.install(battery)
    return battery


def swap_at_station(
    world: World, removed: Battery, installed: Battery, *, actor: Participant | None = None, **overrides: Any
) -> None:
    facts: dict[str, Any] = {
        "actor": actor or world.swap_operator,
        "vin": VIN,
        "station": STATION,
        "division_code": FUTIAN,
        "occurred_at": world.clock.now(),
        **overrides,
    }
    swap(removed, installed, **facts)


def names(battery: Battery) -> list[str]:
    return [type(event).__name__ for event in battery.collect_events()]


def test_a_swap_takes_one_battery_out_of_the_vehicle_and_puts_another_in(world: World) -> None:
    sold_with, charged = in_vehicle(world), in_stock(world)

    swap_at_station(world, sold_with, charged)

    assert (sold_with.state, sold_with.custody) == (
        State.SWAP_STOCK,
        ("swap_station", STATION, world.swap_operator.id),
    )
    # Battery as a service: the operator answers for the battery it put into the vehicle.
    assert (charged.state, charged.custody) == (State.INSTALLED, ("vehicle", VIN, world.swap_operator.id))
    assert charged.vin == VIN
    (out,) = [e for e in sold_with.collect_events() if type(e).__name__ == "SwappedOut"]
    (into,) = [e for e in charged.collect_events() if type(e).__name__ == "SwappedIn"]
    assert out.occurred_at == into.occurred_at
    for event in (out, into):
        assert (event.vin, event.station, event.division_code) == (VIN, STATION, FUTIAN)
        assert event.operator_id == event.actor_id == world.swap_operator.id


def test_batteries_circulate_between_stations_and_vehicles(world: World) -> None:
    first, second = in_vehicle(world), in_stock(world)
    swap_at_station(world, first, second)
    # Later the same vehicle comes back: the battery swapped in goes out, the stocked one goes in.
    swap_at_station(world, second, first, station="Nanshan 11", division_code="440305")
    assert (first.state, first.holder_id) == (State.INSTALLED, VIN)
    assert (second.state, second.holder_kind, second.holder_id) == (
        State.SWAP_STOCK,
        "swap_station",
        "Nanshan 11",
    )
    # and a battery from stock may end its first life there
    world.retire(second)
    assert (second.state, second.responsible_id) == (State.RETIRED, world.swap_operator.id)


def test_only_a_swap_operator_swaps(world: World) -> None:
    sold_with, charged = in_vehicle(world), in_stock(world)
    for intruder in (world.vehicle_maker, world.dismantler, world.manufacturer):
        with pytest.raises(NotAuthorised, match="needs the role swap_operator"):
            swap_at_station(world, sold_with, charged, actor=intruder)
    assert names(sold_with)[-1] == "Installed" and names(charged)[-1] == "Delivered"


def test_a_battery_not_in_the_named_vehicle_is_refused_without_telling_where_it_is(world: World) -> None:
    sold_with, charged = in_vehicle(world), in_stock(world)
    with pytest.raises(NotAuthorised, match="not installed in the vehicle you named") as refused:
        swap_at_station(world, sold_with, charged, vin=OTHER_VIN)
    error = refused.value
    assert error.message_key == "battery.not_in_vehicle"
    said = f"{error.message} {error.params}"
    assert VIN not in said and world.vehicle_maker.id not in said
    assert sold_with.state == State.INSTALLED and charged.state == State.PRODUCED


def test_the_operator_swaps_in_only_batteries_it_holds(world: World) -> None:
    sold_with = in_vehicle(world)
    not_delivered = world.produce()  # still the manufacturer's
    with pytest.raises(NotAuthorised, match="you do not hold it"):
        swap_at_station(world, sold_with, not_delivered)
    assert names(sold_with)[-1] == "Installed"  # checked both sides before changing either
    other_operator = register(world.regulator, CAST.other_manufacturer, "Other Swap Co.", ["swap_operator"])
    with pytest.raises(NotAuthorised, match="you do not hold it"):
        swap_at_station(world, sold_with, in_stock(world), actor=other_operator)


def test_a_battery_in_use_or_retired_is_not_swapped_in(world: World) -> None:
    sold_with, elsewhere = in_vehicle(world), in_vehicle(world)
    with pytest.raises(LifecycleViolation, match="cannot swap in"):
        swap_at_station(world, sold_with, elsewhere)


def test_a_swap_needs_two_batteries(world: World) -> None:
    battery = in_vehicle(world)
    with pytest.raises(InvalidInput, match="both codes are"):
        swap_at_station(world, battery, battery)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("station", "", "printable characters"),
        ("station", "x" * 65, "printable characters"),
        ("division_code", "440000", "names a whole province"),
        ("division_code", "449999", "unknown"),
        ("vin", "LSVAU2180N218329", "must be 17 characters"),
    ],
)
def test_a_swap_names_a_vehicle_and_a_station_that_exist(
    world: World, field: str, value: str, says: str
) -> None:
    sold_with, charged = in_vehicle(world), in_stock(world)
    with pytest.raises(InvalidInput, match=says):
        swap_at_station(world, sold_with, charged, **{field: value})


def test_a_replayed_swap_records_nothing_more(world: World) -> None:
    sold_with, charged = in_vehicle(world), in_stock(world)
    swap_at_station(world, sold_with, charged, request_id="swap-1")
    versions = (sold_with.version, charged.version)
    swap_at_station(world, sold_with, charged, request_id="swap-1")
    assert (sold_with.version, charged.version) == versions


def test_a_request_id_used_for_another_swap_is_refused(world: World) -> None:
    sold_with, charged, another = in_vehicle(world), in_stock(world), in_stock(world)
    swap_at_station(world, sold_with, charged, request_id="swap-1")
    with pytest.raises(InvalidInput, match="already used"):
        swap_at_station(world, charged, another, request_id="swap-1")


def test_the_operator_that_had_the_vehicle_knows_its_vin(world: World) -> None:
    sold_with, charged = in_vehicle(world), in_stock(world)
    swap_at_station(world, sold_with, charged)
    for battery in (sold_with, charged):
        assert world.swap_operator.id in battery.vin_known_to
        seen = disclosure_for(world.swap_operator.id, facts(battery.collect_events()), is_regulator=False)
        assert seen.knows_vin, battery.code


def test_a_manufacturer_delivers_new_batteries_to_a_swap_operator_too(world: World) -> None:
    battery = in_stock(world)
    assert (battery.state, battery.responsible_id) == (State.PRODUCED, world.swap_operator.id)
    with pytest.raises(NotAuthorised, match="vehicle_maker or swap_operator"):
        world.deliver(world.produce(), receiver=world.recycler)
