"""The resolver over HTTP, on SQLite and PostgreSQL: a battery's public page (HTML for people, JSON
when asked) shows only the public fields and where to hand the battery in, and its QR code images
decode to ``{BATTERYTRACE_PUBLIC_URL}/b/{code}``."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Collect, Deliver, HandOver, Install, Reporting, Retire
from batterytrace.trace.application import WriteResult
from tests.unit.test_qr import svg_to_image
from tests.utils.api import CAST_ROLES, Api, api_on
from tests.utils.cast import credit_code

PUBLIC_URL = "https://trace.example.cn"
VIN = "LSVAU2180N2183294"
# A browser set to English (the page speaks Chinese by default; tests/browser covers both).
HTML = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9",
}
JSON = {"Accept": "application/json"}
PUBLIC_FIELDS = {
    "code",
    "url",
    "level",
    "chemistry",
    "manufacturer_name",
    "manufacturer_name_en",
    "production_month",
    "state",
    "second_life",
    "second_life_product",
    "held_at",
    "collection_points",
    "collection_points_near",
}


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=CHINA_STANDARD_TIME)


def code(serial: int, *, maker: str = "3CA", chemistry: str = "B", made: date = date(2024, 7, 15)) -> str:
    return make_battery_code(maker, "P", chemistry, "12", "0A1B2C3", made, serial)


COLLECTED = code(1)
REUSED = code(2, chemistry="E")
PRODUCT = code(1, maker="9CU", made=date(2025, 8, 1))
FRESH = code(3)
UNKNOWN = code(99)


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    """The shared ``api`` fixture's app, with a public URL of its own."""
    with api_on(database_url, public_url=PUBLIC_URL) as client:
        yield client


@dataclass
class Story:
    api: Api
    last: int = 0

    def note(self, result: WriteResult) -> None:
        self.last = max(self.last, result.notification_id or 0)

    def produce(self, battery: str, maker: str | None = None) -> None:
        spec = ProductionSpec(
            code=battery, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110
        )
        self.note(self.api.service.produce(actor_id=maker or self.api.cast.manufacturer, spec=spec))

    def collect(self, battery: str) -> None:
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
                    reporting=Reporting(occurred_at=at(2025, 6, 1)),
                )
            )
        )
        self.note(
            service.execute(
                Collect(
                    actor_id=cast.outlet_operator,
                    code=battery,
                    collection_point_id=cast.collection_point,
                    source_vin=VIN,
                    reporting=Reporting(occurred_at=at(2025, 6, 10)),
                )
            )
        )

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        """GET with read-your-writes; the views are brought up to date first rather than waiting
        for the follower's next poll."""
        self.api.client.app.state.runner.catch_up()  # type: ignore[attr-defined]
        return self.api.client.get(path, params={"after": self.last, **params}, headers=headers or {})


@pytest.fixture
def story(api: Api) -> Story:
    """One pack collected at the Chaoyang outlet (Beijing); one cascade-reused into a second-life
    product; one only produced."""
    s = Story(api)
    s.produce(COLLECTED)
    s.collect(COLLECTED)
    s.produce(REUSED)
    s.collect(REUSED)
    service, cast = api.service, api.cast
    s.note(
        service.execute(
            HandOver(
                actor_id=cast.outlet_operator,
                code=REUSED,
                receiver_id=cast.cascade_user,
                activity="cascade_use",
                reporting=Reporting(occurred_at=at(2025, 6, 20)),
            )
        )
    )
    product = ProductionSpec(
        code=PRODUCT, rated_capacity_ah=100, nominal_voltage_v=51.2, energy_kwh=5.1, mass_kg=60
    )
    s.note(service.cascade_reuse(actor_id=cast.cascade_user, originals=[REUSED], product=product))
    s.produce(FRESH)
    return s


def secrets(api: Api) -> list[str]:
    """What the public must never see: the VIN, participant ids, collection point ids."""
    cast = api.cast
    return [VIN, *(getattr(cast, m) for m in CAST_ROLES), cast.collection_point, cast.other_collection_point]


def qr_text(content: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(content)))]


# ------------------------------------------------------------------------------------- pages
def test_a_browser_gets_a_small_escaped_html_page_with_where_to_return_the_battery(story: Story) -> None:
    response = story.get(f"/b/{COLLECTED}", HTML)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    for expected in (
        COLLECTED,
        "pack",
        "lithium iron phosphate",
        "Ningde Cells Co.",
        "2024-07",
        "collected",
        "Chaoyang collection outlet",
        "1 Battery Road, Chaoyang, Beijing",
        "Already handed in: held at Chaoyang collection outlet.",
        f"{COLLECTED}/qr.svg",
        'name="viewport"',
    ):
        assert expected in page, expected
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "no external assets"
    assert [s for s in secrets(story.api) if s in page] == []


def test_without_an_accept_header_the_page_is_html(story: Story) -> None:
    response = story.get(f"/b/{FRESH}", {"Accept": "*/*"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_json_has_exactly_the_public_fields(story: Story) -> None:
    response = story.get(f"/b/{COLLECTED}", JSON)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "code": COLLECTED,
        "url": f"{PUBLIC_URL}/b/{COLLECTED}",
        "level": "pack",
        "chemistry": "lithium iron phosphate",
        "manufacturer_name": "Ningde Cells Co.",
        "manufacturer_name_en": None,  # registered without an English name
        "production_month": "2024-07",
        "state": "collected",
        "second_life": False,
        "second_life_product": None,
        # Held there: said once, never listed as a place to bring it (at 0.0 km); the vehicle
        # maker's own point is pending review, so no other point is shown.
        "held_at": {
            "name": "Chaoyang collection outlet",
            "name_en": None,
            "address": "1 Battery Road, Chaoyang, Beijing",
        },
        "collection_points": [],
        "collection_points_near": "last collection point",
    }
    assert [s for s in secrets(story.api) if s in response.text] == []
    as_query = story.get(f"/b/{COLLECTED.lower()}", format="json")
    assert as_query.json() == response.json()
    # Authenticated callers still get the public page here (the full record is /api/v1/batteries).
    regulator = story.get(f"/b/{COLLECTED}", {**JSON, **story.api.auth("regulator")})
    assert set(regulator.json()) == PUBLIC_FIELDS and VIN not in regulator.text


def test_second_life_shows_both_ways(story: Story) -> None:
    original = story.get(f"/b/{REUSED}", JSON).json()
    assert (original["state"], original["second_life"], original["second_life_product"]) == (
        "cascade-reused",
        False,
        PRODUCT,
    )
    product = story.get(f"/b/{PRODUCT}", JSON).json()
    assert (product["second_life"], product["manufacturer_name"]) == (True, "Changsha Second Life")
    page = story.get(f"/b/{REUSED}", HTML).text
    assert f'href="{PRODUCT}"' in page


def test_collection_points_are_the_nearest_to_a_given_location_else_to_the_makers_region(
    story: Story,
) -> None:
    fresh = story.get(f"/b/{FRESH}", JSON).json()
    assert fresh["collection_points_near"] == "manufacturer's region"  # Ningde, Fujian (credit code)
    [point] = fresh["collection_points"]
    assert point["name"] == "Chaoyang collection outlet" and 1400 < point["distance_km"] < 1600
    shenzhen = story.get(f"/b/{FRESH}", JSON, lat=22.54, lon=114.06).json()
    assert shenzhen["collection_points_near"] == "your location"
    assert 1900 < shenzhen["collection_points"][0]["distance_km"] < 2000
    one_coordinate = story.get(f"/b/{COLLECTED}", JSON, lat=22.54)
    assert one_coordinate.status_code == 422
    assert "lat and lon" in one_coordinate.json()["detail"]
    assert story.get(f"/b/{COLLECTED}", JSON, lat=91, lon=0).status_code == 422


OUTLETS = {  # name: (division, latitude, longitude)
    "Tianjin outlet": ("120101", 39.13, 117.20),
    "Shijiazhuang outlet": ("130102", 38.04, 114.51),
    "Shanghai outlet": ("310101", 31.23, 121.47),
    "Guangzhou outlet": ("440103", 23.13, 113.26),
    "Chengdu outlet": ("510104", 30.57, 104.07),
    "Harbin outlet": ("230102", 45.80, 126.53),
}


def test_the_five_nearest_collection_points_come_nearest_first(story: Story) -> None:
    service, cast = story.api.service, story.api.cast
    for number, (name, (division, latitude, longitude)) in enumerate(OUTLETS.items(), start=1):
        service.register_collection_point(
            actor_id=cast.regulator,
            point_id=f"CP-{division}-{number:04d}",
            operator_id=cast.outlet_operator,
            name=name,
            kind="collection",
            capacity_kg=5000,
            address=f"{number} Outlet Road",
            division_code=division,
            latitude=latitude,
            longitude=longitude,
        )
    points = story.get(f"/b/{FRESH}", JSON, lat=39.93, lon=116.42).json()["collection_points"]
    assert [p["name"] for p in points] == [
        "Chaoyang collection outlet",
        "Tianjin outlet",
        "Shijiazhuang outlet",
        "Harbin outlet",
        "Shanghai outlet",
    ]
    distances = [p["distance_km"] for p in points]
    assert distances == sorted(distances) and distances[0] < 3 and 100 < distances[1] < 130


def test_everything_a_participant_typed_is_escaped(story: Story) -> None:
    service, cast = story.api.service, story.api.cast
    maker = credit_code("91440300MA5F00099")
    service.register_participant(
        actor_id=cast.regulator,
        credit_code=maker,
        name='<script>alert("maker")</script> & Sons',
        roles=["manufacturer"],
        manufacturer_codes=["5EV"],
    )
    service.register_collection_point(
        actor_id=cast.regulator,
        point_id="CP-440305-0099",
        operator_id=cast.outlet_operator,
        name="<img src=x onerror=alert(1)>",
        kind="collection",
        capacity_kg=5000,
        address="2 <b>Bold</b> Road",
        division_code="440305",
        latitude=22.53,
        longitude=113.93,
    )
    battery = code(1, maker="5EV")
    story.produce(battery, maker)
    page = story.get(f"/b/{battery}", HTML).text
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;maker&quot;)&lt;/script&gt; &amp; Sons" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert (
        story.get(f"/b/{battery}", JSON).json()["manufacturer_name"]
        == '<script>alert("maker")</script> & Sons'
    )


# ---------------------------------------------------------------------------------- QR codes
def test_the_qr_png_decodes_to_the_public_url_of_the_battery(story: Story) -> None:
    response = story.api.client.get(f"/b/{COLLECTED}/qr.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert qr_text(response.content) == [f"{PUBLIC_URL}/b/{COLLECTED}"]
    lower = story.api.client.get(f"/b/{FRESH.lower()}/qr.png", params={"box": 4})
    assert qr_text(lower.content) == [f"{PUBLIC_URL}/b/{FRESH}"]


def test_the_qr_svg_decodes_to_the_public_url_and_prints_the_code(story: Story) -> None:
    response = story.api.client.get(f"/b/{PRODUCT}/qr.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert f">{PRODUCT}</text>" in response.text
    assert [r.text for r in zxingcpp.read_barcodes(svg_to_image(response.text))] == [
        f"{PUBLIC_URL}/b/{PRODUCT}"
    ]


# ---------------------------------------------------------------------------------- problems
def test_an_unknown_battery_is_a_404_problem_and_a_page_for_browsers(api: Api) -> None:
    for path in (f"/b/{UNKNOWN}", f"/b/{UNKNOWN}/qr.png", f"/b/{UNKNOWN}/qr.svg"):
        response = api.client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json", path
        assert UNKNOWN in response.json()["detail"], path
    page = api.client.get(f"/b/{UNKNOWN}", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text and UNKNOWN in page.text


INVALID = {
    "3CAPX120A1B2C3R7F0000123": "battery type",
    "3CAPB120A1B2C3R7F000012": "length",
    "3CAPB120A1B2C3RDW0000123": "production date",  # 2024-13-…
    "3CAPB120A1B2C3R7F000012A": "serial number",
}


def test_an_invalid_code_is_a_422_problem_naming_the_segment(api: Api) -> None:
    for bad, segment in INVALID.items():
        for suffix in ("", "/qr.png", "/qr.svg"):
            response = api.client.get(f"/b/{bad}{suffix}", headers=JSON)
            assert response.status_code == 422, (bad, suffix)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["segment"] == segment, (bad, suffix)
