"""A battery's life from production to recycling, told by its aggregate alone (no store, no app).

Every test builds a small world of registered participants and outlets in memory, produces
batteries and calls their commands; the pending events (``collect_events``) and the battery's
state are what the tests read.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import Battery, ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.collection_point import CollectionPoint, parse_collection_point_id
from batterytrace.events.errors import (
    ChronologyViolation,
    InvalidBatteryCode,
    InvalidInput,
    LifecycleViolation,
    NotAuthorised,
)
from batterytrace.events.lifecycle import ALLOWED, DEAD_ENDS, Action, State
from batterytrace.events.participant import Activity, Participant
from tests.utils.cast import NationalCast, credit_code

CAST = NationalCast()
TODAY = date(2030, 1, 1)  # bounds production dates in codes; every story happens before it
MADE_ON = date(2024, 7, 15)
VIN = "LSVAU2180N2183294"
WHITELISTED_SINCE = date(2020, 1, 1)
LFP_RECOVERY = {"Li": 1.2, "Ni": 0.0, "Co": 0.0, "Mn": 0.0, "Fe": 8.5}


def cst(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=CHINA_STANDARD_TIME)


def event_names(battery: Battery) -> list[str]:
    return [type(e).__name__ for e in battery.collect_events()]


class Clock:
    """Real-world time that moves one day per step, starting after every production date."""

    def __init__(self) -> None:
        self.moment = cst(2024, 8, 1)

    def now(self) -> datetime:
        self.moment += timedelta(days=1)
        return self.moment


@dataclass
class World:
    """A regulator, enterprises with their roles, two outlets; whitelists granted in 2020."""

    regulator: Participant
    manufacturer: Participant
    other_manufacturer: Participant
    vehicle_maker: Participant
    outlet_operator: Participant
    dismantler: Participant
    recycler: Participant
    receiver_outlet: CollectionPoint
    informal_recycler: Participant
    cascade_user: Participant
    outlet: CollectionPoint
    vehicle_maker_outlet: CollectionPoint
    swap_operator: Participant
    clock: Clock = field(default_factory=Clock)
    serials: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def participants(self) -> list[Participant]:
        return [
            self.regulator,
            self.manufacturer,
            self.other_manufacturer,
            self.vehicle_maker,
            self.outlet_operator,
            self.dismantler,
            self.recycler,
            self.informal_recycler,
            self.cascade_user,
            self.swap_operator,
        ]

    def holder(self, battery: Battery) -> Participant:
        """The participant answerable for the battery now (the vehicle maker when nobody is)."""
        by_id = {p.id: p for p in self.participants}
        return by_id.get(battery.responsible_id or "", self.vehicle_maker)

    # -- stories ------------------------------------------------------------------------------
    def code(
        self, product: str = "P", battery_type: str = "B", *, maker: str = "3CA", on: date = MADE_ON
    ) -> str:
        serial = next(self.serials)
        return make_battery_code(maker, product, battery_type, "12", "0A1B2C3", on, serial)

    def produce(
        self,
        product: str = "P",
        battery_type: str = "B",
        *,
        components: Iterable[Battery] = (),
        **overrides: Any,
    ) -> Battery:
        code = self.code(product, battery_type)
        return Battery.produce(
            spec(code, **overrides),
            actor=self.manufacturer,
            code_owner_id=self.manufacturer.id,
            components=components,
            today=TODAY,
        )

    def deliver(self, battery: Battery, **kwargs: Any) -> None:
        kwargs.setdefault("occurred_at", self.clock.now())
        kwargs.setdefault("receiver", self.vehicle_maker)
        battery.deliver(actor=self.manufacturer, **kwargs)

    def install(self, battery: Battery, **kwargs: Any) -> None:
        """Into the vehicle maker's vehicle; a new battery is delivered to it first, as it must be."""
        kwargs.setdefault("occurred_at", self.clock.now())
        if battery.state == State.PRODUCED and battery.responsible_id == self.manufacturer.id:
            self.deliver(battery, occurred_at=kwargs["occurred_at"])
        battery.install(actor=self.vehicle_maker, vin=VIN, **kwargs)

    def remove(self, battery: Battery, **kwargs: Any) -> None:
        kwargs.setdefault("occurred_at", self.clock.now())
        battery.remove(actor=self.vehicle_maker, reason="repair", **kwargs)

    def swap_out(self, battery: Battery, **kwargs: Any) -> None:
        """At the swap operator's station, out of the vehicle ``VIN``."""
        kwargs.setdefault("occurred_at", self.clock.now())
        battery.swap_out(
            actor=self.swap_operator, vin=VIN, station="Futian 03", division_code="440304", **kwargs
        )

    def swap_in(self, battery: Battery, **kwargs: Any) -> None:
        kwargs.setdefault("occurred_at", self.clock.now())
        battery.swap_in(
            actor=self.swap_operator, vin=VIN, station="Futian 03", division_code="440304", **kwargs
        )

    def scrap(self, battery: Battery, **kwargs: Any) -> None:
        """The vehicle ``VIN`` with the battery in it passes to the dismantler."""
        kwargs.setdefault("occurred_at", self.clock.now())
        battery.scrap_with_vehicle(actor=self.dismantler, vin=VIN, scrapped_on=None, **kwargs)

    def retire(self, battery: Battery, **kwargs: Any) -> None:
        kwargs.setdefault("occurred_at", self.clock.now())
        kwargs.setdefault("actor", self.holder(battery))
        battery.retire(reason="capacity below 80%", state_of_health_pct=76, **kwargs)

    def collect(self, battery: Battery, **kwargs: Any) -> None:
        """At the public outlet; a battery a receiver already holds goes to the receiver's own
        intake point, since only the holder may take it in again."""
        kwargs.setdefault("occurred_at", self.clock.now())
        if battery.state == State.HANDED_OVER and battery.responsible_id == self.cascade_user.id:
            kwargs.setdefault("actor", self.cascade_user)
            kwargs.setdefault("collection_point", self.receiver_outlet)
        kwargs.setdefault("actor", self.outlet_operator)
        kwargs.setdefault("collection_point", self.outlet)
        battery.collect(**kwargs)

    def hand_over(
        self,
        battery: Battery,
        to: Participant | None = None,
        activity: Activity = Activity.RECYCLING,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("occurred_at", self.clock.now())
        kwargs.setdefault("actor", self.holder(battery))
        battery.hand_over(receiver=to or self.recycler, activity=activity, **kwargs)

    def recycle(self, battery: Battery, **kwargs: Any) -> None:
        kwargs.setdefault("occurred_at", self.clock.now())
        kwargs.setdefault("recovered_kg", LFP_RECOVERY)
        battery.recycle(actor=self.recycler, **kwargs)

    def make_second_life_product(self, originals: list[Battery]) -> Battery:
        """The cascade-use enterprise builds an energy-storage unit from batteries it holds."""
        made_at = self.clock.now()
        code = self.code("P", "B", maker="9CU", on=made_at.date())
        product = Battery.produce(
            spec(code, occurred_at=made_at),
            actor=self.cascade_user,
            code_owner_id=self.cascade_user.id,
            originals=originals,
            today=TODAY,
        )
        for original in originals:
            original.cascade_reuse(product, actor=self.cascade_user)
        return product

    def retired_battery(self) -> Battery:
        battery = self.produce()
        self.install(battery)
        self.retire(battery)
        return battery

    def collected_battery(self) -> Battery:
        battery = self.retired_battery()
        self.collect(battery)
        return battery


def spec(code: str, **overrides: Any) -> ProductionSpec:
    """A 150 Ah, 102.4 V, 15.36 kWh, 100 kg battery unless told otherwise."""
    base = ProductionSpec(
        code=code, rated_capacity_ah=150, nominal_voltage_v=102.4, energy_kwh=15.36, mass_kg=100
    )
    return replace(base, **overrides)


def register(
    regulator: Participant, code: str, name: str, roles: list[str], mfr: list[str] | None = None
) -> Participant:
    return Participant.register(
        credit_code=code, name=name, roles=roles, manufacturer_codes=mfr, registered_by=regulator
    )


@pytest.fixture
def world() -> World:
    regulator = Participant.register(
        credit_code=CAST.regulator, name="MIIT traceability", roles=["regulator"], registered_by=None
    )
    vehicle_maker = register(
        regulator, CAST.vehicle_maker, "Shenzhen Motors", ["vehicle_maker", "outlet_operator"]
    )
    outlet_operator = register(regulator, CAST.outlet_operator, "Beijing Green Outlets", ["outlet_operator"])
    cascade_user = register(regulator, CAST.cascade_user, "Changsha Second Life", ["cascade_user"], ["9CU"])
    world = World(
        regulator=regulator,
        manufacturer=register(
            regulator, CAST.manufacturer, "Ningde Cells Co.", ["manufacturer"], ["3CA", "3CB"]
        ),
        other_manufacturer=register(
            regulator, CAST.other_manufacturer, "Shenzhen Packs Co.", ["manufacturer"], ["4BY"]
        ),
        vehicle_maker=vehicle_maker,
        outlet_operator=outlet_operator,
        dismantler=register(regulator, CAST.dismantler, "Suzhou ELV Dismantling", ["dismantler"]),
        recycler=register(regulator, CAST.recycler, "Ganzhou Recycling", ["recycler"]),
        informal_recycler=register(regulator, CAST.informal_recycler, "Backstreet Workshop", ["recycler"]),
        cascade_user=cascade_user,
        outlet=CollectionPoint.register(
            point_id=CAST.collection_point,
            operator=outlet_operator,
            name="Chaoyang collection outlet",
            kind="collection",
            capacity_kg=5000,
            address="1 Battery Road, Chaoyang, Beijing",
            division_code="110105",
            by=regulator,
        ),
        receiver_outlet=CollectionPoint.register(
            point_id="CP-430102-0001",
            operator=cascade_user,
            name="Changsha intake store",
            kind="central_storage",
            capacity_kg=30000,
            address="2 Renewal Road, Changsha",
            division_code="430102",
            by=regulator,
        ),
        vehicle_maker_outlet=CollectionPoint.register(
            point_id=CAST.other_collection_point,
            operator=vehicle_maker,
            name="Nanshan service outlet",
            kind="central_storage",
            capacity_kg=30000,
            address="8 Keji Road, Nanshan, Shenzhen",
            division_code="440305",
            by=vehicle_maker,
        ),
        swap_operator=register(regulator, CAST.swap_operator, "Yihuan Energy", ["swap_operator"]),
    )
    world.recycler.grant_whitelist(Activity.RECYCLING, WHITELISTED_SINCE, by=regulator)
    world.cascade_user.grant_whitelist(Activity.CASCADE_USE, WHITELISTED_SINCE, by=regulator)
    return world


# ==================================================================== the whole story, told once
def test_a_battery_retired_from_a_vehicle_is_collected_and_recycled(world: World) -> None:
    """A battery delivered to a vehicle maker and installed, retired from the vehicle, is
    collected at an outlet, handed to a whitelisted recycler and recycled."""
    battery = world.produce()
    world.deliver(battery)
    world.install(battery)
    world.retire(battery)
    world.collect(battery)
    world.hand_over(battery, to=world.recycler)
    world.recycle(battery)

    events = battery.collect_events()
    assert [type(e).__name__ for e in events] == [
        "Produced",
        "Delivered",
        "Installed",
        "Retired",
        "Collected",
        "HandedOver",
        "Recycled",
    ]
    produced, delivered, installed, retired, collected, handed_over, recycled = events
    assert produced.manufacturer_id == world.manufacturer.id
    assert (delivered.actor_id, delivered.receiver_id) == (world.manufacturer.id, world.vehicle_maker.id)
    assert produced.occurred_at == cst(2024, 7, 15, 0)
    assert (installed.vin, installed.actor_id) == (VIN, world.vehicle_maker.id)
    assert (retired.reason, retired.state_of_health_pct) == ("capacity below 80%", 76.0)
    assert collected.collection_point_id == world.outlet.id
    assert collected.source_vin is None  # only what the outlet declares, not the record's VIN
    assert collected.mass_kg == 100
    assert handed_over.from_collection_point_id == world.outlet.id
    assert (handed_over.compliant, handed_over.non_compliance) == (True, None)
    assert recycled.recovered_kg == LFP_RECOVERY
    assert all(e.originator_id == battery.code for e in events)
    assert [e.originator_version for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert all(e.late_correction is False for e in events[1:])

    assert battery.state == State.RECYCLED
    assert battery.flags == []
    assert (battery.holder_kind, battery.holder_id, battery.responsible_id) == (None, None, None)


def test_who_holds_the_battery_follows_it_through_its_life(world: World) -> None:
    battery = world.produce()
    holders = [(battery.holder_kind, battery.holder_id)]
    world.install(battery)
    holders.append((battery.holder_kind, battery.holder_id))
    world.retire(battery)
    holders.append((battery.holder_kind, battery.holder_id))
    world.collect(battery)
    holders.append((battery.holder_kind, battery.holder_id))
    world.hand_over(battery)
    holders.append((battery.holder_kind, battery.holder_id))

    assert holders == [
        ("manufacturer", world.manufacturer.id),
        ("vehicle", VIN),
        ("enterprise", world.vehicle_maker.id),
        ("collection_point", world.outlet.id),
        ("enterprise", world.recycler.id),
    ]
    assert battery.collection_point_id is None  # it left the outlet


def test_a_battery_rebuilt_from_its_events_is_the_same_battery(world: World) -> None:
    battery = world.collected_battery()
    rebuilt = None
    for domain_event in battery.collect_events():
        rebuilt = domain_event.mutate(rebuilt)
    assert isinstance(rebuilt, Battery)
    assert rebuilt.state == battery.state == State.COLLECTED
    assert rebuilt.__dict__ == battery.__dict__


# ============================================================================ the state machine
EXPECTED_ALLOWED = {
    State.PRODUCED: {Action.ASSEMBLE, Action.DELIVER, Action.INSTALL, Action.SWAP_IN, Action.RETIRE},
    State.ASSEMBLED: set(),
    State.INSTALLED: {Action.REMOVE, Action.SWAP_OUT, Action.SCRAP_WITH_VEHICLE, Action.RETIRE},
    State.SWAP_STOCK: {Action.SWAP_IN, Action.RETIRE},
    State.IN_SCRAPPED_VEHICLE: {Action.RETIRE},
    State.REMOVED: {Action.INSTALL, Action.RETIRE},
    State.RETIRED: {Action.COLLECT, Action.HAND_OVER},
    State.COLLECTED: {Action.HAND_OVER},
    State.HANDED_OVER: {Action.COLLECT, Action.HAND_OVER, Action.CASCADE_REUSE, Action.RECYCLE},
    State.CASCADE_REUSED: set(),
    State.RECYCLED: set(),
}
RESULT = {
    Action.ASSEMBLE: (State.ASSEMBLED, "AssembledInto"),
    Action.DELIVER: (State.PRODUCED, "Delivered"),  # custody changes, the battery is still new
    Action.INSTALL: (State.INSTALLED, "Installed"),
    Action.REMOVE: (State.REMOVED, "Removed"),
    Action.SWAP_OUT: (State.SWAP_STOCK, "SwappedOut"),
    Action.SWAP_IN: (State.INSTALLED, "SwappedIn"),
    Action.SCRAP_WITH_VEHICLE: (State.IN_SCRAPPED_VEHICLE, "VehicleScrapped"),
    Action.RETIRE: (State.RETIRED, "Retired"),
    Action.COLLECT: (State.COLLECTED, "Collected"),
    Action.HAND_OVER: (State.HANDED_OVER, "HandedOver"),
    Action.CASCADE_REUSE: (State.CASCADE_REUSED, "CascadeReused"),
    Action.RECYCLE: (State.RECYCLED, "Recycled"),
}


def test_the_lifecycle_table_is_the_one_the_domain_describes() -> None:
    assert {state: set(actions) for state, actions in ALLOWED.items()} == EXPECTED_ALLOWED
    assert set(DEAD_ENDS) == {s for s, actions in EXPECTED_ALLOWED.items() if not actions}


def drive_into(world: World, state: State, *, then: Action) -> Battery:
    """A module brought into ``state`` by the ordinary route, ready for the action ``then``.

    A module, so that it can also be built into a pack; handed over to the cascade-use enterprise
    unless it is to be recycled next, so that whoever holds it can do what comes next.
    """
    module = world.produce("M")
    if state == State.PRODUCED:
        if then == Action.INSTALL:
            world.deliver(module)  # the vehicle maker installs what was delivered to it
        if then == Action.SWAP_IN:  # and a swap operator swaps in what was delivered to it
            world.deliver(module, receiver=world.swap_operator)
        return module
    if state == State.ASSEMBLED:
        pack = world.produce("P", components=[module])
        module.assemble_into(pack)
        return module
    world.install(module)
    if state == State.INSTALLED:
        return module
    if state == State.REMOVED:
        world.remove(module)
        return module
    if state == State.SWAP_STOCK:
        world.swap_out(module)
        return module
    if state == State.IN_SCRAPPED_VEHICLE:
        world.scrap(module)
        return module
    world.retire(module)
    if state == State.RETIRED:
        return module
    world.collect(module)
    if state == State.COLLECTED:
        return module
    if state == State.RECYCLED:
        world.hand_over(module, to=world.recycler)
        world.recycle(module)
        return module
    if state == State.CASCADE_REUSED:
        world.hand_over(module, to=world.cascade_user, activity=Activity.CASCADE_USE)
        world.make_second_life_product([module])
        return module
    assert state == State.HANDED_OVER
    if then == Action.RECYCLE:
        world.hand_over(module, to=world.recycler)
    else:
        world.hand_over(module, to=world.cascade_user, activity=Activity.CASCADE_USE)
    return module


def attempt(world: World, battery: Battery, action: Action) -> None:
    """Try ``action`` the way the participant who would be entitled to it does."""
    if action == Action.ASSEMBLE:
        pack = world.produce("P", components=[battery])
        battery.assemble_into(pack)
    elif action == Action.DELIVER:
        world.deliver(battery)
    elif action == Action.INSTALL:
        world.install(battery)
    elif action == Action.REMOVE:
        world.remove(battery)
    elif action == Action.SWAP_OUT:
        world.swap_out(battery)
    elif action == Action.SWAP_IN:
        world.swap_in(battery)
    elif action == Action.SCRAP_WITH_VEHICLE:
        world.scrap(battery)
    elif action == Action.RETIRE:
        world.retire(battery)
    elif action == Action.COLLECT:
        world.collect(battery)
    elif action == Action.HAND_OVER:
        world.hand_over(battery, to=world.recycler)
    elif action == Action.CASCADE_REUSE:
        world.make_second_life_product([battery])
    else:
        assert action == Action.RECYCLE
        world.recycle(battery)


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.name.lower())
@pytest.mark.parametrize("state", list(State), ids=lambda s: s.name.lower())
def test_each_state_allows_exactly_its_actions(world: World, state: State, action: Action) -> None:
    battery = drive_into(world, state, then=action)
    assert battery.state == state
    battery.collect_events()

    if action in EXPECTED_ALLOWED[state]:
        attempt(world, battery, action)
        new_state, event_name = RESULT[action]
        assert battery.state == new_state
        assert event_names(battery) == [event_name]
        return

    with pytest.raises(LifecycleViolation) as caught:
        attempt(world, battery, action)
    error = caught.value
    message = str(error)
    assert (error.code, error.state, error.action) == (battery.code, state.value, action.value)
    assert f"battery {battery.code} is {state.value}: cannot {action.value}; " in message
    if EXPECTED_ALLOWED[state]:
        assert "allowed now: " in message
        for allowed in ALLOWED[state]:
            assert allowed.value in message.split("allowed now: ")[1]
    else:
        assert DEAD_ENDS[state] in message
    assert battery.state == state  # nothing changed
    assert battery.collect_events() == []


def test_a_dead_end_names_the_pack_or_product_to_act_on_instead(world: World) -> None:
    module = world.produce("M")
    pack = world.produce("P", components=[module])
    module.assemble_into(pack)
    with pytest.raises(LifecycleViolation) as caught:
        world.retire(module, actor=world.manufacturer)
    assert "act on the pack instead" in str(caught.value)
    assert pack.code in str(caught.value)


def test_a_removed_battery_may_be_reinstalled_by_the_vehicle_maker_that_removed_it(
    world: World,
) -> None:
    battery = world.produce()
    world.install(battery)
    world.remove(battery)
    world.install(battery)
    world.remove(battery)
    world.retire(battery)
    assert event_names(battery) == [
        "Produced",
        "Delivered",
        "Installed",
        "Removed",
        "Installed",
        "Removed",
        "Retired",
    ]


def test_a_battery_a_receiver_rejects_goes_through_its_intake_point_and_on(world: World) -> None:
    battery = world.collected_battery()
    world.hand_over(battery, to=world.cascade_user, activity=Activity.CASCADE_USE)
    world.collect(battery)  # the cascade-use enterprise rejects it after testing; into its store
    assert battery.collection_point_id == world.receiver_outlet.id
    world.hand_over(battery, to=world.recycler)
    world.recycle(battery)
    assert battery.state == State.RECYCLED


# ================================================================================= chronology
def test_an_event_dated_before_the_previous_one_is_refused(world: World) -> None:
    battery = world.produce()
    world.install(battery, occurred_at=cst(2024, 9, 10))
    battery.collect_events()

    with pytest.raises(ChronologyViolation) as caught:
        world.retire(battery, occurred_at=cst(2024, 9, 5))
    message = str(caught.value)
    assert f"cannot retire battery {battery.code} at 2024-09-05T10:00:00+08:00" in message
    assert "before its previous event at 2024-09-10T10:00:00+08:00" in message
    assert "late correction" in message
    assert battery.state == State.INSTALLED
    assert battery.collect_events() == []


def test_a_late_correction_may_run_backwards_and_keeps_the_latest_time(world: World) -> None:
    battery = world.produce()
    world.install(battery, occurred_at=cst(2024, 9, 10))
    world.retire(battery, occurred_at=cst(2024, 9, 5), late_correction=True)

    retired = battery.collect_events()[-1]
    assert type(retired).__name__ == "Retired"
    assert retired.late_correction is True
    assert retired.occurred_at == cst(2024, 9, 5)
    assert battery.last_occurred_at == cst(2024, 9, 10)
    with pytest.raises(ChronologyViolation):  # the clock did not go back with the correction
        world.collect(battery, occurred_at=cst(2024, 9, 8))


def test_nothing_happens_to_a_battery_before_it_is_made(world: World) -> None:
    battery = world.produce()  # at the start of 15 July 2024, China Standard Time
    with pytest.raises(ChronologyViolation):
        world.install(battery, occurred_at=cst(2024, 7, 14, 23))
    with pytest.raises(ChronologyViolation):
        world.install(battery, occurred_at=datetime(2024, 7, 14, 15, 59, tzinfo=UTC))
    world.install(battery, occurred_at=datetime(2024, 7, 14, 16, 0, tzinfo=UTC))  # 00:00 CST


def test_a_late_correction_cannot_date_an_event_before_the_battery_was_made(world: World) -> None:
    battery = world.produce()  # 15 July 2024
    with pytest.raises(ChronologyViolation, match="before it was produced"):
        world.retire(battery, occurred_at=cst(2024, 7, 1), late_correction=True)
    assert battery.collect_events()[-1].__class__.__name__ == "Produced"


@pytest.mark.parametrize(
    "occurred_at",
    [
        datetime(1, 1, 1),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
        datetime(2009, 12, 31, 23, 59),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))),
    ],
)
def test_a_time_outside_the_platform_calendar_is_invalid_input(world: World, occurred_at: datetime) -> None:
    battery = world.produce()
    with pytest.raises(InvalidInput, match="check the date"):
        world.retire(battery, occurred_at=occurred_at, late_correction=True)


def test_times_without_a_zone_are_china_standard_time(world: World) -> None:
    battery = world.produce()
    with pytest.raises(ChronologyViolation):
        world.install(battery, occurred_at=datetime(2024, 7, 14, 23, 59))
    world.install(battery, occurred_at=datetime(2024, 7, 15, 8, 0))
    installed = battery.collect_events()[-1]
    assert installed.occurred_at == cst(2024, 7, 15, 8)


def test_two_events_at_the_same_moment_are_in_order(world: World) -> None:
    battery = world.produce()
    world.install(battery, occurred_at=cst(2024, 9, 1))
    world.retire(battery, occurred_at=cst(2024, 9, 1))
    assert battery.state == State.RETIRED


# ============================================================================ idempotent retries
def test_a_replayed_scan_records_one_collection(world: World) -> None:
    battery = world.retired_battery()
    battery.collect_events()
    world.collect(battery, request_id="scan-42", occurred_at=cst(2024, 9, 1))
    world.collect(battery, request_id="scan-42", occurred_at=cst(2024, 9, 1))
    assert event_names(battery) == ["Collected"]
    assert battery.collect_events() == []


def test_a_retry_that_arrives_after_later_events_is_answered_not_refused(world: World) -> None:
    battery = world.retired_battery()
    world.collect(battery, request_id="scan-42")
    world.hand_over(battery, request_id="handover-7")
    battery.collect_events()

    world.collect(battery, request_id="scan-42")  # no LifecycleViolation: it is a replay
    world.hand_over(battery, request_id="handover-7", actor=world.outlet_operator)
    assert battery.collect_events() == []
    assert battery.state == State.HANDED_OVER


@pytest.mark.parametrize("action", ["install", "remove", "retire", "hand_over", "recycle"])
def test_every_command_is_idempotent_by_request_id(world: World, action: str) -> None:
    battery = world.produce()
    world.deliver(battery)
    steps = ["install", "remove", "retire", "hand_over", "recycle"]
    for step in steps[: steps.index(action)]:
        getattr(world, step)(battery)
    battery.collect_events()
    same_actor = {"actor": world.holder(battery)} if action == "hand_over" else {}  # replays come from it
    getattr(world, action)(battery, request_id="req-1", **same_actor)
    version = battery.version
    getattr(world, action)(battery, request_id="req-1", **same_actor)
    assert len(battery.collect_events()) == 1
    assert battery.version == version


def test_a_new_request_id_is_a_new_command(world: World) -> None:
    battery = world.retired_battery()
    world.collect(battery, request_id="scan-1")
    with pytest.raises(LifecycleViolation, match="is collected: cannot collect"):
        world.collect(battery, request_id="scan-2")


def test_a_battery_rebuilt_from_its_events_remembers_request_ids(world: World) -> None:
    battery = world.retired_battery()
    world.collect(battery, request_id="scan-42")
    rebuilt = None
    for domain_event in battery.collect_events():
        rebuilt = domain_event.mutate(rebuilt)
    assert isinstance(rebuilt, Battery)
    operator = world.outlet_operator
    assert rebuilt.has_seen(operator, "scan-42", Action.COLLECT)
    assert not rebuilt.has_seen(operator, "scan-43", Action.COLLECT)
    assert not rebuilt.has_seen(operator, None, Action.COLLECT)
    assert not rebuilt.has_seen(world.vehicle_maker, "scan-42", Action.COLLECT)  # ids are per actor


# =============================================================================== authorisation
def test_a_manufacturer_cannot_produce_under_another_makers_code(world: World) -> None:
    code = world.code(maker="4BY")
    with pytest.raises(NotAuthorised) as caught:
        Battery.produce(
            spec(code),
            actor=world.manufacturer,
            code_owner_id=world.other_manufacturer.id,
            today=TODAY,
        )
    message = str(caught.value)
    assert f"cannot produce {code}: manufacturer code 4BY is not one of yours" in message
    assert world.other_manufacturer.id not in message  # the refusal does not say who owns it
    assert "you own 3CA, 3CB" in message
    assert caught.value.detail == f"manufacturer code 4BY belongs to {world.other_manufacturer.id}"


def test_a_code_whose_manufacturer_code_nobody_owns_cannot_be_produced(world: World) -> None:
    code = world.code(maker="7ZZ")
    with pytest.raises(NotAuthorised, match="7ZZ is not one of yours"):
        Battery.produce(spec(code), actor=world.manufacturer, code_owner_id=None, today=TODAY)


def test_a_manufacturer_cannot_claim_a_code_it_does_not_hold(world: World) -> None:
    code = world.code(maker="4BY")  # the caller wrongly says the actor owns it
    with pytest.raises(NotAuthorised):
        Battery.produce(
            spec(code), actor=world.manufacturer, code_owner_id=world.manufacturer.id, today=TODAY
        )


def test_a_cascade_use_enterprise_cannot_record_a_product_without_originals(world: World) -> None:
    code = world.code("P", "B", maker="9CU")
    with pytest.raises(NotAuthorised, match="together with the retired batteries it is made from"):
        Battery.produce(
            spec(code), actor=world.cascade_user, code_owner_id=world.cascade_user.id, today=TODAY
        )


def test_only_manufacturers_and_cascade_use_enterprises_produce(world: World) -> None:
    with pytest.raises(NotAuthorised, match="needs the role manufacturer or cascade_user"):
        Battery.produce(
            spec(world.code()),
            actor=world.vehicle_maker,
            code_owner_id=world.vehicle_maker.id,
            today=TODAY,
        )


def test_only_a_vehicle_maker_installs_a_battery_in_a_vehicle(world: World) -> None:
    battery = world.produce()
    with pytest.raises(NotAuthorised, match="needs the role vehicle_maker"):
        battery.install(actor=world.manufacturer, vin=VIN, occurred_at=world.clock.now())


def test_only_the_vehicle_maker_that_installed_it_removes_it(world: World) -> None:
    battery = world.produce()
    world.install(battery)
    with pytest.raises(NotAuthorised) as caught:
        battery.remove(actor=world.dismantler, occurred_at=world.clock.now(), reason="repair")
    assert "you do not hold it" in str(caught.value)
    assert world.vehicle_maker.id not in str(caught.value) and VIN not in str(caught.value)
    assert caught.value.detail == f"held by {world.vehicle_maker.id} (vehicle {VIN})"


def test_a_removed_battery_is_reinstalled_only_by_its_holder(world: World) -> None:
    battery = world.produce()
    world.install(battery)
    world.remove(battery)
    other_maker = register(
        world.regulator, credit_code("91310000MA1K00009"), "Shanghai Motors", ["vehicle_maker"]
    )
    with pytest.raises(NotAuthorised, match="you do not hold it"):
        battery.install(actor=other_maker, vin=VIN, occurred_at=world.clock.now())


def test_an_outlet_operator_cannot_collect_at_another_operators_point(world: World) -> None:
    battery = world.retired_battery()
    with pytest.raises(NotAuthorised) as caught:
        battery.collect(
            actor=world.outlet_operator,
            collection_point=world.vehicle_maker_outlet,
            occurred_at=world.clock.now(),
        )
    message = str(caught.value)
    assert f"does not operate collection point {world.vehicle_maker_outlet.id}" in message
    assert world.vehicle_maker.id not in message
    assert caught.value.detail == f"operated by {world.vehicle_maker.id}"
    assert battery.state == State.RETIRED


def test_a_vehicle_maker_collects_at_its_own_outlet(world: World) -> None:
    battery = world.retired_battery()
    battery.collect(
        actor=world.vehicle_maker,
        collection_point=world.vehicle_maker_outlet,
        occurred_at=world.clock.now(),
    )
    assert battery.collection_point_id == world.vehicle_maker_outlet.id


def test_only_the_holder_hands_a_battery_over(world: World) -> None:
    battery = world.collected_battery()
    for intruder in (world.vehicle_maker, world.recycler, world.manufacturer):
        with pytest.raises(NotAuthorised, match="you do not hold it"):
            world.hand_over(battery, actor=intruder)
    assert battery.state == State.COLLECTED


def test_a_receiver_needs_the_role_for_the_activity(world: World) -> None:
    battery = world.collected_battery()
    with pytest.raises(NotAuthorised, match="cannot receive batteries for recycling"):
        world.hand_over(battery, to=world.cascade_user, activity=Activity.RECYCLING)
    with pytest.raises(NotAuthorised, match="cannot receive batteries for cascade_use"):
        world.hand_over(battery, to=world.recycler, activity=Activity.CASCADE_USE)


def test_a_holder_cannot_hand_a_battery_over_to_itself(world: World) -> None:
    battery = world.collected_battery()
    world.hand_over(battery, to=world.recycler)
    with pytest.raises(InvalidInput, match="receiver other than the current holder"):
        world.hand_over(battery, to=world.recycler)


def test_only_a_recycler_holding_the_battery_recycles_it(world: World) -> None:
    battery = world.collected_battery()
    world.hand_over(battery, to=world.recycler)
    with pytest.raises(NotAuthorised, match="you do not hold it"):
        battery.recycle(
            actor=world.informal_recycler,
            occurred_at=world.clock.now(),
            recovered_kg=LFP_RECOVERY,
        )
    assert battery.state == State.HANDED_OVER


def test_a_cascade_use_enterprise_holding_a_battery_cannot_recycle_it(world: World) -> None:
    battery = world.collected_battery()
    world.hand_over(battery, to=world.cascade_user, activity=Activity.CASCADE_USE)
    with pytest.raises(NotAuthorised, match="needs the role recycler"):
        battery.recycle(actor=world.cascade_user, occurred_at=world.clock.now(), recovered_kg=LFP_RECOVERY)


def test_a_dismantler_retires_a_battery_from_a_scrapped_vehicle_and_hands_it_over(
    world: World,
) -> None:
    battery = world.produce()
    world.install(battery)
    world.scrap(battery)
    world.retire(battery, actor=world.dismantler)
    assert (battery.holder_kind, battery.holder_id) == ("enterprise", world.dismantler.id)
    world.hand_over(battery, actor=world.dismantler, to=world.recycler)
    assert battery.state == State.HANDED_OVER
    handed_over = battery.collect_events()[-1]
    assert handed_over.actor_id == world.dismantler.id
    assert handed_over.from_collection_point_id is None


def test_a_dismantler_cannot_retire_a_battery_it_did_not_take_from_a_vehicle(world: World) -> None:
    battery = world.produce()
    with pytest.raises(NotAuthorised, match="you do not hold it"):
        world.retire(battery, actor=world.dismantler)
    world.install(battery)
    world.remove(battery)
    with pytest.raises(NotAuthorised, match="you do not hold it"):
        world.retire(battery, actor=world.dismantler)


def test_nobody_but_the_holder_retires_an_installed_battery(world: World) -> None:
    battery = world.produce()
    world.install(battery)
    for intruder in (world.outlet_operator, world.manufacturer, world.recycler):
        with pytest.raises(NotAuthorised):
            world.retire(battery, actor=intruder)


def test_a_manufacturer_may_retire_unsold_stock(world: World) -> None:
    battery = world.produce()
    world.retire(battery, actor=world.manufacturer)
    assert battery.state == State.RETIRED
    assert battery.responsible_id == world.manufacturer.id


# ================================================================================== compliance
def handover_event(world: World, receiver: Participant, on: datetime) -> Any:
    battery = world.collected_battery()
    world.hand_over(battery, to=receiver, occurred_at=on)
    return battery, battery.collect_events()[-1]


def test_a_handover_to_a_whitelisted_recycler_is_compliant(world: World) -> None:
    battery, handed_over = handover_event(world, world.recycler, cst(2024, 9, 1))
    assert (handed_over.compliant, handed_over.non_compliance) == (True, None)
    assert (handed_over.receiver_id, handed_over.activity) == (world.recycler.id, "recycling")
    assert battery.flags == []


def test_a_handover_to_a_recycler_off_the_whitelist_is_recorded_and_flagged(world: World) -> None:
    battery, handed_over = handover_event(world, world.informal_recycler, cst(2024, 9, 1))
    assert handed_over.compliant is False
    assert handed_over.non_compliance == (
        f"Backstreet Workshop ({world.informal_recycler.id}) is not whitelisted for recycling on 2024-09-01"
    )
    assert battery.state == State.HANDED_OVER
    assert battery.flags == ["non-compliant handover"]
    assert battery.responsible_id == world.informal_recycler.id


@pytest.mark.parametrize(
    ("granted_on", "revoked_on", "compliant"),
    [
        (date(2024, 9, 2), None, False),  # granted the day after the handover
        (date(2024, 9, 1), None, True),  # granted on the day of the handover
        (date(2024, 1, 1), date(2024, 8, 31), False),  # revoked before the handover
        (date(2024, 1, 1), date(2024, 9, 1), False),  # revoked on the day of the handover
        (date(2024, 1, 1), date(2024, 9, 2), True),  # revoked after the handover
    ],
)
def test_compliance_depends_on_the_whitelist_on_the_day_of_the_handover(
    world: World, granted_on: date, revoked_on: date | None, compliant: bool
) -> None:
    world.informal_recycler.grant_whitelist(Activity.RECYCLING, granted_on, by=world.regulator)
    if revoked_on:
        world.informal_recycler.revoke_whitelist(
            Activity.RECYCLING, revoked_on, by=world.regulator, reason="inspection failed"
        )
    _, handed_over = handover_event(world, world.informal_recycler, cst(2024, 9, 1))
    assert handed_over.compliant is compliant
    assert (handed_over.non_compliance is None) is compliant


def test_the_day_of_a_handover_is_the_day_in_china(world: World) -> None:
    world.informal_recycler.grant_whitelist(Activity.RECYCLING, date(2024, 9, 2), by=world.regulator)
    # 17:30 UTC on 1 September is 01:30 on 2 September in Beijing.
    _, handed_over = handover_event(world, world.informal_recycler, datetime(2024, 9, 1, 17, 30, tzinfo=UTC))
    assert handed_over.compliant is True


def test_a_whitelist_for_cascade_use_does_not_cover_recycling(world: World) -> None:
    both = register(
        world.regulator, credit_code("91430100MA4L00010"), "Hunan Both Ways", ["recycler", "cascade_user"]
    )
    both.grant_whitelist(Activity.CASCADE_USE, WHITELISTED_SINCE, by=world.regulator)
    _, handed_over = handover_event(world, both, cst(2024, 9, 1))
    assert handed_over.compliant is False
    assert "is not whitelisted for recycling" in handed_over.non_compliance


def test_a_handover_to_a_whitelisted_cascade_use_enterprise_is_compliant(world: World) -> None:
    battery = world.collected_battery()
    world.hand_over(battery, to=world.cascade_user, activity=Activity.CASCADE_USE)
    handed_over = battery.collect_events()[-1]
    assert (handed_over.activity, handed_over.compliant) == ("cascade_use", True)
    assert battery.handover_activity == "cascade_use"


# ============================================================================= packs of modules
def test_a_pack_is_made_of_modules_which_then_follow_the_pack(world: World) -> None:
    modules = [world.produce("M"), world.produce("M")]
    pack = world.produce("P", components=modules)
    for module in modules:
        module.assemble_into(pack)

    assert pack.components == [m.code for m in modules]
    for module in modules:
        assert module.state == State.ASSEMBLED
        assert module.pack == pack.code
        assert (module.holder_kind, module.holder_id) == ("pack", pack.code)
        _produced, assembled = module.collect_events()
        assert type(assembled).__name__ == "AssembledInto"
        assert (assembled.pack_code, assembled.actor_id) == (pack.code, world.manufacturer.id)
        with pytest.raises(LifecycleViolation) as caught:
            world.install(module)
        assert "is assembled: cannot install; it is part of a pack" in str(caught.value)

    world.install(pack)  # the pack itself lives on
    assert pack.state == State.INSTALLED


def test_cells_go_into_modules_and_modules_into_packs(world: World) -> None:
    cell = world.produce("C")
    module = world.produce("M", components=[cell])
    cell.assemble_into(module)
    pack = world.produce("P", components=[module])
    module.assemble_into(pack)
    assert (cell.pack, module.pack) == (module.code, pack.code)


@pytest.mark.parametrize(("outer", "inner"), [("P", "P"), ("M", "M"), ("M", "P"), ("C", "C")])
def test_a_battery_cannot_contain_one_of_its_own_level_or_higher(
    world: World, outer: str, inner: str
) -> None:
    component = world.produce(inner)
    with pytest.raises(InvalidInput, match="packs contain modules or cells, modules contain cells"):
        world.produce(outer, components=[component])


def test_a_component_cannot_be_listed_twice(world: World) -> None:
    module = world.produce("M")
    with pytest.raises(InvalidInput, match=f"component {module.code} is listed twice"):
        world.produce("P", components=[module, module])


def test_a_module_already_in_one_pack_cannot_go_into_another(world: World) -> None:
    module = world.produce("M")
    first = world.produce("P", components=[module])
    module.assemble_into(first)
    with pytest.raises(LifecycleViolation, match="is assembled: cannot assemble into a pack"):
        world.produce("P", components=[module])


def test_an_installed_module_cannot_be_built_into_a_pack(world: World) -> None:
    module = world.produce("M")
    world.install(module)
    with pytest.raises(LifecycleViolation, match="is installed: cannot assemble into a pack"):
        world.produce("P", components=[module])


# ================================================================================= second life
@pytest.fixture
def originals(world: World) -> list[Battery]:
    """Two retired packs, collected and handed over to the cascade-use enterprise."""
    packs = [world.collected_battery(), world.collected_battery()]
    for pack in packs:
        world.hand_over(pack, to=world.cascade_user, activity=Activity.CASCADE_USE)
        pack.collect_events()
    return packs


def test_a_second_life_product_is_made_from_handed_over_originals(
    world: World, originals: list[Battery]
) -> None:
    product = world.make_second_life_product(originals)

    assert product.manufacturer_id == world.cascade_user.id
    assert product.code.startswith("9CU")
    assert product.derived_from == [o.code for o in originals]
    assert product.is_second_life
    assert product.state == State.PRODUCED
    produced = product.collect_events()[0]
    assert produced.derived_from == [o.code for o in originals]
    for original in originals:
        assert original.state == State.CASCADE_REUSED
        assert original.second_life_product == product.code
        [reused] = original.collect_events()
        assert type(reused).__name__ == "CascadeReused"
        assert (reused.product_code, reused.enterprise_id) == (product.code, world.cascade_user.id)
        assert reused.occurred_at == product.last_occurred_at


def test_an_original_that_lives_on_in_a_product_cannot_be_recycled_on_its_own(
    world: World, originals: list[Battery]
) -> None:
    product = world.make_second_life_product(originals)
    for original in originals:
        original.collect_events()
        with pytest.raises(LifecycleViolation) as caught:
            world.recycle(original)
        message = str(caught.value)
        assert f"battery {original.code} is cascade-reused: cannot recycle" in message
        assert "it lives on in a second-life product; act on that product instead" in message
        assert product.code in message
        assert original.collect_events() == []


def test_the_second_life_product_is_installed_retired_collected_and_recycled(
    world: World, originals: list[Battery]
) -> None:
    product = world.make_second_life_product(originals)
    product.install(
        actor=world.cascade_user,
        site="Changsha base station 12",
        application="telecom backup",
        occurred_at=world.clock.now(),
    )
    assert (product.holder_kind, product.holder_id) == ("site", "Changsha base station 12")
    world.retire(product, actor=world.cascade_user)
    world.collect(product)
    world.hand_over(product, to=world.recycler)
    world.recycle(product)

    assert event_names(product) == [
        "Produced",
        "Installed",
        "Retired",
        "Collected",
        "HandedOver",
        "Recycled",
    ]
    assert product.state == State.RECYCLED
    assert all(o.state == State.CASCADE_REUSED for o in originals)  # they went with it


def test_only_the_products_maker_installs_it_at_a_site(world: World, originals: list[Battery]) -> None:
    product = world.make_second_life_product(originals)
    with pytest.raises(NotAuthorised, match="you do not hold it"):
        product.install(actor=world.vehicle_maker, site="somewhere", occurred_at=world.clock.now())


def test_only_a_cascade_use_enterprise_makes_second_life_products(
    world: World, originals: list[Battery]
) -> None:
    with pytest.raises(NotAuthorised, match="needs the role cascade_user"):
        Battery.produce(
            spec(world.code()),
            actor=world.manufacturer,
            code_owner_id=world.manufacturer.id,
            originals=originals,
            today=TODAY,
        )


def test_a_product_needs_originals_the_enterprise_holds(world: World) -> None:
    not_handed_over = world.collected_battery()
    code = world.code(maker="9CU", on=date(2024, 12, 1))
    with pytest.raises(LifecycleViolation, match="is collected: cannot cascade-reuse"):
        Battery.produce(
            spec(code),
            actor=world.cascade_user,
            code_owner_id=world.cascade_user.id,
            originals=[not_handed_over],
            today=TODAY,
        )
    at_a_recycler = world.collected_battery()
    world.hand_over(at_a_recycler, to=world.recycler)
    with pytest.raises(NotAuthorised, match="you do not hold it"):
        Battery.produce(
            spec(code),
            actor=world.cascade_user,
            code_owner_id=world.cascade_user.id,
            originals=[at_a_recycler],
            today=TODAY,
        )


def test_an_original_cannot_go_into_two_products(world: World, originals: list[Battery]) -> None:
    world.make_second_life_product(originals)
    with pytest.raises(LifecycleViolation, match="is cascade-reused: cannot cascade-reuse"):
        world.make_second_life_product(originals[:1])


# ==================================================================================== recycling
@pytest.fixture
def at_recycler(world: World) -> Battery:
    battery = world.collected_battery()
    world.hand_over(battery, to=world.recycler)
    battery.collect_events()
    return battery


@pytest.mark.parametrize("missing", ["Li", "Ni", "Co", "Mn"])
def test_recycling_requires_lithium_nickel_cobalt_and_manganese(
    world: World, at_recycler: Battery, missing: str
) -> None:
    recovered = {m: 1.0 for m in ("Li", "Ni", "Co", "Mn") if m != missing}
    with pytest.raises(InvalidInput) as caught:
        world.recycle(at_recycler, recovered_kg=recovered)
    assert "must include Li, Ni, Co, Mn" in str(caught.value)
    assert f"missing: {missing}" in str(caught.value)
    assert at_recycler.state == State.HANDED_OVER


def test_zero_is_reported_for_a_metal_the_chemistry_lacks(world: World, at_recycler: Battery) -> None:
    world.recycle(at_recycler, recovered_kg={"Li": 1.1, "Ni": 0, "Co": 0, "Mn": 0})
    assert at_recycler.recovered_kg == {"Li": 1.1, "Ni": 0.0, "Co": 0.0, "Mn": 0.0}


def test_recovered_materials_cannot_weigh_more_than_the_battery(world: World, at_recycler: Battery) -> None:
    with pytest.raises(InvalidInput) as caught:
        world.recycle(at_recycler, recovered_kg={"Li": 1, "Ni": 0, "Co": 0, "Mn": 0, "Fe": 99.5})
    assert "weigh 100.5 kg in all, more than the battery itself (100 kg)" in str(caught.value)
    world.recycle(at_recycler, recovered_kg={"Li": 1, "Ni": 0, "Co": 0, "Mn": 0, "Fe": 99})
    assert at_recycler.state == State.RECYCLED


@pytest.mark.parametrize("mass", [-0.1, float("nan"), float("inf"), "a lot", None])
def test_a_recovered_mass_must_be_a_number_of_kilograms(
    world: World, at_recycler: Battery, mass: object
) -> None:
    with pytest.raises(InvalidInput, match="recovered Li must be"):
        world.recycle(at_recycler, recovered_kg={"Li": mass, "Ni": 0, "Co": 0, "Mn": 0})


# =========================================================================== production data
def test_a_declared_level_chemistry_and_date_that_agree_with_the_code_are_accepted(
    world: World,
) -> None:
    for chemistry in ("B", "b", "lithium iron phosphate", " Lithium Iron Phosphate "):
        battery = world.produce(level=" Pack ", chemistry=chemistry, production_date=MADE_ON)
        assert (battery.level, battery.chemistry) == ("pack", "lithium iron phosphate")
        assert battery.production_date == "2024-07-15"


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"level": "module"}, "level 'module' does not match code"),
        ({"chemistry": "ternary (NCM/NCA)"}, "chemistry 'ternary (NCM/NCA)' does not match code"),
        ({"chemistry": "E"}, "whose battery type B means lithium iron phosphate"),
        ({"production_date": date(2024, 7, 16)}, "production date 2024-07-16 does not match"),
        ({"occurred_at": cst(2024, 7, 16, 0)}, "is not on the code's production date 2024-07-15"),
        ({"occurred_at": datetime(2024, 7, 15, 16, 30, tzinfo=UTC)}, "not on the code's"),
    ],
)
def test_production_data_that_contradicts_the_code_is_refused(
    world: World, override: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidInput, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        world.produce(**override)


def test_a_production_time_during_the_day_of_the_code_is_kept(world: World) -> None:
    battery = world.produce(occurred_at=datetime(2024, 7, 15, 14, 30))
    assert battery.last_occurred_at == cst(2024, 7, 15, 14).replace(minute=30)


@pytest.mark.parametrize("energy", [0.5, 12.0, 18.8, 15360])
def test_energy_that_does_not_match_capacity_times_voltage_is_refused(world: World, energy: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        world.produce(energy_kwh=energy)
    message = str(caught.value)
    assert "does not match rated capacity × nominal voltage" in message
    assert "150 Ah × 102.4 V = 15.360 kWh" in message
    assert "check the units" in message


@pytest.mark.parametrize("energy", [12.5, 15.36, 18.4])
def test_energy_within_twenty_percent_of_capacity_times_voltage_is_accepted(
    world: World, energy: float
) -> None:
    assert world.produce(energy_kwh=energy).energy_kwh == energy


@pytest.mark.parametrize("field_name", ["rated_capacity_ah", "nominal_voltage_v", "energy_kwh", "mass_kg"])
@pytest.mark.parametrize("value", [0, -1, float("nan"), "heavy"])
def test_measurements_must_be_positive_numbers(world: World, field_name: str, value: object) -> None:
    with pytest.raises(InvalidInput, match=field_name):
        world.produce(**{field_name: value})


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("rated_capacity_ah", 1e308),
        ("nominal_voltage_v", 20_000),
        ("energy_kwh", 150_000),
        ("mass_kg", float("inf")),
        ("mass_kg", 2_000_000),
    ],
)
def test_measurements_beyond_any_real_battery_are_refused(
    world: World, field_name: str, value: float
) -> None:
    """Capacity × voltage of 1e308 × 1e308 once overflowed to inf and passed the energy check."""
    with pytest.raises(InvalidInput, match=field_name):
        world.produce(**{field_name: value})


def test_a_battery_dated_after_today_cannot_be_produced(world: World) -> None:
    code = world.code(on=date(2024, 7, 16))
    with pytest.raises(InvalidBatteryCode, match="in the future"):
        Battery.produce(
            spec(code),
            actor=world.manufacturer,
            code_owner_id=world.manufacturer.id,
            today=date(2024, 7, 15),
        )


# ==================================================================== inputs to other commands
@pytest.mark.parametrize(
    "vin", ["LSVAU2180N218329", "LSVAU2180N2183294X", "LSVAU2180N218329I", "LSVAU2180N21832ß"]
)
def test_a_malformed_vin_is_refused(world: World, vin: str) -> None:
    battery = world.produce()
    with pytest.raises(InvalidInput, match="must be 17 characters"):
        battery.install(actor=world.vehicle_maker, vin=vin, occurred_at=world.clock.now())


def test_a_vin_is_normalised(world: World) -> None:
    battery = world.produce()
    world.deliver(battery)
    battery.install(actor=world.vehicle_maker, vin=f" {VIN.lower()} ", occurred_at=world.clock.now())
    assert battery.vin == VIN


def test_an_installation_is_in_a_vehicle_or_at_a_site_not_both(world: World) -> None:
    battery = world.produce()
    with pytest.raises(InvalidInput, match="either a VIN"):
        battery.install(actor=world.vehicle_maker, vin=VIN, site="depot", occurred_at=world.clock.now())
    with pytest.raises(InvalidInput, match="either a VIN"):
        battery.install(actor=world.vehicle_maker, occurred_at=world.clock.now())


def test_a_removal_is_for_repair_or_replacement(world: World) -> None:
    battery = world.produce()
    world.install(battery)
    with pytest.raises(InvalidInput, match="must be repair or replacement"):
        battery.remove(actor=world.vehicle_maker, occurred_at=world.clock.now(), reason="theft")
    battery.remove(actor=world.vehicle_maker, occurred_at=world.clock.now(), reason="replacement")


def test_a_retirement_needs_a_reason_and_a_plausible_state_of_health(world: World) -> None:
    battery = world.produce()
    world.install(battery)
    with pytest.raises(InvalidInput, match="give a retirement reason"):
        battery.retire(actor=world.vehicle_maker, occurred_at=world.clock.now(), reason="  ")
    with pytest.raises(InvalidInput, match="state of health 120"):
        battery.retire(
            actor=world.vehicle_maker,
            occurred_at=world.clock.now(),
            reason="worn",
            state_of_health_pct=120,
        )


def test_a_collection_records_the_weighed_mass_and_condition(world: World) -> None:
    battery = world.retired_battery()
    world.collect(battery, mass_kg=98.5, condition="swollen", scanned_by="clerk-7")
    collected = battery.collect_events()[-1]
    assert (collected.mass_kg, collected.condition, collected.scanned_by) == (
        98.5,
        "swollen",
        "clerk-7",
    )
    with pytest.raises(InvalidInput, match="mass_kg"):
        world.collect(world.retired_battery(), mass_kg=0)


@pytest.mark.parametrize("point_id", ["CP-ß", "cp-\u0131", "XX-1", "CP-"])
def test_a_malformed_collection_point_id_is_refused(point_id: str) -> None:
    with pytest.raises(InvalidInput, match="must start with 'CP-'"):
        parse_collection_point_id(point_id)


def test_a_collection_point_id_is_upper_cased() -> None:
    assert parse_collection_point_id(" cp-110105-0001 ") == "CP-110105-0001"


# ====================================================================== rules added after review
def test_a_request_id_reused_for_another_action_is_refused(world: World) -> None:
    battery = world.retired_battery()
    world.collect(battery, request_id="req-1")
    with pytest.raises(InvalidInput, match="already used to collect"):
        world.hand_over(battery, to=world.recycler, request_id="req-1")


def test_an_outlet_cannot_take_in_a_battery_a_receiver_holds(world: World) -> None:
    battery = world.collected_battery()
    world.hand_over(battery, to=world.recycler)
    with pytest.raises(NotAuthorised, match="you do not hold it"):
        battery.collect(
            actor=world.outlet_operator, collection_point=world.outlet, occurred_at=world.clock.now()
        )


def test_a_battery_received_for_recycling_is_not_cascade_reused(world: World) -> None:
    battery = world.collected_battery()
    with pytest.raises(NotAuthorised, match="needs the role recycler"):
        world.hand_over(battery, to=world.cascade_user, activity=Activity.RECYCLING)


def test_a_battery_received_for_cascade_use_is_not_recycled_before_it_is_handed_on(
    world: World,
) -> None:
    both = register(
        world.regulator, credit_code("91360700MA3500009"), "Dual Use Co.", ["recycler", "cascade_user"]
    )
    both.grant_whitelist(Activity.CASCADE_USE, WHITELISTED_SINCE, by=world.regulator)
    battery = world.collected_battery()
    battery.hand_over(
        actor=world.outlet_operator,
        receiver=both,
        activity=Activity.CASCADE_USE,
        occurred_at=world.clock.now(),
    )
    with pytest.raises(LifecycleViolation, match="handed over for cascade_use"):
        battery.recycle(actor=both, occurred_at=world.clock.now(), recovered_kg=LFP_RECOVERY)


def test_a_second_life_product_cannot_predate_its_originals(world: World) -> None:
    original = world.collected_battery()
    world.hand_over(original, to=world.cascade_user, activity=Activity.CASCADE_USE)
    earlier = original.last_occurred_at - timedelta(days=30)
    code = world.code("P", "B", maker="9CU", on=earlier.astimezone(CHINA_STANDARD_TIME).date())
    with pytest.raises(ChronologyViolation, match="cannot be made before its parts"):
        Battery.produce(
            spec(code, occurred_at=earlier),
            actor=world.cascade_user,
            code_owner_id=world.cascade_user.id,
            originals=[original],
            today=TODAY,
        )


def test_a_declared_chemistry_may_be_its_common_abbreviation(world: World) -> None:
    code = world.code("P", "B")
    battery = Battery.produce(
        spec(code, chemistry="LFP"),
        actor=world.manufacturer,
        code_owner_id=world.manufacturer.id,
        today=TODAY,
    )
    assert battery.battery_type == "B"
    with pytest.raises(InvalidInput, match="does not match"):
        Battery.produce(
            spec(world.code("P", "B"), chemistry="NCM"),
            actor=world.manufacturer,
            code_owner_id=world.manufacturer.id,
            today=TODAY,
        )


# ============================================================== custody: who may take a battery
def test_a_vehicle_maker_cannot_install_a_battery_not_delivered_to_it(world: World) -> None:
    battery = world.produce()
    with pytest.raises(NotAuthorised, match="has not been delivered to you") as caught:
        battery.install(actor=world.vehicle_maker, vin=VIN, occurred_at=world.clock.now())
    assert world.manufacturer.id not in caught.value.message
    assert battery.state == State.PRODUCED and battery.collect_events()[1:] == []


def test_a_delivery_passes_custody_to_the_vehicle_maker(world: World) -> None:
    battery = world.produce()
    world.deliver(battery)
    assert (battery.state, battery.responsible_id) == (State.PRODUCED, world.vehicle_maker.id)
    # the maker no longer holds it; a second identical delivery is a conflict, not a refusal
    with pytest.raises(LifecycleViolation, match="you have just done so"):
        battery.deliver(actor=world.manufacturer, receiver=world.vehicle_maker, occurred_at=world.clock.now())
    with pytest.raises(NotAuthorised, match="you do not hold it"):
        battery.retire(actor=world.manufacturer, reason="recall", occurred_at=world.clock.now())
    battery.install(actor=world.vehicle_maker, vin=VIN, occurred_at=world.clock.now())
    assert battery.state == State.INSTALLED


def test_only_a_vehicle_maker_receives_a_delivery(world: World) -> None:
    battery = world.produce()
    with pytest.raises(NotAuthorised, match="needs the role vehicle_maker"):
        battery.deliver(actor=world.manufacturer, receiver=world.recycler, occurred_at=world.clock.now())


def test_only_the_holder_delivers(world: World) -> None:
    battery = world.produce()
    with pytest.raises(NotAuthorised, match="you do not hold it"):
        battery.deliver(
            actor=world.other_manufacturer, receiver=world.vehicle_maker, occurred_at=world.clock.now()
        )


def test_a_manufacturer_that_makes_vehicles_installs_its_own_batteries(world: World) -> None:
    automaker = register(
        world.regulator,
        credit_code("91440300MA5F00019"),
        "BYD-like Automaker",
        ["manufacturer", "vehicle_maker"],
        ["3CA"],
    )
    code = world.code()
    battery = Battery.produce(spec(code), actor=automaker, code_owner_id=automaker.id, today=TODAY)
    battery.install(actor=automaker, vin=VIN, occurred_at=world.clock.now())
    assert battery.state == State.INSTALLED


def test_a_dismantler_retires_an_installed_battery_only_after_the_vehicles_scrapping(world: World) -> None:
    battery = world.produce()
    world.install(battery)
    with pytest.raises(NotAuthorised, match="record the vehicle's scrapping first") as refused:
        battery.retire(actor=world.dismantler, reason="vehicle scrapped", occurred_at=world.clock.now())
    assert refused.value.message_key == "battery.scrapping_not_recorded"
    assert VIN not in refused.value.message and world.vehicle_maker.id not in refused.value.message
    world.scrap(battery)
    battery.retire(actor=world.dismantler, reason="vehicle scrapped", occurred_at=world.clock.now())
    (retired,) = [e for e in battery.collect_events() if type(e).__name__ == "Retired"]
    assert retired.custody_unverified is False
    assert battery.flags == []


def test_the_holders_own_retirement_is_not_flagged(world: World) -> None:
    battery = world.produce()
    world.install(battery)
    world.retire(battery)
    (retired,) = [e for e in battery.collect_events() if type(e).__name__ == "Retired"]
    assert retired.custody_unverified is False
    assert battery.flags == []


def test_another_participants_request_id_is_a_new_request_that_is_authorised(world: World) -> None:
    battery = world.retired_battery()
    world.collect(battery, request_id="scan-1")
    # The same id from a stranger is neither a replay nor a hint that the id exists: its request
    # is checked like any other (and refused: it does not hold the battery).
    with pytest.raises(NotAuthorised, match="you do not hold it"):
        world.hand_over(battery, actor=world.vehicle_maker, request_id="scan-1")
    with pytest.raises(InvalidInput, match="already used to collect"):  # the owner's own misuse
        world.hand_over(battery, actor=world.outlet_operator, request_id="scan-1")
