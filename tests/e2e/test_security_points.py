"""Issue 10, findings 14 and 16, on SQLite and PostgreSQL (the ``api`` fixture).

14. A battery's public page listed the collection point holding it as the first "nearest point"
    (0.0 km), and a point an operator registered for itself appeared on public pages without any
    review. Now the holding point is said once, as where the battery is held, and never listed as
    a place to bring it; an operator's point is pending review (absent from public pages and the
    public list, present in the regulator's network report) until a regulator approves it.
16. ``GET /api/v1/collection-points/cp-…/batteries`` (lower case) checked access with the
    normalised id and queried with the raw one: an empty list instead of the batteries.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Collect, HandOver, Reporting, Retire
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.api import CAST_ROLES, Api
from tests.utils.cast import register_cast
from tests.utils.server import batterytrace_command

NEW_POINT = "CP-110105-0077"  # registered by the outlet operator itself, near the Chaoyang outlet
NEAR_CHAOYANG = {"lat": "39.93", "lon": "116.45"}
HOLDING = "Chaoyang collection outlet"  # the cast's point, registered by the regulator


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=CHINA_STANDARD_TIME)


def collected(api: Api, serial: int, point: str | None = None) -> tuple[str, int]:
    """A pack produced, retired by its maker and taken in at the cast's collection point; its code
    and the notification id of the collection."""
    service, cast = api.service, api.cast
    code = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", datetime(2024, 7, 15).date(), serial)
    spec = ProductionSpec(code=code, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110)
    service.produce(actor_id=cast.manufacturer, spec=spec)
    service.execute(
        Retire(
            actor_id=cast.manufacturer,
            code=code,
            reason="worn",
            reporting=Reporting(occurred_at=at(2025, 6, 1)),
        )
    )
    result = service.execute(
        Collect(
            actor_id=cast.outlet_operator,
            code=code,
            collection_point_id=point or cast.collection_point,
            reporting=Reporting(occurred_at=at(2025, 6, 10)),
        )
    )
    assert result.notification_id
    return code, result.notification_id


def register_own_point(api: Api, point_id: str = NEW_POINT, **overrides: Any) -> httpx.Response:
    body = {
        "point_id": point_id,
        "operator_id": api.cast.outlet_operator,
        "name": "Chaoyang east outlet",
        "division_code": "110105",
        "address": "9 East Road, Chaoyang",
        "latitude": 39.93,
        "longitude": 116.46,
        **overrides,
    }
    return api.client.post("/api/v1/collection-points", json=body, headers=api.auth("outlet_operator"))


def approve(api: Api, point_id: str, member: str | None = "regulator", **body: str) -> httpx.Response:
    return api.client.post(
        f"/api/v1/collection-points/{point_id}/approve", json=body or None, headers=api.auth(member)
    )


def public_page(api: Api, code: str, after: int, **params: str) -> dict[str, Any]:
    answer = api.client.get(f"/b/{code}", params={"format": "json", "after": after, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def html_page(api: Api, code: str, after: int, lang: str) -> str:
    answer = api.client.get(
        f"/b/{code}", params={"lang": lang, "after": after}, headers={"Accept": "text/html"}
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def public_list(api: Api, after: int) -> list[str]:
    answer = api.client.get("/api/v1/collection-points", params={"after": after})
    assert answer.status_code == 200, answer.text
    return [p["id"] for p in answer.json()["items"]]


def network_review(api: Api, after: int) -> dict[str, str]:
    answer = api.client.get("/api/v1/reports/network", params={"after": after}, headers=api.auth("regulator"))
    assert answer.status_code == 200, answer.text
    return {row["id"]: row["review"] for row in answer.json()["items"]}


# ------------------------------------------------------------------------------- finding 16
@pytest.mark.parametrize("member", ["outlet_operator", "regulator"])
def test_a_lower_case_point_id_lists_the_batteries_the_point_holds(api: Api, member: str) -> None:
    code, after = collected(api, 1601)
    for point in (api.cast.collection_point, api.cast.collection_point.lower(), " cp-110105-0001 "):
        answer = api.client.get(
            f"/api/v1/collection-points/{point}/batteries",
            params={"after": after},
            headers=api.auth(member),
        )
        assert answer.status_code == 200, answer.text
        assert [row["code"] for row in answer.json()["items"]] == [code], point


def test_a_lower_case_id_of_another_operators_point_is_still_refused(api: Api) -> None:
    answer = api.client.get(
        f"/api/v1/collection-points/{api.cast.other_collection_point.lower()}/batteries",
        headers=api.auth("outlet_operator"),
    )
    assert answer.status_code == 403, answer.text


# ------------------------------------------------------------------------------- finding 14
def test_the_holding_point_is_said_once_and_never_listed_as_a_place_to_bring_the_battery(api: Api) -> None:
    code, after = collected(api, 1401)
    page = public_page(api, code, after)
    assert page["state"] == "collected" and page["collection_points_near"] == "last collection point"
    held = {"name": HOLDING, "name_en": None, "address": "1 Battery Road, Chaoyang, Beijing"}
    assert page["held_at"] == held
    assert HOLDING not in [p["name"] for p in page["collection_points"]]
    assert 0.0 not in [p["distance_km"] for p in page["collection_points"]]
    # Near the point by the caller's location too: still not offered as a place to bring it.
    near = public_page(api, code, after, lat="39.92", lon="116.44")
    assert HOLDING not in [p["name"] for p in near["collection_points"]]

    english, chinese = html_page(api, code, after, "en"), html_page(api, code, after, "zh")
    assert f"Already handed in: held at {HOLDING}." in english and "0.0 km" not in english
    assert f"已交回，现存放于：{HOLDING}。" in chinese and "0.0 km" not in chinese
    assert "No other collection point is listed yet." in english and "暂无其他回收服务网点。" in chinese

    handed = api.service.execute(
        HandOver(
            actor_id=api.cast.outlet_operator,
            code=code,
            receiver_id=api.cast.recycler,
            activity="recycling",
            reporting=Reporting(occurred_at=at(2025, 6, 20)),
        )
    )
    after = handed.notification_id or 0
    assert public_page(api, code, after)["held_at"] is None
    assert "held-at" not in html_page(api, code, after, "en")


def test_an_operators_own_point_is_pending_and_not_public_until_a_regulator_approves_it(api: Api) -> None:
    code, _ = collected(api, 1402)
    registered = register_own_point(api)
    assert registered.status_code == 201, registered.text
    assert registered.json()["collection_point"]["review"] == "pending"
    after = registered.json()["notification_id"]

    near = public_page(api, code, after, **NEAR_CHAOYANG)
    assert "Chaoyang east outlet" not in [p["name"] for p in near["collection_points"]]
    assert "Chaoyang east outlet" not in html_page(api, code, after, "en")
    assert NEW_POINT not in public_list(api, after)
    assert api.cast.other_collection_point not in public_list(api, after)  # the vehicle maker's own
    # The regulator sees every point with its review state; the operator sees its own.
    assert network_review(api, after)[NEW_POINT] == "pending"
    assert network_review(api, after)[api.cast.collection_point] == "approved"
    mine = api.client.get(
        "/api/v1/me/collection-points", params={"after": after}, headers=api.auth("outlet_operator")
    )
    assert {p["id"]: p["review"] for p in mine.json()["items"]}[NEW_POINT] == "pending"

    approved = approve(api, NEW_POINT.lower(), note="site visited")
    assert approved.status_code == 200, approved.text
    assert approved.json()["collection_point"]["review"] == "approved"
    assert approved.json()["events"] == [f"{NEW_POINT}:Approved"]
    after = approved.json()["notification_id"]

    near = public_page(api, code, after, **NEAR_CHAOYANG)
    assert near["collection_points"][0]["name"] == "Chaoyang east outlet"
    assert NEW_POINT in public_list(api, after)
    assert network_review(api, after)[NEW_POINT] == "approved"

    again = approve(api, NEW_POINT)
    assert again.status_code == 200 and again.json()["replayed"] is True and again.json()["events"] == []


def test_a_point_a_regulator_registers_is_approved_at_once(api: Api) -> None:
    registered = api.client.post(
        "/api/v1/collection-points",
        json={
            "point_id": "CP-110105-0078",
            "operator_id": api.cast.outlet_operator,
            "name": "Regulator-registered outlet",
            "division_code": "110105",
        },
        headers=api.auth("regulator"),
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["collection_point"]["review"] == "approved"
    assert registered.json()["events"] == ["CP-110105-0078:Registered"]
    assert "CP-110105-0078" in public_list(api, registered.json()["notification_id"])


def test_only_a_regulator_approves_a_point(api: Api) -> None:
    registered = register_own_point(api)
    assert registered.status_code == 201, registered.text
    head = api.service.recorder.max_notification_id()
    for member in (m for m in CAST_ROLES if m != "regulator"):
        refused = approve(api, NEW_POINT, member)
        assert refused.status_code == 403, (member, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert approve(api, NEW_POINT, None).status_code == 401
    assert api.service.recorder.max_notification_id() == head, "a refused approval recorded nothing"
    assert approve(api, "CP-110105-9999").status_code == 404
    assert approve(api, "not-a-point").status_code == 422
    too_long = approve(api, NEW_POINT, note="x" * 501)
    assert too_long.status_code == 422, too_long.text
    assert not api.service.collection_point(NEW_POINT).is_approved


def test_the_cli_approves_a_point_and_lists_its_review_state(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'batterytrace.db'}"
    service = BatteryTrace(Settings(database_url=url))
    cast = register_cast(service)
    service.close()  # the vehicle maker registered its own point: pending

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
        env.update(BATTERYTRACE_DATABASE_URL=url, COLUMNS="200", NO_COLOR="1")
        return subprocess.run(
            [batterytrace_command(), *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    def reviews() -> dict[str, str]:
        listed = cli("collection-points", "list", "-f", "json")
        assert listed.returncode == 0, listed.stderr
        return {p["id"]: p["review"] for p in json.loads(listed.stdout)}

    assert reviews() == {cast.collection_point: "approved", cast.other_collection_point: "pending"}
    refused = cli("collection-points", "approve", cast.other_collection_point, "--as", cast.vehicle_maker)
    assert refused.returncode == 1 and "needs the role regulator" in refused.stderr, refused.stderr
    done = cli("collection-points", "approve", cast.other_collection_point.lower(), "--as", cast.regulator)
    assert done.returncode == 0, done.stderr
    assert f"collection point {cast.other_collection_point}: recorded Approved" in done.stdout
    assert reviews()[cast.other_collection_point] == "approved"
    assert "approved" in cli("collection-points", "list").stdout
