"""Refusals a page shows a person carry a stable message key (``code``) and its ``params`` beside
the English ``detail`` (issue 11, item 6), so the outlet, regulator and public pages can say them in
Chinese; the params hold only what the detail already tells the caller. On both stores.
"""

from __future__ import annotations

import json

import httpx
import pytest

from batterytrace.events.commands import HandOver, Recycle
from tests.e2e.test_api_writes import VIN, post, problem_of
from tests.e2e.test_security_refusals import installed_pack, retired_pack
from tests.utils.api import Api, api_on


def coded(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    """The problem's params, once its status and message key are the expected ones."""
    body = problem_of(response, status)
    assert body["code"] == code, body
    assert body["detail"], "the English sentence stays for programs and logs"
    return body["params"]


def scan(api: Api, point: str, text: str, member: str = "outlet_operator") -> httpx.Response:
    return post(
        api, f"/collection-points/{point}/scans", {"text": text, "client_scan_id": text[-12:]}, member
    )


def test_an_outlet_scanning_a_battery_still_in_its_vehicle_is_told_its_state_and_what_is_allowed(
    api: Api,
) -> None:
    pack = installed_pack(api, 11)
    params = coded(scan(api, api.cast.collection_point, pack), 409, "battery.wrong_state")
    assert params == {
        "code": pack,
        "state": "installed",
        "action": "collect",
        "allowed": ["remove", "swap out", "scrap with vehicle", "retire"],
    }


def test_a_recycled_battery_is_refused_with_the_reason_its_life_has_ended(api: Api) -> None:
    pack = retired_pack(api, 12)
    service, cast = api.service, api.cast
    service.execute(
        HandOver(actor_id=cast.vehicle_maker, code=pack, receiver_id=cast.recycler, activity="recycling")
    )
    service.execute(
        Recycle(actor_id=cast.recycler, code=pack, recovered_kg={"Li": 1, "Ni": 0, "Co": 0, "Mn": 0})
    )
    params = coded(scan(api, api.cast.collection_point, pack), 409, "battery.wrong_state.recycled")
    assert params == {"code": pack, "state": "recycled", "action": "collect"}


def test_a_non_holder_is_told_the_battery_and_the_action_and_nothing_of_its_holder(api: Api) -> None:
    pack = installed_pack(api, 13)
    refused = post(api, f"/batteries/{pack}/remove", {"reason": "repair"}, "outlet_operator")
    assert coded(refused, 403, "battery.not_holder") == {"code": pack, "action": "remove"}
    assert api.cast.vehicle_maker not in refused.text and VIN not in refused.text


def test_scanning_at_a_point_of_another_operator_names_the_point(api: Api) -> None:
    pack = retired_pack(api, 14)
    params = coded(scan(api, api.cast.collection_point, pack, "dismantler"), 403, "point.not_operator")
    assert params == {"point": api.cast.collection_point}


def test_an_unrecorded_battery_and_a_mistyped_code_are_told_apart(api: Api) -> None:
    unknown = "3CAPB120A1B2C3R7F0000999"
    assert coded(api.client.get(f"/api/v1/batteries/{unknown}"), 404, "not_found.battery") == {"id": unknown}
    params = coded(
        scan(api, api.cast.collection_point, "3CAPB120A1B2C3I7F0000999"), 422, "battery_code.invalid"
    )
    assert params == {"code": "3CAPB120A1B2C3I7F0000999", "segment": "production date"}


def test_a_missing_key_and_a_missing_role_are_coded(api: Api) -> None:
    pack = retired_pack(api, 15)
    assert (
        coded(post(api, f"/batteries/{pack}/retire", {"reason": "worn"}, None), 401, "auth.not_authenticated")
        == {}
    )
    refused = api.client.get("/api/v1/reports/compliance", headers=api.auth("outlet_operator"))
    params = coded(refused, 403, "participant.missing_role")
    assert params["roles"] == ["regulator"]


def test_a_body_over_the_limit_is_coded_before_authentication(api: Api) -> None:
    body = json.dumps({"text": "x" * (1024 * 1024 + 10), "client_scan_id": "big"})
    refused = api.client.post(
        "/api/v1/batteries",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert coded(refused, 413, "request.too_large") == {}


def test_a_malformed_request_names_its_fields(api: Api) -> None:
    refused = post(
        api, f"/collection-points/{api.cast.collection_point}/scans", {"text": "x"}, "outlet_operator"
    )
    assert coded(refused, 422, "request.invalid") == {"fields": "client_scan_id"}


@pytest.fixture
def throttled(database_url: str) -> object:
    with api_on(database_url, auth_failures_per_minute=1) as client:
        yield client


def test_too_many_wrong_keys_say_how_long_to_wait(throttled: Api) -> None:
    wrong = {"Authorization": "Bearer bt_nokey_" + "A" * 43}
    for _ in range(3):
        refused = throttled.client.get("/api/v1/me", headers=wrong)
    params = coded(refused, 429, "auth.rate_limited")
    assert params["seconds"] == int(refused.headers["Retry-After"])


def test_a_refusal_without_a_message_key_keeps_only_its_detail(api: Api) -> None:
    pack = installed_pack(api, 16)
    refused = post(api, f"/batteries/{pack}/retire", {"reason": " "}, "vehicle_maker")
    body = problem_of(refused, 422, "give a retirement reason")
    assert "code" not in body and "params" not in body


def test_a_scanned_link_that_is_no_battery_page_is_coded(api: Api) -> None:
    refused = scan(api, api.cast.collection_point, "https://example.com/products/42")
    assert coded(refused, 422, "scan.not_resolver_url") == {}
