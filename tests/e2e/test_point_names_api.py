"""A collection point registered with its English name (``name_en``, issue 11, item 6) shows it
wherever the API names the point (its registration answer, the public list, the regulator's
network report, its operator's points, a scan, a battery's public page), so English pages can
use it; the registered (Chinese) name stays ``name``. The English names of enterprises reach the
same answers (a battery's maker, the receivers). HTTP on both stores; the CLI on SQLite."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.e2e.test_api_participants import get, post
from tests.e2e.test_api_scan import RESOLVER, retired
from tests.e2e.test_cli import Cli
from tests.utils.api import Api
from tests.utils.cast import NationalCast

CAST = NationalCast()
POINT = "CP-440305-0101"
NAME, NAME_EN = "南山回收服务网点", "Nanshan Collection Outlet 440305-1, Guangdong"


def nanshan(**overrides: Any) -> dict[str, Any]:
    return {
        "point_id": POINT,
        "operator_id": CAST.vehicle_maker,
        "name": NAME,
        "name_en": NAME_EN,
        "division_code": "440305",
        "address": "深圳市南山区科技路8号",
        "latitude": 22.54,
        "longitude": 113.95,
        **overrides,
    }


def test_a_point_registered_with_its_english_name_is_answered_with_both(api: Api) -> None:
    answer = post(api, "/api/v1/collection-points", "regulator", nanshan())
    assert answer.status_code == 201, answer.text
    after = answer.json()["notification_id"]
    registered = answer.json()["collection_point"]
    public = {p["id"]: p for p in get(api, "/api/v1/collection-points", after=after).json()["items"]}
    network = {
        r["id"]: r for r in get(api, "/api/v1/reports/network", "regulator", after=after).json()["items"]
    }
    operated = {
        p["id"]: p
        for p in get(api, "/api/v1/me/collection-points", "vehicle_maker", after=after).json()["items"]
    }
    for record in (registered, public[POINT], network[POINT], operated[POINT]):
        assert (record["name"], record["name_en"]) == (NAME, NAME_EN)
    assert network[CAST.collection_point]["name_en"] is None  # registered without one


def test_a_scan_and_a_public_page_name_the_point_in_english_too(api: Api) -> None:
    assert post(api, "/api/v1/collection-points", "regulator", nanshan()).status_code == 201
    pack = retired(api, 77)
    body = {"text": f"{RESOLVER}{pack}", "client_scan_id": "names-77"}
    scanned = api.client.post(
        f"/api/v1/collection-points/{POINT}/scans", json=body, headers=api.auth("vehicle_maker")
    )
    assert scanned.status_code == 201, scanned.text
    answer = scanned.json()
    assert (answer["collection_point"]["name"], answer["collection_point"]["name_en"]) == (NAME, NAME_EN)
    assert answer["maker"]["name"] == "Ningde Cells Co." and answer["maker"]["name_en"] is None

    page = public_page_once_held(api, pack)
    assert (page["held_at"]["name"], page["held_at"]["name_en"]) == (NAME, NAME_EN)
    assert page["manufacturer_name"] == "Ningde Cells Co." and page["manufacturer_name_en"] is None
    html = api.client.get(f"/b/{pack}", params={"lang": "en"}, headers={"Accept": "text/html"}).text
    assert NAME_EN in html and NAME not in html
    html = api.client.get(f"/b/{pack}", params={"lang": "zh"}, headers={"Accept": "text/html"}).text
    assert NAME in html and NAME_EN not in html


def public_page_once_held(api: Api, code: str, timeout: float = 15.0) -> dict[str, Any]:
    """The battery's public page (JSON) once the views show a point holding it."""
    deadline = time.monotonic() + timeout
    while True:
        page = api.client.get(f"/b/{code}", params={"format": "json"})
        if (page.status_code == 200 and page.json()["held_at"]) or time.monotonic() > deadline:
            assert page.status_code == 200, page.text
            return page.json()
        time.sleep(0.1)


def test_collection_points_add_records_the_english_name(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'batterytrace.db'}"
    cli = Cli(database_url, tmp_path)
    cli.ok("init")
    cli.ok("participants", "add", CAST.regulator, "--name", "工业和信息化部", "--role", "regulator")
    cli.ok(
        "participants", "add", CAST.vehicle_maker, "--name", "深圳福迪汽车有限公司",
        "--name-en", "Shenzhen Fudi Auto Co.",
        "--role", "vehicle_maker", "--role", "outlet_operator", "--as", CAST.regulator,
    )  # fmt: skip
    cli.ok(
        "collection-points", "add", POINT, "--operator", CAST.vehicle_maker, "--name", NAME,
        "--name-en", NAME_EN, "--division", "440305", "--as", CAST.regulator,
    )  # fmt: skip
    service = BatteryTrace(Settings(database_url=database_url))
    try:
        point = service.collection_point(POINT)
        assert (point.name, point.name_en) == (NAME, NAME_EN)
    finally:
        service.close()
