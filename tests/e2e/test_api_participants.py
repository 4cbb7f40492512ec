"""Managing who takes part, through HTTP: a regulator registers an enterprise (its new key works at
once), issues and revokes keys (a revoked key is refused on the very next request), grants and
revokes whitelist status (which decides whether a later handover is compliant), and registers
collection points; everyone else is refused. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Collect, Deliver, HandOver, Install, Retire
from tests.utils.api import Api
from tests.utils.cast import credit_code

NEW_RECYCLER = credit_code("91510100MA6C00011")
NEW_OPERATOR = credit_code("91310115MA1H00012")
VIN = "LSVAU2180N2183294"


def post(api: Api, path: str, member: str | None, body: Any = None, *, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else api.auth(member)
    return api.client.post(path, json=body, headers=headers)


def get(api: Api, path: str, member: str | None = None, *, token: str | None = None, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else api.auth(member)
    return api.client.get(path, params=params, headers=headers)


def registration(code: str = NEW_RECYCLER, **overrides: Any) -> dict[str, Any]:
    return {"credit_code": code, "name": "Chengdu Recycling", "roles": ["recycler"], **overrides}


def collected_pack(api: Api, serial: int) -> str:
    """A pack retired and taken in at the Beijing outlet, ready to be handed over."""
    service, cast = api.service, api.cast
    code = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), serial)
    spec = ProductionSpec(code=code, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110)
    service.produce(actor_id=cast.manufacturer, spec=spec)
    service.execute(Deliver(actor_id=cast.manufacturer, code=code, receiver_id=cast.vehicle_maker))
    service.execute(Install(actor_id=cast.vehicle_maker, code=code, vin=VIN))
    service.execute(Retire(actor_id=cast.vehicle_maker, code=code, reason="worn"))
    service.execute(
        Collect(actor_id=cast.outlet_operator, code=code, collection_point_id=cast.collection_point)
    )
    return code


def hand_over(api: Api, code: str, receiver: str) -> int:
    result = api.service.execute(
        HandOver(actor_id=api.cast.outlet_operator, code=code, receiver_id=receiver, activity="recycling")
    )
    assert result.notification_id
    return result.notification_id


# ------------------------------------------------------------------------------- registering
def test_a_regulator_registers_an_enterprise_whose_new_key_works_at_once(api: Api) -> None:
    response = post(api, "/api/v1/participants", "regulator", registration(division_code="510100"))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["participant"] == {
        "credit_code": NEW_RECYCLER,
        "name": "Chengdu Recycling",
        "name_en": None,
        "roles": ["recycler"],
        "manufacturer_codes": [],
        "division_code": "510100",
        "whitelist": [],
        "check_override": False,
    }
    assert answer["notification_id"] and answer["events"] == [f"{NEW_RECYCLER}:Registered"]
    key = answer["api_key"]
    assert key["participant_id"] == NEW_RECYCLER and key["token"].startswith(f"bt_{key['key_id']}_")
    itself = get(api, f"/api/v1/participants/{NEW_RECYCLER}", token=key["token"])
    assert itself.status_code == 200, itself.text
    assert itself.json()["credit_code"] == NEW_RECYCLER
    listed = get(api, "/api/v1/participants", "regulator", role="recycler").json()
    assert NEW_RECYCLER in [p["credit_code"] for p in listed["items"]]
    assert {r for p in listed["items"] for r in p["roles"]} == {"recycler"}
    everyone = get(api, "/api/v1/participants", "regulator").json()
    assert everyone["count"] == 10  # the cast of nine, and the new one
    assert get(api, "/api/v1/participants", "regulator", limit=3, offset=9).json()["count"] == 1


def test_a_manufacturer_is_registered_with_its_codes_and_without_a_key_when_asked(api: Api) -> None:
    maker = credit_code("91350900MA2YE0013")
    body = {"credit_code": maker, "name": "Fujian Cells", "roles": ["manufacturer"]}
    response = post(
        api, "/api/v1/participants", "regulator", {**body, "manufacturer_codes": ["7ab"], "issue_key": False}
    )
    assert response.status_code == 201, response.text
    assert response.json()["api_key"] is None
    assert response.json()["participant"]["manufacturer_codes"] == ["7AB"]
    taken = post(
        api,
        "/api/v1/participants",
        "regulator",
        {**body, "credit_code": NEW_RECYCLER, "manufacturer_codes": ["3CA"]},
    )
    assert taken.status_code == 409, taken.text
    assert "3CA" in taken.json()["detail"]


def test_a_credit_code_failing_its_check_is_422_with_the_check_character_message(api: Api) -> None:
    wrong = NEW_RECYCLER[:17] + ("0" if NEW_RECYCLER[17] != "0" else "1")
    response = post(api, "/api/v1/participants", "regulator", registration(wrong))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "fails its check character" in detail and f"expected {NEW_RECYCLER[17]!r}" in detail
    assert response.json()["type"].endswith("invalid-credit-code")
    overridden = post(api, "/api/v1/participants", "regulator", registration(wrong, override_check=True))
    assert overridden.status_code == 201, overridden.text
    assert overridden.json()["participant"]["check_override"] is True
    malformed = post(api, "/api/v1/participants", "regulator", registration("12345"))
    assert malformed.status_code == 422 and "18" in malformed.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "No code", "roles": ["recycler"]}, "credit_code"),
        (registration(roles=[]), "roles"),
        (registration(colour="green"), "colour"),
    ],
)
def test_a_malformed_body_is_422_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    response = post(api, "/api/v1/participants", "regulator", body)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


def test_registering_twice_is_409(api: Api) -> None:
    assert post(api, "/api/v1/participants", "regulator", registration()).status_code == 201
    again = post(api, "/api/v1/participants", "regulator", registration())
    assert again.status_code == 409, again.text
    assert "already registered" in again.json()["detail"]
    cast_member = post(api, "/api/v1/participants", "regulator", registration(api.cast.recycler))
    assert cast_member.status_code == 409


def test_an_unknown_role_is_422(api: Api) -> None:
    response = post(api, "/api/v1/participants", "regulator", registration(roles=["smelter"]))
    assert response.status_code == 422, response.text
    assert "smelter" in response.json()["detail"]


# ---------------------------------------------------------------------------------- API keys
def test_a_revoked_key_is_refused_on_the_next_request(api: Api) -> None:
    own = post(api, f"/api/v1/participants/{api.cast.recycler}/keys", "recycler", {"label": "scanner 2"})
    assert own.status_code == 201, own.text
    token, key_id = own.json()["token"], own.json()["key_id"]
    assert get(api, f"/api/v1/participants/{api.cast.recycler}", token=token).status_code == 200
    revoked = api.client.delete(f"/api/v1/keys/{key_id}", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["key_id"] == key_id and revoked.json()["notification_id"]
    refused = get(api, f"/api/v1/participants/{api.cast.recycler}", token=token)
    assert refused.status_code == 401, refused.text
    assert refused.json()["detail"] == "invalid or revoked API key"
    assert get(api, f"/api/v1/participants/{api.cast.recycler}", "recycler").status_code == 200  # other key


def test_a_regulator_issues_and_revokes_anyones_keys_and_others_may_not(api: Api) -> None:
    issued = post(api, f"/api/v1/participants/{api.cast.dismantler}/keys", "regulator")
    assert issued.status_code == 201, issued.text
    key_id, token = issued.json()["key_id"], issued.json()["token"]
    assert post(api, f"/api/v1/participants/{api.cast.dismantler}/keys", "recycler").status_code == 403
    not_theirs = api.client.delete(f"/api/v1/keys/{key_id}", headers=api.auth("recycler"))
    assert not_theirs.status_code == 403, not_theirs.text
    assert get(api, f"/api/v1/participants/{api.cast.dismantler}", token=token).status_code == 200
    by_regulator = api.client.delete(
        f"/api/v1/keys/{key_id}", headers=api.auth("regulator"), params={"reason": "leaked"}
    )
    assert by_regulator.status_code == 200, by_regulator.text
    assert get(api, f"/api/v1/participants/{api.cast.dismantler}", token=token).status_code == 401
    assert (
        api.client.delete("/api/v1/keys/0123456789abcdef", headers=api.auth("regulator")).status_code == 404
    )
    assert api.client.delete(f"/api/v1/keys/{key_id}").status_code == 401


# --------------------------------------------------------------------------------- whitelist
def test_whitelist_status_decides_whether_a_later_handover_is_compliant(api: Api) -> None:
    cast = api.cast
    revoked = post(
        api,
        f"/api/v1/participants/{cast.recycler}/whitelist/revoke",
        "regulator",
        {"activity": "recycling", "reason": "failed the inspection"},
    )
    assert revoked.status_code == 200, revoked.text
    periods = revoked.json()["participant"]["whitelist"]
    assert periods[0]["activity"] == "recycling" and periods[0]["revoked_on"]
    granted = post(
        api,
        f"/api/v1/participants/{cast.informal_recycler}/whitelist",
        "regulator",
        {"activity": "recycling"},
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["participant"]["whitelist"][0]["revoked_on"] is None

    to_delisted = collected_pack(api, 1)
    to_listed = collected_pack(api, 2)
    hand_over(api, to_delisted, cast.recycler)
    last = hand_over(api, to_listed, cast.informal_recycler)
    findings = get(
        api, "/api/v1/reports/compliance", "regulator", kind="non_compliant_handover", after=last
    ).json()["items"]
    assert [f["code"] for f in findings] == [to_delisted]
    flows = get(api, "/api/v1/reports/flows", "regulator", after=last).json()["items"]
    assert {(f["receiver_id"], f["compliant_count"]) for f in flows} == {
        (cast.recycler, 0),
        (cast.informal_recycler, 1),
    }
    battery = get(api, f"/api/v1/batteries/{to_delisted}", "regulator", after=last).json()["battery"]
    assert "non-compliant handover" in battery["flags"]


def test_granting_an_open_grant_again_records_nothing(api: Api) -> None:
    again = post(
        api, f"/api/v1/participants/{api.cast.recycler}/whitelist", "regulator", {"activity": "recycling"}
    )
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True and again.json()["events"] == []


@pytest.mark.parametrize(
    ("member", "body", "status", "words"),
    [
        ("regulator", {"activity": "smelting"}, 422, "smelting"),
        ("regulator", {"activity": "cascade_use"}, 403, "cascade_user"),  # a recycler cannot be
        ("regulator", {"activity": "recycling", "effective_on": "someday"}, 422, "effective_on"),
    ],
)
def test_a_whitelist_grant_that_cannot_hold_is_refused(
    api: Api, member: str, body: dict[str, Any], status: int, words: str
) -> None:
    response = post(api, f"/api/v1/participants/{api.cast.recycler}/whitelist", member, body)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


def test_revoking_a_whitelist_that_is_not_held_is_422_and_a_reason_is_required(api: Api) -> None:
    path = f"/api/v1/participants/{api.cast.informal_recycler}/whitelist/revoke"
    none_held = post(api, path, "regulator", {"activity": "recycling", "reason": "x"})
    assert none_held.status_code == 422 and "not whitelisted" in none_held.json()["detail"]
    no_reason = post(
        api,
        f"/api/v1/participants/{api.cast.recycler}/whitelist/revoke",
        "regulator",
        {"activity": "recycling"},
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]


# ------------------------------------------------------------------------------- refusals
def test_only_regulators_manage_participants(api: Api) -> None:
    cast = api.cast
    whitelist = {"activity": "recycling"}
    attempts = [
        ("post", "/api/v1/participants", registration()),
        ("get", "/api/v1/participants", None),
        ("get", f"/api/v1/participants/{cast.recycler}", None),
        ("post", f"/api/v1/participants/{cast.informal_recycler}/whitelist", whitelist),
        ("post", f"/api/v1/participants/{cast.recycler}/whitelist/revoke", {**whitelist, "reason": "x"}),
        ("post", f"/api/v1/participants/{cast.recycler}/keys", None),
    ]
    for method, path, body in attempts:
        for member in ("manufacturer", "informal_recycler"):
            response = api.client.request(method, path, json=body, headers=api.auth(member))
            assert response.status_code == 403, (method, path, member, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        anonymous = api.client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
    assert get(api, "/api/v1/participants/91350900MA2YE0001I", "manufacturer").status_code == 422
    unknown = get(api, f"/api/v1/participants/{NEW_RECYCLER}", "regulator")
    assert unknown.status_code == 404, unknown.text


# ------------------------------------------------------------------------- collection points
def point(point_id: str, operator: str, **overrides: Any) -> dict[str, Any]:
    return {
        "point_id": point_id,
        "operator_id": operator,
        "name": "Haidian outlet",
        "division_code": "110108",
        "address": "5 Zhongguancun Road",
        "capacity_kg": 4000,
        "latitude": 39.98,
        "longitude": 116.31,
        **overrides,
    }


def test_collection_points_are_registered_by_regulators_or_their_operator_and_listed_publicly(
    api: Api,
) -> None:
    cast = api.cast
    own = post(
        api, "/api/v1/collection-points", "outlet_operator", point("CP-110108-0001", cast.outlet_operator)
    )
    assert own.status_code == 201, own.text
    assert own.json()["collection_point"]["operator_id"] == cast.outlet_operator
    by_regulator = post(
        api,
        "/api/v1/collection-points",
        "regulator",
        point(
            "cp-440305-0002",
            cast.vehicle_maker,
            division_code="440305",
            kind="central_storage",
            capacity_kg=30000,
        ),
    )
    assert by_regulator.status_code == 201, by_regulator.text
    assert by_regulator.json()["collection_point"]["id"] == "CP-440305-0002"
    someone_elses = post(
        api, "/api/v1/collection-points", "outlet_operator", point("CP-110108-0003", cast.vehicle_maker)
    )
    assert someone_elses.status_code == 403, someone_elses.text
    not_an_outlet_role = post(
        api, "/api/v1/collection-points", "manufacturer", point("CP-110108-0004", cast.manufacturer)
    )
    assert not_an_outlet_role.status_code == 403, not_an_outlet_role.text
    again = post(api, "/api/v1/collection-points", "regulator", point("CP-110108-0001", cast.outlet_operator))
    assert again.status_code == 409, again.text
    bad_division = post(
        api,
        "/api/v1/collection-points",
        "regulator",
        point("CP-999999-0001", cast.outlet_operator, division_code="999999"),
    )
    assert bad_division.status_code == 422, bad_division.text
    assert (
        post(
            api, "/api/v1/collection-points", None, point("CP-110108-0005", cast.outlet_operator)
        ).status_code
        == 401
    )

    # The operators' own points are pending review, not public, until a regulator approves them.
    assert own.json()["collection_point"]["review"] == "pending"
    assert by_regulator.json()["collection_point"]["review"] == "approved"
    for pending in ("CP-110108-0001", cast.other_collection_point):
        approved = post(api, f"/api/v1/collection-points/{pending}/approve", "regulator")
        assert approved.status_code == 200, approved.text
    after = approved.json()["notification_id"]
    listed = get(api, "/api/v1/collection-points", after=after)  # the public, no key
    assert listed.status_code == 200, listed.text
    ids = [p["id"] for p in listed.json()["items"]]
    assert ids == sorted(
        [cast.collection_point, cast.other_collection_point, "CP-110108-0001", "CP-440305-0002"]
    )
    haidian = next(p for p in listed.json()["items"] if p["id"] == "CP-110108-0001")
    assert haidian == {
        "id": "CP-110108-0001",
        "name": "Haidian outlet",
        "name_en": None,  # registered without an English name
        "kind": "collection",
        "capacity_kg": 4000.0,
        "address": "5 Zhongguancun Road",
        "division_code": "110108",
        "latitude": 39.98,
        "longitude": 116.31,
    }
    beijing = get(api, "/api/v1/collection-points", region="11", after=after).json()["items"]
    assert [p["id"] for p in beijing] == [cast.collection_point, "CP-110108-0001"]
    page = get(api, "/api/v1/collection-points", limit=1, offset=1, after=after).json()
    assert [p["id"] for p in page["items"]] == ids[1:2]
    as_csv = get(api, "/api/v1/collection-points", region="4403", format="csv", after=after)
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = as_csv.text.splitlines()
    assert lines[0] == "id,name,name_en,kind,capacity_kg,address,division_code,latitude,longitude"
    assert [line.split(",")[0] for line in lines[1:]] == ["CP-440305-0001", "CP-440305-0002"]
    assert get(api, "/api/v1/collection-points", region="1").status_code == 422


def test_a_new_enterprise_registers_its_own_outlet_with_its_new_key(api: Api) -> None:
    registered = post(
        api,
        "/api/v1/participants",
        "regulator",
        registration(NEW_OPERATOR, roles=["outlet_operator"], name="Pudong Outlets"),
    )
    token = registered.json()["api_key"]["token"]
    own = post(
        api,
        "/api/v1/collection-points",
        None,
        point("CP-310115-0001", NEW_OPERATOR, division_code="310115"),
        token=token,
    )
    assert own.status_code == 201, own.text
    listed = get(api, "/api/v1/collection-points", region="31", after=own.json()["notification_id"]).json()
    assert listed["items"] == []  # pending review
    approved = post(api, "/api/v1/collection-points/CP-310115-0001/approve", "regulator")
    listed = get(api, "/api/v1/collection-points", region="31", after=approved.json()["notification_id"])
    assert [p["id"] for p in listed.json()["items"]] == ["CP-310115-0001"]


def test_a_grant_without_a_date_takes_effect_today_in_china_standard_time(api: Api) -> None:
    before = datetime.now(CHINA_STANDARD_TIME).date().isoformat()
    path = f"/api/v1/participants/{api.cast.informal_recycler}/whitelist"
    granted = post(api, path, "regulator", {"activity": "recycling"})
    after = datetime.now(CHINA_STANDARD_TIME).date().isoformat()
    [period] = granted.json()["participant"]["whitelist"]
    assert period["activity"] == "recycling" and period["revoked_on"] is None
    assert period["granted_on"] in {before, after}
