"""The write side of the HTTP API, on SQLite and PostgreSQL (the ``api`` fixture): production one by
one and in bulk (streamed JSON lines and CSV), and every lifecycle route.

Each route is checked for its success answer, for idempotent replays, and for the problem details
of its refusals: the right status, and a detail (or ``errors``/``segment``) that names what is wrong.
Batteries a test only needs as a starting point are arranged through the application service the
app itself uses (``api.service``); what a test is about goes through HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import httpx

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Deliver, HandOver, Install, Reporting, Retire
from tests.utils.api import Api, api_on

PRODUCED_ON = date(2024, 7, 15)
VIN = "LSVAU2180N2183294"
MATERIALS = {"Li": 3.1, "Ni": 0.0, "Co": 0.0, "Mn": 0.0, "Fe": 21.5}
PRODUCT = make_battery_code("9CU", "P", "B", "05", "0A1B2C3", date(2025, 8, 1), 1)


def code(serial: int, level: str = "P", *, maker: str = "3CA") -> str:
    return make_battery_code(maker, level, "B", "12", "0A1B2C3", PRODUCED_ON, serial)


def pack_body(serial: int, **extra: Any) -> dict[str, Any]:
    return {
        "code": code(serial),
        "rated_capacity_ah": 150,
        "nominal_voltage_v": 100,
        "energy_kwh": 15,
        "mass_kg": 110,
        **extra,
    }


def post(api: Api, path: str, body: Any, member: str | None) -> httpx.Response:
    return api.client.post(f"/api/v1{path}", json=body, headers=api.auth(member))


def problem_of(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """The problem body of a refusal, checked for its status and for words naming what is wrong."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    for fragment in fragments:
        assert fragment in body["detail"], body["detail"]
    return body


def invalid_fields(response: httpx.Response) -> set[str]:
    body = problem_of(response, 422)
    return {e["field"] for e in body["errors"]}


def names(api: Api, battery_code: str) -> list[str]:
    return [type(e).__name__ for e in api.service.history(battery_code)]


def head(api: Api) -> int:
    return api.service.recorder.max_notification_id() or 0


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=CHINA_STANDARD_TIME)


def produced(api: Api, serial: int) -> str:
    spec = ProductionSpec(
        code=code(serial), rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110
    )
    api.service.produce(actor_id=api.cast.manufacturer, spec=spec)
    return spec.code


def delivered(api: Api, serial: int) -> str:
    """A pack its manufacturer delivered to the vehicle maker (in 2024), which may install it."""
    pack, cast = produced(api, serial), api.cast
    api.service.execute(
        Deliver(
            actor_id=cast.manufacturer,
            code=pack,
            receiver_id=cast.vehicle_maker,
            reporting=Reporting(occurred_at=at(2024, 7, 25)),
        )
    )
    return pack


def retired(api: Api, serial: int) -> str:
    """A pack delivered, installed in a vehicle and retired by the vehicle maker, in 2024-2025."""
    pack = delivered(api, serial)
    api.service.execute(
        Install(
            actor_id=api.cast.vehicle_maker,
            code=pack,
            vin=VIN,
            reporting=Reporting(occurred_at=at(2024, 8, 1)),
        )
    )
    api.service.execute(
        Retire(
            actor_id=api.cast.vehicle_maker,
            code=pack,
            reason="capacity below 80%",
            reporting=Reporting(occurred_at=at(2025, 6, 1)),
        )
    )
    return pack


def handed_over(api: Api, serial: int, receiver: str, activity: str) -> str:
    pack = retired(api, serial)
    api.service.execute(
        HandOver(
            actor_id=api.cast.vehicle_maker,
            code=pack,
            receiver_id=getattr(api.cast, receiver),
            activity=activity,
            reporting=Reporting(occurred_at=at(2025, 7, 1)),
        )
    )
    return pack


# ------------------------------------------------------------------------------- production
def test_a_production_is_recorded_and_the_same_production_again_is_answered_as_a_replay(api: Api) -> None:
    first = post(api, "/batteries", pack_body(1, level="pack", chemistry="LFP"), "manufacturer")
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["events"] == [f"{code(1)}:Produced"]
    assert answer["replayed"] is False
    assert answer["notification_id"] == head(api)
    assert first.headers["location"] == f"/api/v1/batteries/{code(1)}"
    battery = answer["battery"]
    assert (battery["code"], battery["level"], battery["state"]) == (code(1), "pack", "produced")
    assert battery["manufacturer_id"] == api.cast.manufacturer
    assert battery["chemistry"] == "lithium iron phosphate"

    again = post(api, "/batteries", pack_body(1, level="pack", chemistry="LFP"), "manufacturer")
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True
    assert again.json()["events"] == []
    assert again.json()["notification_id"] >= answer["notification_id"]
    assert names(api, code(1)) == ["Produced"]


def test_a_pack_is_produced_from_modules_recorded_before_it(api: Api) -> None:
    modules = [make_battery_code("3CA", "M", "B", "12", "0A1B2C3", PRODUCED_ON, n) for n in (1, 2)]
    for module in modules:
        body = {"code": module, "rated_capacity_ah": 150, "nominal_voltage_v": 50, "energy_kwh": 7.5}
        assert post(api, "/batteries", {**body, "mass_kg": 50}, "manufacturer").status_code == 201
    response = post(api, "/batteries", pack_body(3, components=modules), "manufacturer")
    assert response.status_code == 201, response.text
    assert response.json()["events"] == [
        f"{code(3)}:Produced",
        f"{modules[0]}:AssembledInto",
        f"{modules[1]}:AssembledInto",
    ]
    assert api.service.battery(modules[0]).pack == code(3)


def test_a_production_is_refused_with_a_problem_naming_what_is_wrong(api: Api) -> None:
    bad_type = code(1)[:4] + "X" + code(1)[5:]
    body = problem_of(post(api, "/batteries", pack_body(1, code=bad_type), "manufacturer"), 422, "position 5")
    assert body["segment"] == "battery type"
    assert body["type"] == "/problems/invalid-battery-code"

    refused = post(api, "/batteries", pack_body(1), "other_manufacturer")
    problem_of(refused, 403, "manufacturer code 3CA is not one of yours")
    assert api.cast.manufacturer not in refused.json()["detail"]

    missing = {"code": code(1), "nominal_voltage_v": 100, "energy_kwh": 15}
    assert invalid_fields(post(api, "/batteries", missing, "manufacturer")) == {
        "rated_capacity_ah",
        "mass_kg",
    }
    assert "rated_capacity_ah" in problem_of(post(api, "/batteries", missing, "manufacturer"), 422)["detail"]
    assert invalid_fields(post(api, "/batteries", pack_body(1, mass_kg=-3), "manufacturer")) == {"mass_kg"}
    assert invalid_fields(post(api, "/batteries", pack_body(1, colour="red"), "manufacturer")) == {"colour"}
    problem_of(post(api, "/batteries", pack_body(1, energy_kwh=99), "manufacturer"), 422, "energy_kwh 99")
    problem_of(post(api, "/batteries", pack_body(1, level="cell"), "manufacturer"), 422, "level 'cell'")

    problem_of(post(api, "/batteries", pack_body(1), None), 401, "API key")
    bad_key = api.client.post("/api/v1/batteries", json=pack_body(1), headers={"Authorization": "Bearer x"})
    problem_of(bad_key, 401, "invalid or revoked")
    assert not api.service.exists(code(1))

    assert post(api, "/batteries", pack_body(1), "manufacturer").status_code == 201
    conflict = post(api, "/batteries", pack_body(1, mass_kg=111), "manufacturer")
    problem_of(conflict, 409, "already recorded with different data (mass_kg)")


# ------------------------------------------------------------------------------ lifecycle
def test_a_battery_is_delivered_installed_removed_reinstalled_and_retired_through_the_api(api: Api) -> None:
    pack = produced(api, 1)
    handed = post(
        api,
        f"/batteries/{pack}/deliver",
        {"receiver_id": api.cast.vehicle_maker, "occurred_at": "2024-07-25T10:00:00"},
        "manufacturer",
    )
    assert handed.status_code == 200, handed.text
    assert handed.json()["events"] == [f"{pack}:Delivered"]
    assert handed.json()["notification_id"] == head(api)
    assert handed.json()["battery"]["state"] == "produced"  # still new: now the vehicle maker's
    assert handed.json()["battery"]["holder"]["id"] == api.cast.vehicle_maker
    assert api.service.history(pack)[-1].occurred_at == at(2024, 7, 25)
    installed = post(
        api, f"/batteries/{pack}/install", {"vin": VIN, "occurred_at": "2024-08-01T10:00:00"}, "vehicle_maker"
    )
    assert installed.status_code == 200, installed.text
    assert installed.json()["events"] == [f"{pack}:Installed"]
    assert installed.json()["notification_id"] == head(api)
    assert installed.json()["battery"]["state"] == "installed"
    assert installed.json()["battery"]["vin"] == VIN
    # A time without a zone is China Standard Time.
    assert api.service.history(pack)[-1].occurred_at == at(2024, 8, 1)

    removed = post(
        api,
        f"/batteries/{pack}/remove",
        {"reason": "repair", "occurred_at": "2025-03-01T09:00:00+08:00"},
        "vehicle_maker",
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["battery"]["state"] == "removed"
    reinstalled = post(
        api,
        f"/batteries/{pack}/install",
        {"vin": VIN, "occurred_at": "2025-03-10T09:00:00Z"},
        "vehicle_maker",
    )
    assert reinstalled.json()["battery"]["state"] == "installed"
    retired_answer = post(
        api,
        f"/batteries/{pack.lower()}/retire",
        {"reason": "capacity below 80%", "state_of_health_pct": 78.5},
        "vehicle_maker",
    )
    assert retired_answer.status_code == 200, retired_answer.text
    assert retired_answer.json()["battery"]["state"] == "retired"
    assert api.service.history(pack)[-1].state_of_health_pct == 78.5
    assert names(api, pack) == ["Produced", "Delivered", "Installed", "Removed", "Installed", "Retired"]


def test_a_lifecycle_write_with_a_request_id_is_answered_again_not_recorded_twice(api: Api) -> None:
    pack = delivered(api, 1)
    body = {"vin": VIN, "request_id": "install-42"}
    first = post(api, f"/batteries/{pack}/install", body, "vehicle_maker")
    again = post(api, f"/batteries/{pack}/install", body, "vehicle_maker")
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["replayed"] is False and again.json()["replayed"] is True
    assert again.json()["events"] == []
    assert again.json()["notification_id"] >= first.json()["notification_id"]
    assert again.json()["battery"]["state"] == "installed"
    assert names(api, pack) == ["Produced", "Delivered", "Installed"]

    reused = post(
        api, f"/batteries/{pack}/retire", {"reason": "worn", "request_id": "install-42"}, "vehicle_maker"
    )
    problem_of(reused, 422, "request id 'install-42' was already used to install")
    # Without a request id a repeat is a new request, which the state refuses.
    problem_of(post(api, f"/batteries/{pack}/install", {"vin": VIN}, "vehicle_maker"), 409, "cannot install")


def test_lifecycle_writes_are_refused_with_problems_naming_what_is_wrong(api: Api) -> None:
    pack = delivered(api, 1)  # so that only what each request gets wrong refuses it
    wrong_state = post(api, f"/batteries/{pack}/remove", {"reason": "repair"}, "vehicle_maker")
    body = problem_of(wrong_state, 409, f"battery {pack} is produced: cannot remove; allowed now:")
    assert body["type"] == "/problems/lifecycle-violation"

    problem_of(
        post(api, f"/batteries/{pack}/install", {"vin": VIN}, "recycler"), 403, "needs the role vehicle_maker"
    )
    problem_of(post(api, f"/batteries/{pack}/install", {"vin": VIN}, None), 401)
    problem_of(
        post(api, f"/batteries/{code(99)}/install", {"vin": VIN}, "vehicle_maker"), 404, "not registered"
    )
    bad = post(api, f"/batteries/{pack[:16]}Z{pack[17:]}/install", {"vin": VIN}, "vehicle_maker")
    assert problem_of(bad, 422, "day character 'Z'")["segment"] == "production date"
    both = {"vin": VIN, "site": "Changsha"}
    problem_of(post(api, f"/batteries/{pack}/install", both, "vehicle_maker"), 422, "either a VIN")
    problem_of(post(api, f"/batteries/{pack}/install", {"vin": "SHORT"}, "vehicle_maker"), 422, "VIN 'SHORT'")

    assert invalid_fields(post(api, f"/batteries/{pack}/retire", {}, "vehicle_maker")) == {"reason"}
    too_healthy = {"reason": "worn", "state_of_health_pct": 150}
    assert invalid_fields(post(api, f"/batteries/{pack}/retire", too_healthy, "manufacturer")) == {
        "state_of_health_pct"
    }
    assert invalid_fields(post(api, f"/batteries/{pack}/remove", {"reason": "fun"}, "vehicle_maker")) == {
        "reason"
    }
    assert invalid_fields(post(api, f"/batteries/{pack}/install", {"vim": VIN}, "vehicle_maker")) == {"vim"}
    not_a_time = {"vin": VIN, "occurred_at": "yesterday"}
    assert invalid_fields(post(api, f"/batteries/{pack}/install", not_a_time, "vehicle_maker")) == {
        "occurred_at"
    }
    future = {"vin": VIN, "occurred_at": "2099-01-01T00:00:00+08:00"}
    problem_of(post(api, f"/batteries/{pack}/install", future, "vehicle_maker"), 422, "in the future")
    assert names(api, pack) == ["Produced", "Delivered"]


def test_an_event_dated_before_the_previous_one_needs_the_late_correction_flag(api: Api) -> None:
    pack = delivered(api, 1)
    install = {"vin": VIN, "occurred_at": "2025-03-01T10:00:00+08:00"}
    assert post(api, f"/batteries/{pack}/install", install, "vehicle_maker").status_code == 200
    earlier = {"reason": "worn", "occurred_at": "2025-02-01T10:00:00+08:00"}
    problem_of(post(api, f"/batteries/{pack}/retire", earlier, "vehicle_maker"), 409, "late correction")
    corrected = post(api, f"/batteries/{pack}/retire", {**earlier, "late_correction": True}, "vehicle_maker")
    assert corrected.status_code == 200, corrected.text
    assert api.service.history(pack)[-1].late_correction is True


def test_a_handover_says_whether_the_receiver_is_whitelisted(api: Api) -> None:
    good, bad = retired(api, 1), retired(api, 2)
    body = {"receiver_id": api.cast.recycler, "activity": "recycling", "request_id": "handover-1"}
    compliant = post(api, f"/batteries/{good}/handover", body, "vehicle_maker")
    assert compliant.status_code == 200, compliant.text
    assert compliant.json()["compliant"] is True and compliant.json()["warning"] is None
    assert compliant.json()["battery"]["holder"]["id"] == api.cast.recycler
    replay = post(api, f"/batteries/{good}/handover", body, "vehicle_maker")
    assert replay.json()["replayed"] is True and replay.json()["compliant"] is True

    informal = {
        "receiver_id": api.cast.informal_recycler,
        "activity": "recycling",
        "request_id": "handover-2",
    }
    flagged = post(api, f"/batteries/{bad}/handover", informal, "vehicle_maker")
    assert flagged.status_code == 200, flagged.text
    assert flagged.json()["compliant"] is False
    assert "not whitelisted for recycling" in flagged.json()["warning"]
    assert flagged.json()["battery"]["flags"] == ["non-compliant handover"]
    again = post(api, f"/batteries/{bad}/handover", informal, "vehicle_maker")
    assert again.json()["replayed"] is True and again.json()["compliant"] is False

    no_longer_held = {"receiver_id": api.cast.recycler, "activity": "recycling"}
    # it just handed it over itself: a conflict to read again (409); anyone else is refused (403)
    handover = f"/batteries/{good}/handover"
    problem_of(post(api, handover, no_longer_held, "vehicle_maker"), 409, "just done so")
    problem_of(post(api, handover, no_longer_held, "outlet_operator"), 403, "do not hold")
    unknown_activity = {"receiver_id": api.cast.recycler, "activity": "burning"}
    assert invalid_fields(post(api, f"/batteries/{good}/handover", unknown_activity, "recycler")) == {
        "activity"
    }
    unknown_receiver = {"receiver_id": "91110000600037341L", "activity": "recycling"}
    problem_of(post(api, f"/batteries/{retired(api, 3)}/handover", unknown_receiver, "vehicle_maker"), 404)


def test_a_recycler_records_the_materials_it_recovered(api: Api) -> None:
    pack = handed_over(api, 1, "recycler", "recycling")
    missing_li = {k: v for k, v in MATERIALS.items() if k != "Li"}
    problem_of(post(api, f"/batteries/{pack}/recycle", {"recovered_kg": missing_li}, "recycler"), 422, "Li")
    too_much = {**MATERIALS, "Fe": 500}
    problem_of(
        post(api, f"/batteries/{pack}/recycle", {"recovered_kg": too_much}, "recycler"), 422, "more than"
    )
    problem_of(post(api, f"/batteries/{pack}/recycle", {"recovered_kg": MATERIALS}, "informal_recycler"), 403)

    body = {"recovered_kg": MATERIALS, "request_id": "recycle-1"}
    recycled = post(api, f"/batteries/{pack}/recycle", body, "recycler")
    assert recycled.status_code == 200, recycled.text
    assert recycled.json()["events"] == [f"{pack}:Recycled"]
    assert recycled.json()["battery"]["state"] == "recycled"
    assert post(api, f"/batteries/{pack}/recycle", body, "recycler").json()["replayed"] is True
    ended = post(api, f"/batteries/{pack}/recycle", {"recovered_kg": MATERIALS}, "recycler")
    problem_of(ended, 409, "its life has ended")
    assert names(api, pack)[-1] == "Recycled" and names(api, pack).count("Recycled") == 1


def test_a_second_life_product_is_made_from_retired_packs_and_linked_to_them(api: Api) -> None:
    originals = [handed_over(api, n, "cascade_user", "cascade_use") for n in (1, 2)]
    body = {
        "product_code": PRODUCT,
        "other_originals": [originals[1]],
        "rated_capacity_ah": 150,
        "nominal_voltage_v": 200,
        "energy_kwh": 30,
        "mass_kg": 220,
        "occurred_at": "2025-08-01T09:00:00",
    }
    refused = post(api, f"/batteries/{originals[0]}/cascade-reuse", body, "recycler")
    problem_of(refused, 403, "needs the role cascade_user")
    problem_of(
        post(
            api, f"/batteries/{originals[0]}/cascade-reuse", {**body, "late_correction": True}, "cascade_user"
        ),
        422,
    )

    made = post(api, f"/batteries/{originals[0]}/cascade-reuse", body, "cascade_user")
    assert made.status_code == 201, made.text
    answer = made.json()
    assert answer["events"] == [
        f"{PRODUCT}:Produced",
        f"{originals[0]}:CascadeReused",
        f"{originals[1]}:CascadeReused",
    ]
    assert answer["originals"] == originals
    assert answer["battery"]["code"] == PRODUCT and answer["battery"]["second_life"] is True
    assert made.headers["location"] == f"/api/v1/batteries/{PRODUCT}"
    assert api.service.battery(originals[0]).second_life_product == PRODUCT

    replay = post(api, f"/batteries/{originals[0]}/cascade-reuse", body, "cascade_user")
    assert replay.status_code == 200, replay.text
    assert replay.json()["replayed"] is True and replay.json()["events"] == []

    site = {"site": "Changsha base station 17", "application": "backup", "occurred_at": "2025-08-02T10:00:00"}
    installed = post(api, f"/batteries/{PRODUCT}/install", site, "cascade_user")
    assert installed.json()["battery"]["holder"] == {
        "kind": "site",
        "id": "Changsha base station 17",
        "responsible_id": api.cast.cascade_user,
    }
    not_handed_over = retired(api, 3)
    other = {**body, "product_code": PRODUCT[:-1] + "2", "other_originals": []}
    problem_of(
        post(api, f"/batteries/{not_handed_over}/cascade-reuse", other, "cascade_user"),
        409,
        "cannot cascade-reuse",
    )
    problem_of(
        post(api, f"/batteries/{originals[0]}/cascade-reuse", other, "cascade_user"), 409, "second-life"
    )
    twice = {**other, "other_originals": [not_handed_over]}
    problem_of(
        post(api, f"/batteries/{not_handed_over}/cascade-reuse", twice, "cascade_user"), 422, "listed twice"
    )


# ------------------------------------------------------------------------------------ bulk
def bulk(
    api: Api, body: bytes | str | Iterator[bytes], content_type: str, member: str | None = "manufacturer"
):
    headers = {**api.auth(member), "Content-Type": content_type}
    content = body.encode() if isinstance(body, str) else body
    return api.client.post("/api/v1/batteries/bulk", content=content, headers=headers)


def jsonl(*rows: dict[str, Any] | str) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)


def test_a_json_lines_body_is_imported_with_refused_rows_reported_by_line(api: Api) -> None:
    body = jsonl(
        pack_body(1),
        pack_body(2, code="3CAPX120A1B2C3R7F0000002"),
        "",
        "{not json",
        pack_body(3, rated_capacity_ah="abc"),
        pack_body(4, code=code(4, maker="4BY")),
        pack_body(5, level="pack"),
    )
    response = bulk(api, body, "application/x-ndjson")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["stored"], report["already_present"], report["refused_count"]) == (
        6,
        2,
        0,
        4,
    )
    refused = {r["line"]: r for r in report["refused"]}
    assert sorted(refused) == [2, 4, 5, 6]
    assert "battery type 'X' at position 5" in refused[2]["reason"]
    assert refused[2]["code"] == "3CAPX120A1B2C3R7F0000002"
    assert "not valid JSON" in refused[4]["reason"] and refused[4]["code"] is None
    assert "rated_capacity_ah must be a number" in refused[5]["reason"]
    assert "is not one of yours" in refused[6]["reason"]
    assert report["notification_id"] == head(api)
    assert api.service.exists(code(1)) and api.service.exists(code(5))

    again = bulk(api, body, "application/jsonl").json()
    assert (again["stored"], again["already_present"], again["refused_count"]) == (0, 2, 4)


def test_a_csv_body_is_imported_with_refused_rows_reported_by_line(api: Api) -> None:
    body = (
        "\ufeffcode,rated_capacity_ah,nominal_voltage_v,energy_kwh,mass_kg,level\r\n"
        f"{code(1)},150,100,15,110,pack\r\n"
        f"{code(2)},150,100,15,,pack\r\n"
        f"{code(3)},150,100,15,110,cell\r\n"
        f"{code(4)},150,100,15,110,pack\r\n"
    )
    response = bulk(api, body, "text/csv; charset=utf-8")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["stored"], report["refused_count"]) == (4, 2, 2)
    assert [(r["line"], r["code"]) for r in report["refused"]] == [(3, code(2)), (4, code(3))]
    assert report["refused"][0]["reason"] == "missing mass_kg"
    assert "level 'cell'" in report["refused"][1]["reason"]
    assert api.service.battery(code(4)).state == "produced"


def test_a_bulk_body_that_cannot_be_imported_is_refused_before_anything_is_stored(api: Api) -> None:
    before = head(api)
    bad_header = f"code,capacity,nominal_voltage_v,energy_kwh,mass_kg\n{code(1)},150,100,15,110\n"
    problem_of(
        bulk(api, bad_header, "text/csv"),
        422,
        "missing column(s) rated_capacity_ah",
        "unknown column(s) capacity",
    )
    problem_of(bulk(api, b"code\n\xff\xfe\n", "text/csv"), 422, "not UTF-8")
    problem_of(bulk(api, jsonl(pack_body(1)), "application/json"), 415, "application/x-ndjson")
    problem_of(bulk(api, jsonl(pack_body(1)), "text/plain"), 415, "text/csv")
    problem_of(bulk(api, jsonl(pack_body(1)), "application/x-ndjson; charset=latin-1"), 415, "charset")
    problem_of(bulk(api, jsonl(pack_body(1)), "application/x-ndjson", member="recycler"), 403, "manufacturer")
    problem_of(bulk(api, jsonl(pack_body(1)), "application/x-ndjson", member=None), 401)
    assert head(api) == before


def test_a_bulk_body_over_the_limit_is_refused_with_or_without_a_content_length(database_url: str) -> None:
    with api_on(database_url, max_body_bytes=2048) as api:
        before = head(api)
        rows = jsonl(*(pack_body(n) for n in range(1, 40)))
        assert len(rows.encode()) > 2048
        problem_of(bulk(api, rows, "application/x-ndjson"), 413, "limit is 2048 bytes")

        def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
            data = rows.encode()
            for start in range(0, len(data), 500):
                yield data[start : start + 500]

        problem_of(bulk(api, chunks(), "application/x-ndjson"), 413, "limit of 2048 bytes")
        assert head(api) == before

        small = jsonl(pack_body(1), pack_body(2))
        streamed = bulk(api, iter([small[:100].encode(), small[100:].encode()]), "application/x-ndjson")
        assert streamed.status_code == 200, streamed.text
        assert streamed.json()["stored"] == 2


def test_a_bulk_body_is_streamed_to_the_importer_not_read_whole(api: Api, monkeypatch) -> None:
    from starlette.requests import Request

    async def read_whole(self: Request) -> bytes:
        raise AssertionError("the bulk route must stream the body, not read it whole")

    monkeypatch.setattr(Request, "body", read_whole)
    data = jsonl(*(pack_body(n) for n in range(1, 1201))).encode()
    chunks = (data[start : start + 65536] for start in range(0, len(data), 65536))
    response = bulk(api, chunks, "application/x-ndjson")
    assert response.status_code == 200, response.text
    assert (response.json()["rows"], response.json()["stored"]) == (1200, 1200)
    assert api.service.battery(code(1200)).state == "produced"
