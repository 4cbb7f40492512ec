"""Issue 10, finding 10 ("custody taken without the holder"), on SQLite and PostgreSQL (the ``api``
fixture).

A vehicle maker could install any new battery whose code it knew: nothing showed it had the
battery. Now a new battery passes to a vehicle maker only when its manufacturer records the
delivery (``POST /api/v1/batteries/{code}/deliver``); the vehicle maker then installs it, or
installs one it made itself. A refusal tells the caller only that it does not hold the battery,
not who does. A dismantler retires a battery installed in a vehicle only after taking the scrapped
vehicle in (``POST /api/v1/scrappings``); retirements recorded before that rule, flagged then,
remain ``unverified_custody`` findings in the regulator's compliance report.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import httpx

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from tests.utils.api import Api
from tests.utils.cast import credit_code

VIN = "LSVAU2180N2183294"
PROBLEM_JSON = "application/problem+json"
CARMAKER_CELLS = credit_code("91440300MA5F00019")  # makes its own packs (5EV) and its vehicles


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=CHINA_STANDARD_TIME)


def produced(api: Api, serial: int, *, maker: str | None = None, manufacturer_code: str = "3CA") -> str:
    """A new pack, on its maker's shelf (the cast's manufacturer unless ``maker`` is given)."""
    code = make_battery_code(manufacturer_code, "P", "B", "12", "0A1B2C3", date(2024, 7, 15), serial)
    spec = ProductionSpec(code=code, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110)
    api.service.produce(actor_id=maker or api.cast.manufacturer, spec=spec)
    return code


def post(api: Api, path: str, body: dict[str, Any], member: str | None) -> httpx.Response:
    return api.client.post(f"/api/v1{path}", json=body, headers=api.auth(member))


def deliver(api: Api, code: str, member: str = "manufacturer", **body: Any) -> httpx.Response:
    """Delivered to the vehicle maker on 25 July 2024 (before ``install``), unless ``body`` says else."""
    fields = {"receiver_id": api.cast.vehicle_maker, "occurred_at": "2024-07-25T10:00:00", **body}
    return post(api, f"/batteries/{code}/deliver", fields, member)


def install(api: Api, code: str, member: str = "vehicle_maker") -> httpx.Response:
    return post(api, f"/batteries/{code}/install", {"vin": VIN, "occurred_at": "2024-08-01T10:00:00"}, member)


def refused(response: httpx.Response, status: int, fragment: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert fragment in body["detail"], body["detail"]
    return body


def names(api: Api, code: str) -> list[str]:
    return [type(e).__name__ for e in api.service.history(code)]


def findings(api: Api, kind: str, after: int) -> list[dict[str, Any]]:
    """The regulator's compliance report of one kind, read once the views include ``after``."""
    answer = api.client.get(
        "/api/v1/reports/compliance",
        params={"kind": kind, "after": after, "limit": 1000},
        headers=api.auth("regulator"),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


# ------------------------------------------------------------------------------------ install
def test_a_vehicle_maker_cannot_install_a_battery_not_delivered_to_it(api: Api) -> None:
    code = produced(api, 1)

    answer = refused(install(api, code), 403, "it has not been delivered to you")

    assert "deliver" in answer["detail"]
    assert api.cast.manufacturer not in answer["detail"]  # who holds it is not the caller's to know
    assert api.cast.manufacturer not in install(api, code).text
    assert names(api, code) == ["Produced"]
    assert api.service.battery(code).responsible_id == api.cast.manufacturer


def test_after_the_manufacturer_delivers_it_the_vehicle_maker_installs_it(api: Api) -> None:
    code = produced(api, 2)

    delivered = deliver(api, code, occurred_at="2024-07-25T10:00:00", request_id="delivery-1")
    assert delivered.status_code == 200, delivered.text
    answer = delivered.json()
    assert answer["events"] == [f"{code}:Delivered"] and answer["replayed"] is False
    assert answer["battery"]["state"] == "produced"  # still new: custody changed, not the stage of life
    assert answer["battery"]["holder"] == {
        "kind": "enterprise",
        "id": api.cast.vehicle_maker,
        "responsible_id": api.cast.vehicle_maker,
    }
    again = deliver(api, code, occurred_at="2024-07-25T10:00:00", request_id="delivery-1")
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True and again.json()["events"] == []

    installed = install(api, code)
    assert installed.status_code == 200, installed.text
    assert installed.json()["battery"]["state"] == "installed"
    assert names(api, code) == ["Produced", "Delivered", "Installed"]
    stored = api.service.history(code)[1]
    assert (stored.actor_id, stored.receiver_id) == (api.cast.manufacturer, api.cast.vehicle_maker)
    assert stored.occurred_at == at(2024, 7, 25)


def test_a_vehicle_maker_installs_a_battery_it_made_itself_without_a_delivery(api: Api) -> None:
    service, cast = api.service, api.cast
    service.register_participant(
        actor_id=cast.regulator,
        credit_code=CARMAKER_CELLS,
        name="Shenzhen Carmaker Cells",
        roles=["manufacturer", "vehicle_maker"],
        manufacturer_codes=["5EV"],
    )
    token = service.issue_api_key(actor_id=None, participant_id=CARMAKER_CELLS).token
    code = produced(api, 1, maker=CARMAKER_CELLS, manufacturer_code="5EV")

    answer = api.client.post(
        f"/api/v1/batteries/{code}/install", json={"vin": VIN}, headers={"Authorization": f"Bearer {token}"}
    )

    assert answer.status_code == 200, answer.text
    assert names(api, code) == ["Produced", "Installed"]
    refused(install(api, produced(api, 2, maker=CARMAKER_CELLS, manufacturer_code="5EV")), 403, "delivered")


# ------------------------------------------------------------------------------------ deliver
def test_only_the_holder_delivers_a_new_battery(api: Api) -> None:
    code = produced(api, 3)
    for member in ("vehicle_maker", "other_manufacturer", "dismantler", "recycler"):
        body = refused(deliver(api, code, member), 403, "you do not hold it")
        assert api.cast.manufacturer not in body["detail"], member
    refused(deliver(api, code, None), 401, "")
    # A stranger is not told whether the receiver is registered: its refusal comes first.
    stranger = post(api, f"/batteries/{code}/deliver", {"receiver_id": "91110000600037341L"}, "vehicle_maker")
    refused(stranger, 403, "you do not hold it")
    assert names(api, code) == ["Produced"]

    assert deliver(api, code).status_code == 200
    # Delivered, it is the vehicle maker's: the manufacturer no longer holds it. (Delivering it
    # again at once reads as a late duplicate of its own request: a conflict, not a right.)
    retire = post(api, f"/batteries/{code}/retire", {"reason": "defect"}, "manufacturer")
    refused(retire, 403, "you do not hold it")
    assert deliver(api, code).status_code in (403, 409)
    assert names(api, code) == ["Produced", "Delivered"]


def test_a_battery_is_delivered_only_to_a_registered_vehicle_maker(api: Api) -> None:
    code = produced(api, 4)

    body = refused(deliver(api, code, receiver_id=api.cast.recycler), 403, "needs the role vehicle_maker")
    assert "receive new batteries for vehicles" in body["detail"]
    refused(deliver(api, code, receiver_id="91110000600037341L"), 404, "not registered")
    assert names(api, code) == ["Produced"]


def test_a_battery_in_use_is_not_delivered(api: Api) -> None:
    code = produced(api, 5)
    assert deliver(api, code).status_code == 200
    assert install(api, code).status_code == 200

    refused(deliver(api, code, "vehicle_maker"), 409, "cannot deliver")
    assert names(api, code) == ["Produced", "Delivered", "Installed"]


# ------------------------------------------------------------------------ unverified custody
def test_a_dismantlers_retirement_of_a_battery_it_does_not_hold_is_refused(api: Api) -> None:
    code = produced(api, 6)
    assert deliver(api, code).status_code == 200
    assert install(api, code).status_code == 200

    by_dismantler = post(api, f"/batteries/{code}/retire", {"reason": "vehicle scrapped"}, "dismantler")

    answer = refused(by_dismantler, 403, "record the vehicle's scrapping first")
    assert answer["code"] == "battery.scrapping_not_recorded"
    assert VIN not in by_dismantler.text and api.cast.vehicle_maker not in by_dismantler.text
    assert names(api, code) == ["Produced", "Delivered", "Installed"]


def test_a_retirement_flagged_before_scrapping_records_existed_is_still_a_finding(api: Api) -> None:
    """Retirements recorded when a dismantler's was flagged rather than refused keep their flag."""
    scrapped, replaced = produced(api, 6), produced(api, 7)
    for code in (scrapped, replaced):
        assert deliver(api, code).status_code == 200
        assert install(api, code).status_code == 200
    battery = api.service.battery(scrapped)
    battery._retired(  # as Battery.retire recorded it then
        reason="vehicle scrapped",
        state_of_health_pct=None,
        actor_id=api.cast.dismantler,
        occurred_at=at(2025, 6, 1),
        request_id=None,
        late_correction=False,
        custody_unverified=True,
    )
    api.service.save(battery)
    by_holder = post(api, f"/batteries/{replaced}/retire", {"reason": "replaced"}, "vehicle_maker")

    assert by_holder.status_code == 200, by_holder.text
    assert api.service.history(scrapped)[-1].custody_unverified is True
    assert api.service.history(replaced)[-1].custody_unverified is False
    head = by_holder.json()["notification_id"]
    found = findings(api, "unverified_custody", after=head)
    assert [(f["code"], f["event"], f["actor_id"]) for f in found] == [
        (scrapped, "Retired", api.cast.dismantler)
    ]
    assert "did not hold the battery" in found[0]["detail"]
    flags = api.client.get(
        f"/api/v1/batteries/{scrapped}", params={"after": head}, headers=api.auth("regulator")
    ).json()["battery"]["flags"]
    assert any("without a vehicle scrapping record" in flag for flag in flags), flags
