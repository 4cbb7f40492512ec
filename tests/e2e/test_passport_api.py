"""The EU battery passport over HTTP, on SQLite and PostgreSQL (the ``api`` fixture): model data
posted by the owner of its manufacturer code only, readings by the battery's holder only, the
passport per access tier (public, holder, another party, regulator) with every emitted aspect
valid against the vendored Battery Pass 1.2.0 schema, the status through a life, and the
resolver's JSON-LD."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.utils.api import Api
from tests.utils.batterypass import aspect_errors, model_body, readings_body
from tests.utils.views import VariedStore, varied_store

GENERAL = "urn:samm:io.BatteryPass.GeneralProductInformation:1.2.0#GeneralProductInformation"
PERFORMANCE = "urn:samm:io.BatteryPass.Performance:1.2.0#PerformanceAndDurability"
MATERIALS = "urn:samm:io.BatteryPass.MaterialComposition:1.2.0#MaterialComposition"
LABELS = "urn:samm:io.BatteryPass.Labels:1.2.0#Labeling"


def post_model(api: Api, member: str, body: dict[str, Any]) -> Any:
    return api.client.post("/api/v1/models", json=body, headers=api.auth(member))


@pytest.fixture
def store(api: Api) -> VariedStore:
    """The varied store, with model data for its three models, each posted by its owner."""
    varied = varied_store(api.service, api.cast)
    for model, owner in (
        ("3CAPB12", "manufacturer"),
        ("4BYPB12", "other_manufacturer"),
        ("9CUPB01", "cascade_user"),
    ):
        assert post_model(api, owner, model_body(model)).status_code == 201
    return varied


def passport(api: Api, code: str, member: str | None) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/batteries/{code}/passport", headers=api.auth(member))
    assert response.status_code == 200, response.text
    body = response.json()
    assert aspect_errors(body) == []
    return body


def test_model_data_is_posted_by_the_owner_of_its_manufacturer_code_only(api: Api) -> None:
    body = model_body("3CAPB12")
    assert post_model(api, None, body).status_code == 401
    refused = post_model(api, "other_manufacturer", body)
    assert refused.status_code == 403 and refused.json()["code"] == "model.not_owner"
    assert api.cast.manufacturer not in refused.text  # who owns 3CA is not the caller's to learn
    assert post_model(api, "vehicle_maker", body).status_code == 403  # no manufacturer role
    first = post_model(api, "manufacturer", body)
    assert first.status_code == 201 and first.json()["events"] == ["MODEL-3CAPB12:Posted"]
    again = post_model(api, "manufacturer", body)
    assert again.status_code == 200 and again.json()["replayed"] is True
    changed = post_model(api, "manufacturer", {**body, "warranty_months": 120})
    assert changed.status_code == 201 and changed.json()["events"] == ["MODEL-3CAPB12:Replaced"]
    read = api.client.get("/api/v1/models/3capb12", headers=api.auth("manufacturer"))
    assert read.status_code == 200 and read.json()["warranty_months"] == 120
    assert api.client.get("/api/v1/models/3CAPB12", headers=api.auth("other_manufacturer")).status_code == 403
    assert api.client.get("/api/v1/models/3CAPB12", headers=api.auth("regulator")).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model_code": "3CAXB12"}, None),  # product type X does not exist
        ({"warranty_months": -1}, "warranty_months"),
        ({"extra": "field"}, "extra"),
        ({"manufacturer": {"emailAddress": "x"}}, "manufacturer.webAddress"),
        ({"circularity": None}, "circularity"),
        (  # the code's battery type B is lithium iron phosphate
            {
                "material_composition": {
                    **model_body()["material_composition"],
                    "batteryChemistry": {
                        "shortName": "NMC",
                        "clearName": "lithium nickel manganese cobalt oxide",
                    },
                }
            },
            None,
        ),
    ],
)
def test_a_bad_model_body_is_refused_with_a_problem_naming_the_field(
    api: Api, change: dict[str, Any], field: str | None
) -> None:
    response = post_model(api, "manufacturer", {**model_body(), **change})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if field:
        assert field in {error["field"] for error in response.json()["errors"]}
    assert api.client.get("/api/v1/models/3CAPB12", headers=api.auth("regulator")).status_code == 404


def test_the_passport_by_access_tier_with_readings_by_the_holder(api: Api, store: VariedStore) -> None:
    code = store.others["installed"]  # installed by the vehicle maker, which holds it
    url = f"/api/v1/batteries/{code}/readings"
    before = passport(api, code, "regulator")
    assert PERFORMANCE not in before["aspects"] and PERFORMANCE in before["missing"]
    assert api.client.post(url, json=readings_body(), headers=api.auth("manufacturer")).status_code == 403
    bad = api.client.post(url, json=readings_body(state_of_charge_pct=140), headers=api.auth("vehicle_maker"))
    assert bad.status_code == 422 and "state_of_charge_pct" in bad.text
    missing = {k: v for k, v in readings_body().items() if k != "full_cycles"}
    assert api.client.post(url, json=missing, headers=api.auth("vehicle_maker")).status_code == 422
    sent = api.client.post(url, json=readings_body(request_id="r-1"), headers=api.auth("vehicle_maker"))
    assert sent.status_code == 201, sent.text
    again = api.client.post(url, json=readings_body(request_id="r-1"), headers=api.auth("vehicle_maker"))
    assert again.status_code == 200 and again.json()["replayed"] is True
    # The views follow past the model's and the readings' streams (they are no battery's events).
    after = sent.json()["notification_id"]
    page = api.client.get(f"/b/{code}", params={"format": "json", "after": after, "timeout": 10})
    assert page.status_code == 200 and page.json()["state"] == "installed"

    tiers = {m: passport(api, code, m) for m in ("regulator", "vehicle_maker", "informal_recycler", None)}
    assert [tiers[m]["access"] for m in tiers] == ["authorities", "legitimate_interest", "public", "public"]
    regulator, holder, other, public = tiers.values()
    assert regulator["withheld"] == {} and regulator["missing"] == {}
    assert regulator["aspects"][LABELS]["resultOfTestReport"].endswith("test-reports.pdf")
    assert holder["withheld"] == {LABELS: ["resultOfTestReport"]}
    condition = holder["aspects"][PERFORMANCE]["batteryCondition"]
    assert condition["stateOfCertifiedEnergy"]["stateOfCertifiedEnergyValue"] == 91.5
    assert condition["numberOfFullCycles"]["lastUpdate"].endswith("+08:00")
    assert condition["negativeEvents"][0]["negativeEvent"].startswith("deep discharge")
    general = holder["aspects"][GENERAL]
    assert general["puttingIntoService"] == "2024-08-01T10:00:00+08:00"
    assert general["batteryMass"] > 100 and general["warrentyPeriod"] == "P96M"
    assert general["manufacturerInformation"]["identifier"] == api.cast.manufacturer
    assert other == public
    shown = public["aspects"]
    assert "puttingIntoService" not in shown[GENERAL] and shown[GENERAL]["batteryStatus"] == "Original"
    assert "batteryCondition.stateOfCertifiedEnergy" in public["withheld"][PERFORMANCE]
    assert set(shown[PERFORMANCE]["batteryCondition"]) == {"roundTripEfficiencyat50PerCentCycleLife"}
    assert all(m["isCriticalRawMaterial"] for m in shown[MATERIALS]["batteryMaterials"])
    assert "dismantling.pdf" not in json.dumps(public) and "dismantling.pdf" in json.dumps(holder)

    ld = api.client.get(f"/b/{code}", headers={"Accept": "application/ld+json"})
    assert ld.status_code == 200 and ld.headers["content-type"].startswith("application/ld+json")
    assert ld.json()["@id"].endswith(f"/b/{code}") and ld.json()["aspects"] == shown
    page = api.client.get(f"/b/{code}", headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")


def test_the_status_through_a_life_and_the_end_of_the_passport(api: Api, store: VariedStore) -> None:
    status = {
        stage: passport(api, code, None)["status"]
        for stage, code in store.others.items()
        if stage in ("produced", "installed", "removed", "retired", "collected")
    }
    assert status == {
        "produced": "Original",
        "installed": "Original",
        "removed": "Original",
        "retired": "Waste",
        "collected": "Waste",
    }
    assert passport(api, store.non_compliant, "regulator")["status"] == "Waste"  # handed over
    product = passport(api, store.product, None)
    assert product["status"] == "Repurposed"
    assert [url.rsplit("/", 1)[1] for url in product["links"]["repurposedFrom"]] == store.originals
    for original in store.originals:
        linked = passport(api, original, None)
        assert linked["status"] == "Repurposed"
        assert linked["links"]["repurposedInto"].endswith(f"/b/{store.product}")

    ended = api.client.get(f"/api/v1/batteries/{store.pack}/passport")
    assert ended.status_code == 410 and ended.json()["code"] == "passport.ended"
    resolver = api.client.get(f"/b/{store.pack}", headers={"Accept": "application/ld+json"})
    assert resolver.status_code == 410 and "recycled" in resolver.json()["detail"]
    readings = api.client.post(
        f"/api/v1/batteries/{store.pack}/readings", json=readings_body(), headers=api.auth("recycler")
    )
    assert readings.status_code == 409
    module = api.client.get(f"/api/v1/batteries/{store.modules[0]}/passport")
    assert module.status_code == 404 and module.json()["code"] == "passport.in_pack"


def test_a_removed_battery_installed_in_another_vehicle_is_reused(api: Api, store: VariedStore) -> None:
    """Reinstalled in its own vehicle after a repair a battery stays Original (the ``removed`` one
    was); installed in another vehicle it is Reused (the same purpose, a new use), through later
    repairs, until it retires (``events/passport_status.py``)."""
    code = store.others["removed"]  # by the vehicle maker, from the vehicle it was reinstalled in

    def write(action: str, body: dict[str, Any]) -> None:
        answer = api.client.post(
            f"/api/v1/batteries/{code}/{action}", json=body, headers=api.auth("vehicle_maker")
        )
        assert answer.status_code == 200 and answer.json()["replayed"] is False, answer.text

    assert passport(api, code, None)["status"] == "Original"
    write("install", {"vin": "LFV2A21K0R3000123", "occurred_at": "2025-06-10T10:00:00+08:00"})
    reused = passport(api, code, "regulator")
    assert reused["status"] == reused["aspects"][GENERAL]["batteryStatus"] == "Reused"  # schema-valid
    assert passport(api, code, None)["aspects"][GENERAL]["batteryStatus"] == "Reused"  # a public field
    write("remove", {"reason": "repair", "occurred_at": "2025-07-01T10:00:00+08:00"})
    assert passport(api, code, None)["status"] == "Reused"
    write("retire", {"reason": "capacity below 80%", "occurred_at": "2025-08-01T10:00:00+08:00"})
    assert passport(api, code, None)["status"] == "Waste"
