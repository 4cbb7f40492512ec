"""What registration says about the outlet conditions and division codes, through the API and the
CLI: a collection-type outlet above about 5 t is recorded with a warning the registering person
sees (API field ``warning``, CLI ``warning: …`` on stderr), ``--capacity-kg``'s help says what
central storage needs, and a participant's seat must be a listed division.
"""

from __future__ import annotations

from tests.e2e import test_point_rules
from tests.e2e.test_api_writes import problem_of
from tests.e2e.test_cli import Cli
from tests.e2e.test_point_rules import CAST, NO_SUCH_COUNTY, outlet, register
from tests.utils.api import Api
from tests.utils.cast import credit_code

OVER_5_T = (
    "a collection-type outlet stores in principle at most about 5 t; capacity_kg 8000 is recorded as given"
)


def test_the_api_answers_a_warning_with_a_collection_outlet_above_5_t_and_none_otherwise(api: Api) -> None:
    large = register(api, outlet("CP-440305-0201", kind="collection", capacity_kg=8000))
    assert large.status_code == 201, large.text
    assert large.json()["warning"].startswith(OVER_5_T)
    assert "register a central storage point (≥ 30000 kg)" in large.json()["warning"]

    usual = register(api, outlet("CP-440305-0202", kind="collection", capacity_kg=5000))
    assert usual.status_code == 201, usual.text
    assert usual.json()["warning"] is None
    central = register(api, outlet("CP-440305-0203", kind="central_storage", capacity_kg=40000))
    assert central.json()["warning"] is None


def test_the_api_refuses_a_participant_seated_in_a_county_that_does_not_exist(api: Api) -> None:
    body = {
        "credit_code": credit_code("91440300MA5F00099"),
        "name": "Nanshan Recycling",
        "roles": ["recycler"],
    }
    refused = api.client.post(
        "/api/v1/participants", json={**body, "division_code": "440399"}, headers=api.auth("regulator")
    )
    problem_of(refused, 422, NO_SUCH_COUNTY)
    accepted = api.client.post(
        "/api/v1/participants", json={**body, "division_code": "440305"}, headers=api.auth("regulator")
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["participant"]["division_code"] == "440305"


cli = test_point_rules.cli  # a store with a regulator and a vehicle maker that runs outlets


def test_the_cli_prints_the_capacity_warning_and_its_help_says_what_central_storage_needs(cli: Cli) -> None:
    add = ("collection-points", "add", "--operator", CAST.vehicle_maker, "--name", "Nanshan outlet",
           "--division", "440305", "--as", CAST.regulator)  # fmt: skip
    large = cli.ok(*add[:2], "CP-440305-0001", *add[2:], "--capacity-kg", "8000")
    assert large.stderr.startswith(f"warning: {OVER_5_T}")
    usual = cli.ok(*add[:2], "CP-440305-0002", *add[2:], "--capacity-kg", "4000")
    assert "warning" not in usual.stderr

    helped = cli.ok("collection-points", "add", "--help").stdout
    assert "≥ 30000 for central_storage" in " ".join(helped.split())
