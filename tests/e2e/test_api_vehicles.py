"""Battery swapping and vehicle scrapping over HTTP, on SQLite and PostgreSQL (the ``api`` fixture):
``POST /api/v1/swaps`` and ``POST /api/v1/scrappings`` (``trace/api/routes/vehicles.py``).

The VIN travels in the body; each answer has one entry per battery, as the other battery writes
answer; a refusal records nothing and names neither the vehicle a battery is in nor its holder.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import httpx

from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Deliver, Install, Reporting
from batterytrace.events.zone import CHINA_STANDARD_TIME
from tests.utils.api import Api
from tests.utils.cast import NationalCast

VIN = "LSVAU2180N2183294"
OTHER_VIN = "LGWEF6A52MH000001"
SWAP_OPERATOR = NationalCast().swap_operator
STATION = {"station": "Futian 03", "division_code": "440304"}
PROBLEM_JSON = "application/problem+json"


class Fleet:
    """Batteries for one store: made by the cast's manufacturer, in a vehicle or in swap stock."""

    def __init__(self, api: Api) -> None:
        self.api, self.service, self.cast = api, api.service, api.cast
        self.serial = 0
        self.service.register_participant(
            actor_id=self.cast.regulator,
            credit_code=SWAP_OPERATOR,
            name="易换能源科技有限公司",
            name_en="Yihuan Energy Technology Co., Ltd.",
            roles=["swap_operator"],
        )
        token = self.service.issue_api_key(actor_id=None, participant_id=SWAP_OPERATOR).token
        self.swap_key = {"Authorization": f"Bearer {token}"}

    def produced(self) -> str:
        self.serial += 1
        code = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), self.serial)
        spec = ProductionSpec(
            code=code, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110
        )
        self.service.produce(actor_id=self.cast.manufacturer, spec=spec)
        return code

    def delivered(self, receiver: str) -> str:
        code = self.produced()
        reported = Reporting(occurred_at=_at("2024-07-25"))
        self.service.execute(
            Deliver(actor_id=self.cast.manufacturer, code=code, receiver_id=receiver, reporting=reported)
        )
        return code

    def in_vehicle(self, vin: str = VIN) -> str:
        code = self.delivered(self.cast.vehicle_maker)
        reported = Reporting(occurred_at=_at("2024-08-01"))
        self.service.execute(
            Install(actor_id=self.cast.vehicle_maker, code=code, vin=vin, reporting=reported)
        )
        return code

    def in_stock(self) -> str:
        return self.delivered(SWAP_OPERATOR)

    def names(self, code: str) -> list[str]:
        return [type(e).__name__ for e in self.service.history(code)]


def _at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(10), CHINA_STANDARD_TIME)


def post(api: Api, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return api.client.post(f"/api/v1{path}", json=body, headers=headers)


def refused(response: httpx.Response, status: int, fragment: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert fragment in str(body), body
    return body


def test_a_swap_answers_with_both_batteries_as_the_write_left_them(api: Api) -> None:
    fleet = Fleet(api)
    out, into = fleet.in_vehicle(), fleet.in_stock()
    body = {"vin": VIN, "removed_code": out, "installed_code": into, **STATION, "request_id": "swap-1"}

    answer = post(api, "/swaps", {**body, "occurred_at": "2025-03-01T09:30:00+08:00"}, fleet.swap_key)

    assert answer.status_code == 200, answer.text
    swapped = answer.json()
    assert swapped["events"] == [f"{out}:SwappedOut", f"{into}:SwappedIn"] and swapped["replayed"] is False
    removed, installed = swapped["batteries"]
    assert (removed["code"], removed["state"]) == (out, "at swap station")
    assert removed["holder"] == {"kind": "swap_station", "id": "Futian 03", "responsible_id": SWAP_OPERATOR}
    assert (installed["code"], installed["state"]) == (into, "installed")
    assert installed["holder"] == {"kind": "vehicle", "id": VIN, "responsible_id": SWAP_OPERATOR}
    assert installed["vin"] == VIN  # the operator had the vehicle
    assert fleet.names(out)[-1] == "SwappedOut" and fleet.names(into)[-1] == "SwappedIn"

    again = post(api, "/swaps", {**body, "occurred_at": "2025-03-01T09:30:00+08:00"}, fleet.swap_key)
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True and again.json()["events"] == []
    assert [b["state"] for b in again.json()["batteries"]] == ["at swap station", "installed"]


def test_a_swap_is_one_transaction_refused_whole(api: Api) -> None:
    fleet = Fleet(api)
    out, not_delivered = fleet.in_vehicle(), fleet.produced()
    body = {"vin": VIN, "removed_code": out, "installed_code": not_delivered, **STATION}

    answer = refused(post(api, "/swaps", body, fleet.swap_key), 403, "you do not hold it")

    assert api.cast.manufacturer not in answer["detail"]
    assert fleet.names(out) == ["Produced", "Delivered", "Installed"]  # the removal was not saved either
    assert fleet.names(not_delivered) == ["Produced"]


def test_a_swap_naming_another_vehicle_learns_nothing_of_the_real_one(api: Api) -> None:
    fleet = Fleet(api)
    out, into = fleet.in_vehicle(), fleet.in_stock()
    body = {"vin": OTHER_VIN, "removed_code": out, "installed_code": into, **STATION}

    response = post(api, "/swaps", body, fleet.swap_key)

    answer = refused(response, 403, "not installed in the vehicle you named")
    assert answer["code"] == "battery.not_in_vehicle"
    assert VIN not in response.text and api.cast.vehicle_maker not in response.text
    assert fleet.names(into)[-1] == "Delivered"


def test_only_a_swap_operator_swaps(api: Api) -> None:
    fleet = Fleet(api)
    out, into = fleet.in_vehicle(), fleet.in_stock()
    body = {"vin": VIN, "removed_code": out, "installed_code": into, **STATION}
    for member in ("manufacturer", "vehicle_maker", "outlet_operator", "dismantler"):
        refused(post(api, "/swaps", body, api.auth(member)), 403, "needs the role swap_operator")
    assert post(api, "/swaps", body, {}).status_code == 401


def test_a_swap_names_two_batteries_and_a_known_place(api: Api) -> None:
    fleet = Fleet(api)
    out, into = fleet.in_vehicle(), fleet.in_stock()
    body = {"vin": VIN, "removed_code": out, "installed_code": into, **STATION}
    refused(post(api, "/swaps", {**body, "installed_code": out}, fleet.swap_key), 422, "both codes are")
    refused(post(api, "/swaps", {**body, "division_code": "440000"}, fleet.swap_key), 422, "whole province")
    refused(post(api, "/swaps", {**body, "station": "x" * 65}, fleet.swap_key), 422, "station")
    refused(post(api, "/swaps", {**body, "vin": None}, fleet.swap_key), 422, "vin")
    assert fleet.names(out)[-1] == "Installed"


def test_a_dismantler_takes_the_vehicle_in_then_retires_and_hands_on_its_battery(api: Api) -> None:
    fleet = Fleet(api)
    code = fleet.in_vehicle()
    dismantler = api.auth("dismantler")

    early = post(api, f"/batteries/{code}/retire", {"reason": "vehicle scrapped"}, dismantler)
    assert (
        refused(early, 403, "record the vehicle's scrapping first")["code"]
        == "battery.scrapping_not_recorded"
    )

    body = {"vin": VIN, "codes": [code], "scrapped_on": "2026-05-18", "occurred_at": "2026-05-20T10:00:00"}
    taken_in = post(api, "/scrappings", body, dismantler)
    assert taken_in.status_code == 200, taken_in.text
    (battery,) = taken_in.json()["batteries"]
    assert battery["state"] == "in scrapped vehicle" and battery["vin"] == VIN
    assert battery["holder"] == {"kind": "vehicle", "id": VIN, "responsible_id": api.cast.dismantler}
    scrapped = api.service.history(code)[-1]
    assert (type(scrapped).__name__, scrapped.scrapped_on, scrapped.dismantler_id) == (
        "VehicleScrapped",
        "2026-05-18",
        api.cast.dismantler,
    )

    retired = post(api, f"/batteries/{code}/retire", {"reason": "vehicle scrapped"}, dismantler)
    assert retired.status_code == 200, retired.text
    assert retired.json()["battery"]["flags"] == []
    handed = post(
        api,
        f"/batteries/{code}/handover",
        {"receiver_id": api.cast.recycler, "activity": "recycling"},
        dismantler,
    )
    assert handed.status_code == 200, handed.text
    assert fleet.names(code)[-3:] == ["VehicleScrapped", "Retired", "HandedOver"]


def test_a_scrapping_is_all_or_nothing_and_names_one_to_eight_batteries(api: Api) -> None:
    fleet = Fleet(api)
    first, second, elsewhere = fleet.in_vehicle(), fleet.in_vehicle(), fleet.in_vehicle(OTHER_VIN)
    dismantler = api.auth("dismantler")

    response = post(api, "/scrappings", {"vin": VIN, "codes": [first, second, elsewhere]}, dismantler)
    refused(response, 403, "not installed in the vehicle you named")
    assert OTHER_VIN not in response.text
    assert [fleet.names(code)[-1] for code in (first, second, elsewhere)] == ["Installed"] * 3

    refused(post(api, "/scrappings", {"vin": VIN, "codes": []}, dismantler), 422, "codes")
    refused(post(api, "/scrappings", {"vin": VIN, "codes": [first] * 9}, dismantler), 422, "codes")
    refused(post(api, "/scrappings", {"vin": VIN, "codes": [first, first]}, dismantler), 422, "listed twice")
    refused(post(api, "/scrappings", {"vin": VIN, "codes": [first]}, fleet.swap_key), 403, "role dismantler")

    both = post(api, "/scrappings", {"vin": VIN, "codes": [first, second]}, dismantler)
    assert both.status_code == 200, both.text
    assert [b["code"] for b in both.json()["batteries"]] == [first, second]
    assert both.json()["events"] == [f"{first}:VehicleScrapped", f"{second}:VehicleScrapped"]


def test_a_swap_operator_is_registered_like_any_role(api: Api) -> None:
    body = {
        "credit_code": NationalCast().swap_operator,
        "name": "易换能源科技有限公司",
        "roles": ["swap_operator"],
    }
    registered = post(api, "/participants", {**body, "issue_key": False}, api.auth("regulator"))
    assert registered.status_code == 201, registered.text
    assert registered.json()["participant"]["roles"] == ["swap_operator"]
