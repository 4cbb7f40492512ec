"""GS1 EPCIS 2.0 over HTTP, on SQLite and PostgreSQL (the ``api`` fixture): one battery's document
by access tier, the events query with its filters and ``nextPageToken`` paging, each event's
ledger leaf, capture (atomic, authorised as the same request, refusals naming the event), and the
``/loc`` and ``/party`` pages the documents' identifiers resolve to."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text

from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Deliver, Reporting
from batterytrace.events.epcis_mapping import LEDGER_LEAF
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.epcis.identifiers import Identifiers
from batterytrace.trace.settings import Settings
from tests.utils.api import Api
from tests.utils.cast import register_cast
from tests.utils.epcis import export, schema_errors, without_times_of_recording
from tests.utils.views import VIN, VariedStore, at, varied_store

LD_JSON = "application/ld+json"


@pytest.fixture
def store(api: Api) -> VariedStore:
    """The varied story, with every view (the ledger too) caught up with it: the service's
    follower applies events in the background, and a query answered while it is half-way names
    the ledger leaves of some events only (a page read later would name more)."""
    made = varied_store(api.service, api.cast)
    api.client.app.state.runner.catch_up()  # type: ignore[attr-defined]
    return made


def document(api: Api, code: str, member: str | None) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/batteries/{code}/epcis", headers=api.auth(member))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(LD_JSON)
    body = response.json()
    assert schema_errors(body) == []
    return body


def test_a_battery_document_by_access_tier(api: Api, store: VariedStore) -> None:
    events = {
        m: document(api, store.pack, m)["epcisBody"]["eventList"]
        for m in ("regulator", "outlet_operator", None)
    }
    assert len(events["regulator"]) == len(api.service.history(store.pack))
    assert events[None] == []  # exact times and parties are not public
    assert 0 < len(events["outlet_operator"]) < len(events["regulator"])
    assert events["outlet_operator"][0]["bizStep"] == "collecting"
    assert VIN in json.dumps(events["regulator"]) and VIN not in json.dumps(events["outlet_operator"])
    assert document(api, store.pack, "informal_recycler")["epcisBody"]["eventList"] == []
    missing = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", at(2024, 7, 15).date(), 999)
    assert api.client.get(f"/api/v1/batteries/{missing}/epcis").status_code == 404


def query(api: Api, member: str | None, **params: Any) -> Any:
    return api.client.get("/api/v1/epcis/events", params=params, headers=api.auth(member))


def test_the_events_query_filters_and_pages(api: Api, store: VariedStore) -> None:
    assert query(api, None).status_code == 401
    whole = query(api, "regulator", perPage=1000)
    assert whole.status_code == 200 and "link" not in whole.headers
    assert schema_errors(whole.json()) == []
    every = whole.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    paged, url, pages = [], "/api/v1/epcis/events?perPage=5", 0
    while url:
        response = api.client.get(url, headers=api.auth("regulator"))
        paged += response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        link = response.headers.get("link")
        url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None
        pages += 1
    assert paged == every and pages >= len(every) // 5
    pack = f"{api.service.settings.public_url}/b/{store.pack}"
    collected = query(api, "regulator", MATCH_epc=pack, EQ_bizStep="collecting").json()
    assert [e["bizStep"] for e in collected["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == [
        "collecting"
    ]
    in_2025 = query(
        api,
        "regulator",
        MATCH_epc=store.pack,
        GE_eventTime="2025-01-01T00:00:00+08:00",
        LT_eventTime="2026-01-01T00:00:00+08:00",
    )
    times = [
        e["eventTime"][:4] for e in in_2025.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    ]
    assert times and set(times) == {"2025"}
    late = query(api, "regulator", GE_recordTime="2099-01-01T00:00:00+08:00").json()
    assert late["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
    outlet = query(api, "outlet_operator", MATCH_epc=pack).json()["epcisBody"]["queryResults"]["resultsBody"]
    assert outlet["eventList"][0]["bizStep"] == "collecting" and VIN not in json.dumps(outlet)
    assert query(api, "regulator", nextPageToken="x1").status_code == 422


def _delivery_document(tmp_path: Any) -> tuple[str, dict[str, Any]]:
    """A battery commissioned and shipped by the cast's manufacturer, as another store exports it."""
    other = BatteryTrace(Settings(database_url=f"sqlite:///{tmp_path / 'partner.db'}"))
    try:
        cast = register_cast(other)
        code = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", at(2024, 7, 15).date(), 77)
        spec = ProductionSpec(
            code=code, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110
        )
        other.produce(actor_id=cast.manufacturer, spec=spec)
        delivery = Reporting(occurred_at=at(2024, 7, 25))
        other.execute(
            Deliver(actor_id=cast.manufacturer, code=code, receiver_id=cast.vehicle_maker, reporting=delivery)
        )
        return code, export(other, [code])
    finally:
        other.close()


def test_capture_records_a_participants_own_events_once(api: Api, tmp_path: Any) -> None:
    code, sent = _delivery_document(tmp_path)
    response = api.client.post("/api/v1/epcis/capture", json=sent, headers=api.auth("manufacturer"))
    assert response.status_code == 201, response.text
    assert [e.split(":")[1] for e in response.json()["events"]] == ["Produced", "Delivered"]
    again = api.client.post("/api/v1/epcis/capture", json=sent, headers=api.auth("manufacturer"))
    assert again.status_code == 200 and again.json()["replayed"]
    recorded = document(api, code, "regulator")
    assert without_times_of_recording(recorded) == without_times_of_recording(sent)


@pytest.mark.parametrize(
    ("member", "change", "status", "reason"),
    [
        ("vehicle_maker", None, 403, "event 0: the event was done by"),
        ("manufacturer", lambda e: e.update(bizStep="inspecting"), 422, "event 1: a ObjectEvent OBSERVE"),
        (None, None, 401, ""),
    ],
    ids=["someone else's events", "unknown step", "public"],
)
def test_capture_refuses_naming_the_event(
    api: Api, tmp_path: Any, member: str | None, change: Any, status: int, reason: str
) -> None:
    code, sent = _delivery_document(tmp_path)
    if change:
        change(sent["epcisBody"]["eventList"][1])
    response = api.client.post("/api/v1/epcis/capture", json=sent, headers=api.auth(member))
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    assert not api.service.exists(code)  # all or nothing


def test_the_places_and_parties_a_document_names_resolve(api: Api) -> None:
    cast = api.cast
    point = api.client.get(f"/loc/{cast.collection_point}")
    assert point.status_code == 200 and point.json()["name"] == "Chaoyang collection outlet"
    party = api.client.get(f"/party/{cast.recycler}")
    assert party.status_code == 200 and party.json()["name"] == "Ganzhou Recycling"
    station = api.client.get(f"/loc/{cast.vehicle_maker}/{quote('Futian 03', safe='')}")
    assert station.status_code == 200 and station.json()["station"] == "Futian 03"
    assert api.client.get("/party/91110000000000000X").status_code in (404, 422)


def test_documents_and_queries_name_each_events_ledger_leaf(api: Api, store: VariedStore) -> None:
    """Once the ledger has logged them (the follower, caught up here), every event a caller reads
    names its leaf: the battery's document and the events query alike, the same leaf for the
    same event whoever reads it."""
    runner = api.client.app.state.runner  # type: ignore[attr-defined]
    runner.catch_up(["ledger"])
    with runner.engine.connect() as connection:
        held = {
            (row.aggregate, row.version): {"bt:index": row.idx, "bt:sha256": bytes(row.hash).hex()}
            for row in connection.execute(
                text("SELECT aggregate, version, idx, hash FROM ledger_leaves WHERE aggregate = :code"),
                {"code": store.pack},
            )
        }
    versions = {
        Identifiers(api.service.settings.public_url).event_id(store.pack, e.originator_version): (
            store.pack,
            e.originator_version,
        )
        for e in api.service.history(store.pack)
    }
    regulator = document(api, store.pack, "regulator")["epcisBody"]["eventList"]
    assert [e[LEDGER_LEAF] for e in regulator] == [held[versions[e["eventID"]]] for e in regulator]
    outlet = document(api, store.pack, "outlet_operator")["epcisBody"]["eventList"]
    assert outlet and all(e[LEDGER_LEAF] == held[versions[e["eventID"]]] for e in outlet)
    pack = f"{api.service.settings.public_url}/b/{store.pack}"
    queried = query(api, "regulator", MATCH_epc=pack).json()["epcisBody"]["queryResults"]["resultsBody"]
    mine = [e for e in queried["eventList"] if e["eventID"] in versions]
    assert mine and all(e[LEDGER_LEAF] == held[versions[e["eventID"]]] for e in mine)
    assert schema_errors(query(api, "regulator", MATCH_epc=pack).json()) == []
