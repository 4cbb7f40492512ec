"""The passport status from a battery's history, without a store: Original through repairs and
swaps, Reused once installed in another vehicle after a removal, Waste once retired, Repurposed
for a second-life product and its originals, ended after recycling (``events/passport_status.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from batterytrace.events.battery import Battery
from batterytrace.events.custody import event_kind, state_after
from batterytrace.events.lifecycle import State
from batterytrace.events.passport_status import (
    ORIGINAL,
    REPURPOSED,
    REUSED,
    WASTE,
    first_life_use,
    passport_status,
)
from tests.utils.batterypass import schema

VIN_A = "LSVAU2180N2183294"
VIN_B = "LFV2A21K0R3000123"


def step(event: type, **facts: Any) -> tuple[str, dict[str, Any]]:
    """One event as the rule reads it; the class, not a string, so that a renamed event fails here."""
    return event_kind(event), {"actor_id": "91110000600037341L", **facts}


MADE = [step(Battery.Produced), step(Battery.Delivered)]
IN_A = step(Battery.Installed, vin=VIN_A)
IN_B = step(Battery.Installed, vin=VIN_B)
# taken out of vehicle A and installed in vehicle B
MOVED = [*MADE, IN_A, step(Battery.Removed, reason="replacement"), IN_B]


def status(events: list[tuple[str, dict[str, Any]]], *, second_life: bool = False) -> str | None:
    """The status the passport shows after ``events`` (the state from the last one)."""
    state = state_after(events[-1][0])
    return passport_status(state, second_life=second_life, use=first_life_use(events))


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (MADE, ORIGINAL),
        ([*MADE, IN_A], ORIGINAL),
        ([*MADE, IN_A, step(Battery.Removed, reason="repair")], ORIGINAL),
        # repaired and put back into the same vehicle: a repair, not a new use
        ([*MADE, IN_A, step(Battery.Removed, reason="repair"), IN_A], ORIGINAL),
        (MOVED, REUSED),
        # once reused, it stays so through later repairs
        ([*MOVED, step(Battery.Removed, reason="repair"), IN_B], REUSED),
        ([*MOVED, step(Battery.Removed, reason="repair")], REUSED),
        # swapping between vehicles is the use a swap operator's battery is conceived for
        (
            [
                *MADE,
                step(Battery.SwappedIn, vin=VIN_A, operator_id="S"),
                step(Battery.SwappedOut, station="ST-1", operator_id="S"),
                step(Battery.SwappedIn, vin=VIN_B, operator_id="S"),
            ],
            ORIGINAL,
        ),
        ([*MADE, IN_A, step(Battery.VehicleScrapped, vin=VIN_A, dismantler_id="D")], ORIGINAL),
        ([*MADE, IN_A, step(Battery.Retired, reason="old")], WASTE),
        # reused, then retired: its life has ended all the same
        ([*MOVED, step(Battery.Retired, reason="old")], WASTE),
        ([*MADE, IN_A, step(Battery.Retired, reason="old"), step(Battery.Collected)], WASTE),
        ([*MADE, IN_A, step(Battery.Retired, reason="old"), step(Battery.HandedOver)], WASTE),
        ([*MADE, IN_A, step(Battery.Retired, reason="old"), step(Battery.CascadeReused)], REPURPOSED),
        ([*MADE, IN_A, step(Battery.Retired, reason="old"), step(Battery.Recycled)], None),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_the_status_after_a_history(events: list[tuple[str, dict[str, Any]]], expected: str | None) -> None:
    assert status(events) == expected


def test_a_second_life_product_is_repurposed_wherever_it_is_used_until_it_retires() -> None:
    at_site = [step(Battery.Produced), step(Battery.Installed, site="Changsha base station 17")]
    moved = [*at_site, step(Battery.Removed, reason="repair"), step(Battery.Installed, site="Wuhan 3")]
    assert status(at_site, second_life=True) == REPURPOSED
    assert status(moved, second_life=True) == REPURPOSED
    assert status([*moved, step(Battery.Retired, reason="old")], second_life=True) == WASTE


def test_a_removal_from_a_site_then_a_vehicle_is_no_reuse_of_a_vehicle_battery() -> None:
    """Only a vehicle it was taken out of counts: a battery that was at a site has no VIN to differ from."""
    events = [*MADE, step(Battery.Installed, site="S"), step(Battery.Removed, reason="repair"), IN_A]
    assert first_life_use(events) == ORIGINAL


def test_every_status_given_is_one_the_battery_pass_schema_allows() -> None:
    allowed = schema("GeneralProductInformation")["components"]["schemas"]["BatteryStatusEnumeration"]["enum"]
    given = {
        passport_status(state, second_life=second_life, use=use)
        for state in State
        if state != State.ASSEMBLED
        for second_life in (False, True)
        for use in (ORIGINAL, REUSED)
    }
    assert given - {None} <= set(allowed)
    assert given == {ORIGINAL, REUSED, REPURPOSED, WASTE, None}
