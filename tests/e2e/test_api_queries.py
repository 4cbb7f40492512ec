"""Reading through HTTP: a battery's lifecycle (shown to each caller as much as it may see), its
history at a past moment, read-your-writes with ``?after=``, and the regulator's reports as JSON
pages and CSV, with their filters, paging and refusals. On SQLite and PostgreSQL, with the
in-process projection follower running (as in a deployment)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pytest

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Collect, Deliver, HandOver, Install, Reporting, Retire
from batterytrace.trace.application import WriteResult
from tests.utils.api import CAST_ROLES, Api, api_on

VIN = "LSVAU2180N2183294"
REPORTS = ("network", "regions", "flows", "monthly", "overdue", "compliance")
PUBLIC_FIELDS = {
    "code",
    "level",
    "chemistry",
    "manufacturer_name",
    "manufacturer_name_en",
    "production_month",
    "state",
    "second_life",
}


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=CHINA_STANDARD_TIME)


RETIRED = at(2026, 9, 1)


def code(level: str, serial: int, *, maker: str = "3CA") -> str:
    return make_battery_code(maker, level, "B", "12", "0A1B2C3", date(2024, 7, 15), serial)


@dataclass
class Store:
    """Batteries written through the application service behind the API."""

    api: Api
    last: int = 0
    codes: dict[str, str] = field(default_factory=dict)

    def note(self, result: WriteResult) -> WriteResult:
        self.last = max(self.last, result.notification_id or 0)
        return result

    def produce(self, battery: str, *, components: tuple[str, ...] = (), owner: str = "manufacturer") -> str:
        spec = ProductionSpec(
            code=battery,
            rated_capacity_ah=150,
            nominal_voltage_v=100 if battery[3] == "P" else 50,
            energy_kwh=15 if battery[3] == "P" else 7.5,
            mass_kg=110,
            components=components,
        )
        self.note(self.api.service.produce(actor_id=getattr(self.api.cast, owner), spec=spec))
        return battery

    def deliver(self, battery: str) -> None:
        """Its manufacturer delivers the new battery to the vehicle maker, which may then install it."""
        service, cast = self.api.service, self.api.cast
        maker = service.battery(battery).manufacturer_id
        self.note(
            service.execute(
                Deliver(
                    actor_id=maker,
                    code=battery,
                    receiver_id=cast.vehicle_maker,
                    reporting=Reporting(occurred_at=at(2024, 7, 25)),
                )
            )
        )

    def retire(self, battery: str, *, retired: datetime = RETIRED) -> None:
        service, cast = self.api.service, self.api.cast
        self.deliver(battery)
        self.note(
            service.execute(
                Install(
                    actor_id=cast.vehicle_maker,
                    code=battery,
                    vin=VIN,
                    reporting=Reporting(occurred_at=at(2024, 8, 1)),
                )
            )
        )
        self.note(
            service.execute(
                Retire(
                    actor_id=cast.vehicle_maker,
                    code=battery,
                    reason="worn",
                    reporting=Reporting(occurred_at=retired),
                )
            )
        )

    def collect(self, battery: str) -> None:
        cast = self.api.cast
        self.note(
            self.api.service.execute(
                Collect(
                    actor_id=cast.outlet_operator,
                    code=battery,
                    collection_point_id=cast.collection_point,
                    reporting=Reporting(occurred_at=at(2026, 10, 1)),
                )
            )
        )

    def hand_over(self, battery: str, receiver: str) -> WriteResult:
        cast = self.api.cast
        return self.note(
            self.api.service.execute(
                HandOver(
                    actor_id=cast.outlet_operator,
                    code=battery,
                    receiver_id=getattr(cast, receiver),
                    activity="recycling",
                )
            )
        )


@pytest.fixture
def store(api: Api) -> Store:
    """A pack built from two modules, retired, collected and handed to the whitelisted recycler;
    one pack handed to the recycler off the whitelist; one retired in January, never collected
    (overdue); one of the other manufacturer, only produced."""
    s = Store(api)
    modules = [s.produce(code("M", 1)), s.produce(code("M", 2))]
    pack = s.produce(code("P", 3), components=tuple(modules))
    s.retire(pack)
    s.collect(pack)
    s.hand_over(pack, "recycler")
    informal = s.produce(code("P", 4))
    s.retire(informal)
    s.collect(informal)
    s.hand_over(informal, "informal_recycler")
    overdue = s.produce(code("P", 5))
    s.retire(overdue, retired=at(2026, 1, 5))
    other = s.produce(code("P", 6, maker="4BY"), owner="other_manufacturer")
    s.codes = {"pack": pack, "module": modules[0], "informal": informal, "overdue": overdue, "other": other}
    return s


def get(api: Api, path: str, member: str | None = None, **params: Any) -> Any:
    return api.client.get(path, params=params, headers=api.auth(member))


# ------------------------------------------------------------------------------- lifecycle
def test_the_public_sees_what_a_battery_is_and_its_lineage_but_no_ids_vin_or_actors(store: Store) -> None:
    api, pack = store.api, store.codes["pack"]
    response = get(api, f"/api/v1/batteries/{pack}", after=store.last)
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["access"] == "public"
    assert set(document) == {"access", "battery", "lineage"}
    assert set(document["battery"]) == PUBLIC_FIELDS
    assert document["battery"] == {
        "code": pack,
        "level": "pack",
        "chemistry": "lithium iron phosphate",
        "manufacturer_name": "Ningde Cells Co.",
        "manufacturer_name_en": None,  # registered without an English name
        "production_month": "2024-07",
        "state": "handed over",
        "second_life": False,
    }
    components = document["lineage"]["components"]
    assert [(n["code"], n["state"]) for n in components] == [
        (store.codes["module"], "assembled"),
        (code("M", 2), "assembled"),
    ]
    leaked = [value for value in (VIN, *(getattr(api.cast, m) for m in CAST_ROLES)) if value in response.text]
    assert leaked == []


LIFE = ["Produced", "Delivered", "Installed", "Retired", "Collected", "HandedOver"]
# What each member reads of the pack: the timeline from its first involvement on (events/disclosure.py)
# and whether it sees the VIN (it made the battery, or had the vehicle).
INVOLVED = {
    "regulator": (LIFE, True),
    "manufacturer": (LIFE, True),  # made it
    "vehicle_maker": (LIFE[1:], True),  # received it, installed and retired it
    "outlet_operator": (LIFE[4:], False),  # collected and handed it over
    "recycler": (LIFE[5:], False),  # received it and holds it now, has not acted on it yet
}
ACCESS = {
    **dict.fromkeys(INVOLVED, "full"),
    "other_manufacturer": "public",
    "dismantler": "public",
    "informal_recycler": "public",
}


def test_participants_see_everything_about_batteries_they_were_involved_with(store: Store) -> None:
    api, pack = store.api, store.codes["pack"]
    for member, access in ACCESS.items():
        response = get(api, f"/api/v1/batteries/{pack}", member, after=store.last)
        assert response.status_code == 200, (member, response.text)
        document = response.json()
        assert document["access"] == access, member
        if access == "public":
            assert set(document["battery"]) == PUBLIC_FIELDS, member
            assert "timeline" not in document and VIN not in response.text, member
            continue
        battery = document["battery"]
        timeline, knows_vin = INVOLVED[member]
        assert battery["vin"] == (VIN if knows_vin else None), member
        assert (VIN in response.text) == knows_vin, member
        assert battery["manufacturer_id"] == api.cast.manufacturer
        assert battery["holder"] == {
            "kind": "enterprise",
            "id": api.cast.recycler,
            "responsible_id": api.cast.recycler,
        }
        assert [e["event"] for e in document["timeline"]] == timeline, member
        assert document["timeline"][-1]["details"]["receiver_id"] == api.cast.recycler
        by_event = {e["event"]: e for e in document["timeline"]}
        if "Delivered" in by_event:
            assert by_event["Delivered"]["actor_name"] == "Ningde Cells Co."
            assert by_event["Delivered"]["details"]["receiver_id"] == api.cast.vehicle_maker
            assert by_event["Installed"]["actor_name"] == "Shenzhen Motors"
        assert [n["code"] for n in document["lineage"]["components"]] == [code("M", 1), code("M", 2)]


def test_a_module_shows_the_pack_it_went_into(store: Store) -> None:
    document = get(store.api, f"/api/v1/batteries/{store.codes['module']}", after=store.last).json()
    assert [(n["code"], n["level"]) for n in document["lineage"]["parent_packs"]] == [
        (store.codes["pack"], "pack")
    ]


def test_an_unknown_battery_is_404_and_an_invalid_code_422_naming_the_segment(store: Store) -> None:
    api = store.api
    unknown = get(api, f"/api/v1/batteries/{code('P', 99)}", "regulator")
    assert unknown.status_code == 404, unknown.text
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert code("P", 99) in unknown.json()["detail"]
    invalid = get(api, "/api/v1/batteries/3CAPB120A1B2C3R7F00001")
    assert invalid.status_code == 422, invalid.text
    assert invalid.json()["segment"] == "length"
    bad_type = get(api, f"/api/v1/batteries/3CAXB{code('P', 1)[5:]}")
    assert bad_type.status_code == 422, bad_type.text
    assert bad_type.json()["segment"]


def test_a_lower_case_code_finds_the_battery(store: Store) -> None:
    response = get(store.api, f"/api/v1/batteries/{store.codes['pack'].lower()}", after=store.last)
    assert response.status_code == 200, response.text
    assert response.json()["battery"]["code"] == store.codes["pack"]


# ------------------------------------------------------------------------- read your writes
def test_after_makes_the_next_read_include_the_write_while_the_follower_runs(api: Api) -> None:
    store = Store(api)
    battery = store.produce(code("P", 21))
    store.deliver(battery)
    for step in range(3):  # the follower polls; each read must see the write it names
        if step == 0:
            result = api.service.execute(
                Install(
                    actor_id=api.cast.vehicle_maker,
                    code=battery,
                    vin=VIN,
                    reporting=Reporting(occurred_at=at(2024, 8, 1)),
                )
            )
            expected = "installed"
        elif step == 1:
            result = api.service.execute(Retire(actor_id=api.cast.vehicle_maker, code=battery, reason="worn"))
            expected = "retired"
        else:
            result = api.service.execute(
                Collect(
                    actor_id=api.cast.outlet_operator,
                    code=battery,
                    collection_point_id=api.cast.collection_point,
                )
            )
            expected = "collected"
        assert result.notification_id
        if step == 1:  # the header works as well as the query parameter
            response = api.client.get(
                f"/api/v1/batteries/{battery}", headers={"X-After-Notification": str(result.notification_id)}
            )
        else:
            response = get(api, f"/api/v1/batteries/{battery}", after=result.notification_id)
        assert response.status_code == 200, response.text
        assert response.json()["battery"]["state"] == expected


def test_a_battery_written_but_not_yet_in_the_views_is_waited_for_with_after(api: Api) -> None:
    store = Store(api)
    battery = store.produce(code("P", 22))
    response = get(api, f"/api/v1/batteries/{battery}", after=store.last, timeout=10)
    assert response.status_code == 200, response.text


def test_views_that_do_not_reach_after_in_time_answer_503(database_url: str) -> None:
    with api_on(database_url, run_projections=False) as api:  # nothing moves the views forward
        store = Store(api)
        battery = store.produce(code("P", 1))
        response = get(api, f"/api/v1/batteries/{battery}", after=store.last, timeout=0.2)
    assert response.status_code == 503, response.text
    assert response.json()["type"].endswith("views-behind")
    assert response.headers["Retry-After"]


# ---------------------------------------------------------------------------------- history
def test_history_as_of_shows_the_battery_as_it_stood_then(store: Store) -> None:
    api, pack = store.api, store.codes["pack"]
    response = get(
        api, f"/api/v1/batteries/{pack}/history", "vehicle_maker", as_of="2025-06-01T00:00:00+08:00"
    )
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["battery"]["state"] == "installed"
    assert document["battery"]["vin"] == VIN
    assert [e["event"] for e in document["timeline"]] == ["Delivered", "Installed"]  # from its delivery on
    assert datetime.fromisoformat(document["as_of"]) == at(2025, 6, 1).replace(hour=0)
    made = get(api, f"/api/v1/batteries/{pack}/history", "manufacturer", as_of="2025-06-01T00:00:00+08:00")
    assert [e["event"] for e in made.json()["timeline"]] == ["Produced", "Delivered", "Installed"]
    naive_day = get(api, f"/api/v1/batteries/{pack}/history", "regulator", as_of="2026-09-02").json()
    assert naive_day["battery"]["state"] == "retired"
    now = get(api, f"/api/v1/batteries/{pack}/history", "recycler").json()
    assert now["battery"]["state"] == "handed over" and now["as_of"] is None
    assert [n["code"] for n in now["lineage"]["components"]] == [code("M", 1), code("M", 2)]


def test_history_is_for_regulators_and_involved_participants_only(store: Store) -> None:
    api, pack = store.api, store.codes["pack"]
    assert get(api, f"/api/v1/batteries/{pack}/history").status_code == 401
    refused = get(api, f"/api/v1/batteries/{pack}/history", "dismantler")
    assert refused.status_code == 403, refused.text
    assert "not been involved" in refused.json()["detail"]
    before = get(api, f"/api/v1/batteries/{pack}/history", "regulator", as_of="2020-01-01")
    assert before.status_code == 404, before.text
    assert get(api, f"/api/v1/batteries/{pack}/history", "regulator", as_of="yesterday").status_code == 422


# ---------------------------------------------------------------------------------- reports
def report(store: Store, name: str, member: str | None = "regulator", **params: Any) -> Any:
    return get(store.api, f"/api/v1/reports/{name}", member, after=store.last, **params)


def csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_every_report_answers_a_json_page_and_the_same_rows_as_csv(store: Store) -> None:
    for name in REPORTS:
        response = report(store, name)
        assert response.status_code == 200, (name, response.text)
        page = response.json()
        assert set(page) == {"items", "total", "count", "limit", "offset", "next"}, name
        assert (page["limit"], page["offset"], page["count"]) == (100, 0, len(page["items"])), name
        assert (page["total"], page["next"]) == (page["count"], None), name  # all on the first page
        assert page["items"], f"{name} is empty"
        as_csv = report(store, name, format="csv")
        assert as_csv.status_code == 200, (name, as_csv.text)
        assert as_csv.headers["content-type"].startswith("text/csv")
        header, rows = csv_rows(as_csv.text)
        assert header == list(page["items"][0]), name
        assert len(rows) == page["count"], name
        assert [r[header[0]] for r in rows] == [str(item[header[0]]) for item in page["items"]], name


def test_reports_hold_the_facts_written(store: Store) -> None:
    api, codes = store.api, store.codes
    network = {r["id"]: r for r in report(store, "network").json()["items"]}
    point = network[api.cast.collection_point]
    assert (point["collected_count"], point["handed_over_count"], point["handed_compliant_count"]) == (
        2,
        2,
        1,
    )
    flows = report(store, "flows").json()["items"]
    assert {(f["receiver_id"], f["count"], f["compliant_count"]) for f in flows} == {
        (api.cast.recycler, 1, 1),
        (api.cast.informal_recycler, 1, 0),
    }
    overdue = report(store, "overdue").json()["items"]
    assert [r["code"] for r in overdue] == [codes["overdue"]]
    assert overdue[0]["days_since_retired"] > 90
    assert report(store, "overdue", days=3650).json()["items"] == []
    findings = report(store, "compliance", kind="non_compliant_handover").json()["items"]
    assert [f["code"] for f in findings] == [codes["informal"]]
    monthly = report(store, "monthly", manufacturer=api.cast.other_manufacturer).json()["items"]
    assert [(r["manufacturer_id"], r["produced"]) for r in monthly] == [(api.cast.other_manufacturer, 1)]
    regions = report(store, "regions").json()["items"]
    assert {r["region_code"] for r in regions} == {"110000", "440000"}


def test_filters_narrow_reports(store: Store) -> None:
    cast = store.api.cast
    beijing = report(store, "network", region="11").json()["items"]
    assert [r["id"] for r in beijing] == [cast.collection_point]
    shenzhen = report(store, "network", region="440305").json()["items"]
    assert [r["id"] for r in shenzhen] == [cast.other_collection_point]
    assert report(store, "network", operator=cast.vehicle_maker).json()["items"][0]["id"] == (
        cast.other_collection_point
    )
    assert report(store, "network", region="12").json()["items"] == []
    prefectures = report(store, "regions", level="prefecture", region="44").json()["items"]
    assert [r["region_code"] for r in prefectures] == ["440300"]
    informal = report(store, "flows", participant=cast.informal_recycler).json()["items"]
    assert [f["receiver_id"] for f in informal] == [cast.informal_recycler]
    assert report(store, "monthly", since="2099-01-01").json()["items"] == []
    assert report(store, "compliance", kind="outlet_over_capacity").json()["items"] == []


def test_paging_cuts_the_same_list_into_pages(store: Store) -> None:
    for name in ("compliance", "monthly", "network"):
        every = report(store, name, limit=1000).json()["items"]
        assert len(every) >= 2, name
        first = report(store, name, limit=1).json()
        second = report(store, name, limit=1, offset=1).json()
        assert (first["limit"], first["count"], second["offset"]) == (1, 1, 1)
        assert first["items"] + second["items"] == every[:2], name
        beyond = report(store, name, offset=len(every)).json()
        assert beyond["items"] == [] and beyond["count"] == 0
    late = report(store, "compliance", kind="late_report", limit=1000).json()["items"]
    assert len(late) >= 2
    assert report(store, "compliance", kind="late_report", limit=2).json()["items"] == late[:2]


INVALID_FILTERS = [
    ("network", {"region": "123"}, "region"),
    ("compliance", {"region": "4403a5"}, "region"),
    ("monthly", {"manufacturer": "not-a-code"}, "manufacturer"),
    ("network", {"operator": "91350900MA2YE0001"}, "operator"),
    ("monthly", {"since": "last year"}, "since"),
    ("compliance", {"since": "2026-02-01", "until": "2026-01-01"}, "until"),
    ("monthly", {"limit": "0"}, "limit"),
    ("monthly", {"limit": "1001"}, "limit"),
    ("flows", {"offset": "-1"}, "offset"),
    ("regions", {"level": "city"}, "level"),
    ("overdue", {"days": "0"}, "days"),
    ("compliance", {"kind": "bogus"}, "kind"),
    ("network", {"format": "xml"}, "format"),
    ("monthly", {"region": "44"}, "region"),  # a filter this report does not take
]


def test_invalid_filters_are_422_naming_the_parameter(api: Api) -> None:
    for name, params, parameter in INVALID_FILTERS:
        response = get(api, f"/api/v1/reports/{name}", "regulator", **params)
        assert response.status_code == 422, (name, params, response.text)
        problem = response.json()
        assert f"query.{parameter}" in [e["field"] for e in problem["errors"]], (name, params, problem)
        assert parameter in problem["detail"], (name, params, problem)


def test_reports_are_for_regulators(api: Api) -> None:
    for name in REPORTS:
        anonymous = get(api, f"/api/v1/reports/{name}")
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.headers["WWW-Authenticate"] == "Bearer"
        for member in ("manufacturer", "recycler"):
            refused = get(api, f"/api/v1/reports/{name}", member, format="csv")
            assert refused.status_code == 403, refused.text
            assert "regulator" in refused.json()["detail"]
        wrong_key = api.client.get(f"/api/v1/reports/{name}", headers={"Authorization": "Bearer bt_x_y"})
        assert wrong_key.status_code == 401


def test_an_empty_report_still_has_a_csv_header(api: Api) -> None:
    response = get(api, "/api/v1/reports/overdue", "regulator", format="csv")
    assert response.status_code == 200, response.text
    assert response.text.splitlines() == [
        "code,manufacturer_id,state,retired_at,days_since_retired,held_by,vin"
    ]
    assert json.loads(get(api, "/api/v1/reports/overdue", "regulator").text)["items"] == []
