"""Lifecycle commands are values, and every one of them has exactly one handler
(``events/commands.py``, ``trace/battery_commands.py``)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from batterytrace.events.commands import (
    Collect,
    Command,
    Deliver,
    HandOver,
    Install,
    Recycle,
    Remove,
    Reporting,
    Retire,
    ScrapVehicle,
    Swap,
    VehicleCommand,
)
from batterytrace.trace.battery_commands import HANDLERS, handler_for

VIN = "LSVAU2180N2183294"
EXAMPLES: list[Command | VehicleCommand] = [
    Deliver(actor_id="M", code="C", receiver_id="V"),
    Install(actor_id="V", code="C", vin="LSVAU2180N2183294"),
    Remove(actor_id="V", code="C", reason="repair"),
    Retire(actor_id="V", code="C", reason="worn", state_of_health_pct=78.5),
    Collect(actor_id="O", code="C", collection_point_id="CP-110105-0001"),
    HandOver(actor_id="O", code="C", receiver_id="R", activity="recycling"),
    Recycle(actor_id="R", code="C", recovered_kg={"Li": 1.0, "Ni": 0.0, "Co": 0.0, "Mn": 0.0}),
    Swap(actor_id="S", vin=VIN, removed_code="C1", installed_code="C2", station="S1", division_code="440304"),
    ScrapVehicle(actor_id="D", vin=VIN, codes=("C1", "C2")),
]


def command_classes(base: type = Command) -> set[type]:
    found: set[type] = set()
    for sub in base.__subclasses__():
        found |= {sub, *command_classes(sub)}
    return found


def test_every_command_class_has_exactly_one_handler() -> None:
    assert set(HANDLERS) == command_classes() | command_classes(VehicleCommand)
    assert {type(example) for example in EXAMPLES} == command_classes() | command_classes(VehicleCommand)


def test_a_command_names_the_batteries_it_acts_on_in_order() -> None:
    """``execute`` loads and saves exactly these, together."""
    assert [example.battery_codes for example in EXAMPLES[-3:]] == [("C",), ("C1", "C2"), ("C1", "C2")]


def test_a_command_without_a_handler_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="no handler for Command"):
        handler_for(Command(actor_id="S", code="C"))


@pytest.mark.parametrize("command", EXAMPLES, ids=lambda c: type(c).__name__)
def test_commands_are_frozen_values(command: Command | VehicleCommand) -> None:
    for field in dataclasses.fields(command):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(command, field.name, None)
    assert command == dataclasses.replace(command)
    assert command.reporting == Reporting(occurred_at=None, request_id=None, late_correction=False)


def test_reporting_is_one_value_for_every_command() -> None:
    when = datetime(2026, 5, 20, 2, 0, tzinfo=UTC)
    reporting = Reporting(occurred_at=when, request_id="req-1", late_correction=True)
    retire = Retire(actor_id="V", code="C", reason="worn", reporting=reporting)
    assert retire.reporting is reporting
    with pytest.raises(dataclasses.FrozenInstanceError):
        reporting.late_correction = False  # type: ignore[misc]


def test_commands_take_keywords_only() -> None:
    arguments: tuple[Any, ...] = ("V", "C", "worn")
    with pytest.raises(TypeError):
        Retire(*arguments)  # type: ignore[misc]
