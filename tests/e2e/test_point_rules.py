"""Issue 11, item 5, where people register outlets: the HTTP API (both stores) and the CLI (SQLite)
refuse a central storage point under 30 t and a county code that does not exist, and say the rule
and how to fix it; a collection-type outlet above 5 t is registered all the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_api_writes import problem_of
from tests.e2e.test_cli import Cli
from tests.utils.api import Api
from tests.utils.cast import NationalCast

CAST = NationalCast()
CENTRAL_STORAGE_RULE = (
    "a central storage point stores at least 30 t; give capacity_kg ≥ 30000 or register a "
    "collection-type point"
)
NO_SUCH_COUNTY = "unknown county-level division '440399': no county or district of 深圳市 (440300)"


def outlet(point_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "point_id": point_id,
        "operator_id": CAST.vehicle_maker,
        "name": "Nanshan service outlet",
        "division_code": "440305",
        "address": "8 Keji Road, Nanshan, Shenzhen",
        **overrides,
    }


def register(api: Api, body: dict[str, Any]) -> Any:
    return api.client.post("/api/v1/collection-points", json=body, headers=api.auth("regulator"))


def test_the_api_refuses_a_1_t_central_storage_point_saying_the_rule(api: Api) -> None:
    refused = register(api, outlet("CP-440305-0101", kind="central_storage", capacity_kg=1000))
    problem_of(refused, 422, CENTRAL_STORAGE_RULE, "got capacity_kg 1000")
    # Nothing was stored: the same id registers once its capacity fits the kind.
    fixed = register(api, outlet("CP-440305-0101", kind="central_storage", capacity_kg=30000))
    assert fixed.status_code == 201, fixed.text


def test_the_api_refuses_a_county_that_does_not_exist_and_accepts_nanshan(api: Api) -> None:
    problem_of(register(api, outlet("CP-440399-0001", division_code="440399")), 422, NO_SUCH_COUNTY)
    accepted = register(api, outlet("CP-440305-0102"))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["collection_point"]["division_code"] == "440305"


def test_the_api_registers_a_collection_outlet_above_5_t(api: Api) -> None:
    """ "In principle at most 5 t" is a guideline: the outlet is recorded as declared."""
    accepted = register(api, outlet("CP-440305-0103", kind="collection", capacity_kg=8000))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["collection_point"]["capacity_kg"] == 8000


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cli = Cli(f"sqlite:///{tmp_path / 'batterytrace.db'}", tmp_path)
    cli.ok("init")
    cli.ok("participants", "add", CAST.regulator, "--name", "MIIT traceability", "--role", "regulator")
    cli.ok(
        "participants", "add", CAST.vehicle_maker, "--name", "Shenzhen Motors",
        "--role", "vehicle_maker", "--role", "outlet_operator", "--as", CAST.regulator,
    )  # fmt: skip
    return cli


def test_the_cli_refuses_central_storage_at_the_default_capacity_and_an_unknown_county(cli: Cli) -> None:
    add = ("collection-points", "add", "CP-440305-0001", "--operator", CAST.vehicle_maker,
           "--name", "Nanshan central storage", "--as", CAST.regulator)  # fmt: skip
    # --capacity-kg defaults to 5000, a collection-type outlet's size.
    refused = cli.refused(*add, "--division", "440305", "--kind", "central_storage")
    assert refused == f"error: {CENTRAL_STORAGE_RULE} (got capacity_kg 5000)"
    assert cli.refused(*add, "--division", "440399").startswith(f"error: {NO_SUCH_COUNTY}")
    cli.ok(*add, "--division", "440305", "--kind", "central_storage", "--capacity-kg", "30000")
