"""``batterytrace swap`` and ``batterytrace scrap`` as users run them (the console script in a
child process, on a fresh SQLite file): a swap operator swaps a vehicle's battery, a dismantler
takes the scrapped vehicle in and then retires the battery. Refusals are one line on stderr."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from batterytrace.events.battery_code import make_battery_code
from tests.e2e.test_cli import PACK_OPTIONS, VIN, Cli, Result
from tests.utils.cast import NationalCast

CAST = NationalCast()
SOLD_WITH = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), 1)
CHARGED = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), 2)
OTHER_VIN = "LGWEF6A52MH000001"
BY_DISMANTLER = ("--at", "2026-05-20", "--as", CAST.dismantler)
SWAP = ("--vin", VIN, "--out", SOLD_WITH, "--in", CHARGED, "--station", "Futian 03", "--division", "440304")


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result | str]:
    folder: Path = tmp_path_factory.mktemp("cli-vehicles")
    cli = Cli(f"sqlite:///{folder / 'batterytrace.db'}", folder)
    cli.ok("participants", "add", CAST.regulator, "--name", "MIIT traceability", "--role", "regulator")
    for code, name, role, extra in (
        (CAST.manufacturer, "Ningde Cells Co.", "manufacturer", ("--manufacturer-code", "3CA")),
        (CAST.vehicle_maker, "Shenzhen Motors", "vehicle_maker", ()),
        (CAST.swap_operator, "Yihuan Energy", "swap_operator", ()),
        (CAST.dismantler, "Suzhou ELV Dismantling", "dismantler", ()),
    ):
        cli.ok("participants", "add", code, "--name", name, "--role", role, *extra, "--as", CAST.regulator)
    for code in (SOLD_WITH, CHARGED):
        cli.ok("produce", code, *PACK_OPTIONS, "--as", CAST.manufacturer)
    cli.ok("deliver", SOLD_WITH, "--to", CAST.vehicle_maker, "--at", "2024-07-25", "--as", CAST.manufacturer)
    cli.ok("deliver", CHARGED, "--to", CAST.swap_operator, "--at", "2024-07-25", "--as", CAST.manufacturer)
    cli.ok("install", SOLD_WITH, "--vin", VIN, "--at", "2024-08-01", "--as", CAST.vehicle_maker)
    seen: dict[str, Result | str] = {
        "swap by a dismantler": cli.refused("swap", *SWAP, "--as", CAST.dismantler),
        "swap": cli.ok(
            "swap", *SWAP, "--at", "2025-03-01T09:30", "--request-id", "s-1", "--as", CAST.swap_operator
        ),
        "swap again": cli.ok(
            "swap", *SWAP, "--at", "2025-03-01T09:30", "--request-id", "s-1", "--as", CAST.swap_operator
        ),
        "early retirement": cli.refused(
            "retire", CHARGED, "--reason", "vehicle scrapped", "--at", "2026-05-20", "--as", CAST.dismantler
        ),
        "scrap another vehicle": cli.refused("scrap", "--vin", OTHER_VIN, "--code", CHARGED, *BY_DISMANTLER),
        "scrap": cli.ok(
            "scrap", "--vin", VIN, "--code", CHARGED, "--scrapped-on", "2026-05-18", *BY_DISMANTLER
        ),
        "retirement": cli.ok(
            "retire", CHARGED, "--reason", "vehicle scrapped", "--at", "2026-05-21", "--as", CAST.dismantler
        ),
        "bad scrapping date": cli.refused(
            "scrap", "--vin", VIN, "--code", SOLD_WITH, "--scrapped-on", "18/05/2026", "--as", CAST.dismantler
        ),
    }
    return seen


def test_a_swap_records_one_battery_out_and_one_in(story: dict[str, Result | str]) -> None:
    printed = str(story["swap"])
    assert f"swapped {SOLD_WITH} out, {CHARGED} in" in printed
    assert "recorded SwappedOut, SwappedIn" in printed


def test_a_repeated_swap_request_is_answered_not_recorded_again(story: dict[str, Result | str]) -> None:
    assert "already recorded" in str(story["swap again"])


def test_only_a_swap_operator_swaps(story: dict[str, Result | str]) -> None:
    assert "needs the role swap_operator" in str(story["swap by a dismantler"])


def test_a_dismantler_retires_a_battery_only_after_taking_its_vehicle_in(
    story: dict[str, Result | str],
) -> None:
    assert "record the vehicle's scrapping first" in str(story["early retirement"])
    assert "not installed in the vehicle you named" in str(story["scrap another vehicle"])
    assert VIN not in str(story["scrap another vehicle"]).replace(OTHER_VIN, "")
    assert "recorded VehicleScrapped" in str(story["scrap"])
    assert "recorded Retired" in str(story["retirement"])


def test_a_scrapping_date_is_a_date(story: dict[str, Result | str]) -> None:
    assert "--scrapped-on '18/05/2026' is not a date" in str(story["bad scrapping date"])
