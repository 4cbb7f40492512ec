"""The scan: a collection point's operator takes a battery in by posting what its scanner read (JSON)
or a photo of the label (multipart), on SQLite and PostgreSQL (the ``api`` fixture).

Labels are generated here: QR codes with the ``qrcode`` library (PNG, and a JPEG "photo" with the
label tilted on a grey background), a Data Matrix with zxing-cpp's writer. The battery to collect is
arranged through the application service (produced, delivered to the vehicle maker, installed and
retired by it).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import httpx
import qrcode
import zxingcpp
from PIL import Image, ImageOps

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Deliver, Install, Reporting, Retire
from batterytrace.trace.api.routes.scan import ScanResponse
from tests.utils.api import Api, api_on

VIN = "LSVAU2180N2183294"
RESOLVER = "https://trace.example.cn/b/"


def code(serial: int) -> str:
    return make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), serial)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=CHINA_STANDARD_TIME)


def produced(api: Api, serial: int) -> str:
    spec = ProductionSpec(
        code=code(serial), rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110
    )
    api.service.produce(actor_id=api.cast.manufacturer, spec=spec)
    return spec.code


def retired(api: Api, serial: int) -> str:
    pack = produced(api, serial)
    cast = api.cast
    api.service.execute(
        Deliver(
            actor_id=cast.manufacturer,
            code=pack,
            receiver_id=cast.vehicle_maker,
            reporting=Reporting(occurred_at=at(2024, 7, 25)),
        )
    )
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


def scans(api: Api, point: str | None = None) -> str:
    return f"/api/v1/collection-points/{point or api.cast.collection_point}/scans"


def scan_text(api: Api, text: str, scan_id: str, member: str | None = "outlet_operator", **extra: Any):
    body = {"text": text, "client_scan_id": scan_id, **extra}
    return api.client.post(scans(api), json=body, headers=api.auth(member))


def scan_photo(
    api: Api, photo: bytes, scan_id: str | None, kind: str = "image/png", **fields: str
) -> httpx.Response:
    data = {**({"client_scan_id": scan_id} if scan_id is not None else {}), **fields}
    files = {"photo": ("label" + (".png" if kind == "image/png" else ".jpg"), photo, kind)}
    return api.client.post(scans(api), data=data, files=files, headers=api.auth("outlet_operator"))


def qr_png(text: str) -> bytes:
    buffer = io.BytesIO()
    qrcode.make(text).save(buffer, format="PNG")
    return buffer.getvalue()


def qr_jpeg_photo(text: str) -> bytes:
    """The QR label photographed: tilted, on a grey background, JPEG-compressed."""
    label = qrcode.make(text, box_size=6).get_image().convert("RGB")
    scene = Image.new("RGB", (label.width + 240, label.height + 180), (150, 150, 145))
    scene.paste(label, (120, 90))
    scene = scene.rotate(7, expand=True, fillcolor=(150, 150, 145))
    buffer = io.BytesIO()
    scene.save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


def data_matrix_png(text: str) -> bytes:
    symbol = zxingcpp.write_barcode_to_image(
        zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.DataMatrix), scale=8
    )
    pixels = memoryview(symbol)
    image = Image.frombytes("L", (pixels.shape[1], pixels.shape[0]), bytes(pixels))
    buffer = io.BytesIO()
    ImageOps.expand(image, border=24, fill=255).save(buffer, format="PNG")
    return buffer.getvalue()


def blank_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (240, 240, 240)).save(buffer, format="PNG")
    return buffer.getvalue()


def problem_of(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    for fragment in fragments:
        assert fragment in body["detail"], body["detail"]
    return body


def collected_events(api: Api, battery_code: str) -> list[Any]:
    return [e for e in api.service.history(battery_code) if type(e).__name__ == "Collected"]


# ---------------------------------------------------------------------------------- success
def test_a_scan_of_the_bare_code_collects_the_battery_and_answers_with_its_summary(api: Api) -> None:
    pack = retired(api, 1)
    response = scan_text(api, f"  {pack.lower()}\n", "scan-1")
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["events"] == [f"{pack}:Collected"]
    assert answer["replayed"] is False
    assert answer["notification_id"] == api.service.recorder.max_notification_id()
    assert (answer["code"], answer["level"], answer["state"]) == (pack, "pack", "collected")
    assert answer["chemistry"] == "lithium iron phosphate"
    assert answer["maker"] == {
        "id": api.cast.manufacturer,
        "name": "Ningde Cells Co.",
        "name_en": None,  # registered without an English name
        "manufacturer_code": "3CA",
    }
    assert answer["collection_point"] == {
        "id": api.cast.collection_point,
        "name": "Chaoyang collection outlet",
        "name_en": None,
    }
    assert answer["read_from"] == "text"
    assert answer["mass_kg"] == 110 and answer["condition"] == "intact"
    assert answer["battery"]["holder"]["kind"] == "collection_point"
    event = collected_events(api, pack)[0]
    assert event.request_id == "scan:scan-1"
    assert event.source_vin is None  # only what the outlet declares: the record's VIN is not its to learn
    assert VIN not in str(answer)
    assert answer["collected_at"] == event.occurred_at.astimezone(CHINA_STANDARD_TIME).isoformat()
    assert answer["collected_at"].endswith("+08:00")


def test_a_scan_of_the_resolver_url_collects_the_battery_with_what_the_operator_noted(api: Api) -> None:
    pack = retired(api, 1)
    response = scan_text(
        api,
        f"{RESOLVER}{pack}",
        "scan-1",
        mass_kg=108.5,
        condition="swollen",
        scanned_by="handheld-07",
        occurred_at="2025-12-05T09:30:00",
    )
    assert response.status_code == 201, response.text
    assert response.json()["mass_kg"] == 108.5 and response.json()["condition"] == "swollen"
    event = collected_events(api, pack)[0]
    assert (event.mass_kg, event.condition, event.scanned_by) == (108.5, "swollen", "handheld-07")
    assert response.json()["collected_at"] == "2025-12-05T09:30:00+08:00"  # no zone: China Standard Time


def test_a_png_photo_of_the_qr_label_is_decoded_on_the_server(api: Api) -> None:
    pack = retired(api, 1)
    response = scan_photo(api, qr_png(f"{RESOLVER}{pack}"), "photo-1", mass_kg="109", scanned_by="phone")
    assert response.status_code == 201, response.text
    assert response.json()["code"] == pack
    assert response.json()["read_from"] == "photo"
    assert collected_events(api, pack)[0].mass_kg == 109


def test_a_jpeg_photo_and_a_data_matrix_label_are_decoded_too(api: Api) -> None:
    first, second = retired(api, 1), retired(api, 2)
    jpeg = scan_photo(api, qr_jpeg_photo(f"{RESOLVER}{first}"), "jpeg-1", kind="image/jpeg")
    assert jpeg.status_code == 201, jpeg.text
    assert jpeg.json()["code"] == first
    matrix = scan_photo(api, data_matrix_png(second), "dm-1")
    assert matrix.status_code == 201, matrix.text
    assert matrix.json()["code"] == second


def test_a_scan_retried_with_the_same_client_scan_id_is_answered_again_not_recorded_twice(api: Api) -> None:
    pack = retired(api, 1)
    first = scan_text(api, pack, "retry-me")
    again = scan_text(api, f"{RESOLVER}{pack}", "retry-me")
    by_photo = scan_photo(api, qr_png(pack), "retry-me")
    assert first.status_code == 201, first.text
    for retry in (again, by_photo):
        assert retry.status_code == 200, retry.text
        assert retry.json()["replayed"] is True
        assert retry.json()["events"] == []
        assert retry.json()["state"] == "collected"
        assert retry.json()["collected_at"] == first.json()["collected_at"]
        assert retry.json()["notification_id"] >= first.json()["notification_id"]
    assert len(collected_events(api, pack)) == 1


def test_every_kind_of_scan_answer_is_what_its_documented_model_makes_of_it(api: Api) -> None:
    """Scans are answered as written by the route (``scan_answer``), not through the response
    model: each answer, first or replayed, by text or photo, with and without the VIN shown,
    must be exactly what validating it through ``ScanResponse`` and dumping it gives."""
    first, second = retired(api, 1), retired(api, 2)
    answers = [
        scan_text(api, first, "model-1", mass_kg=108.5, condition="swollen", scanned_by="gun"),
        scan_text(api, first, "model-1"),  # replayed
        scan_photo(api, qr_png(f"{RESOLVER}{second}"), "model-2", mass_kg="99.25"),
    ]
    for response in answers:
        assert response.status_code in (200, 201), response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert ScanResponse.model_validate(body).model_dump(mode="json") == body
    assert [r.status_code for r in answers] == [201, 200, 201]


# --------------------------------------------------------------------------------- refusals
def test_a_photo_without_a_readable_code_is_refused(api: Api) -> None:
    retired(api, 1)
    problem_of(scan_photo(api, blank_png(), "blank-1"), 422, "no QR code or Data Matrix code was found")
    problem_of(scan_photo(api, b"this is not an image", "text-1"), 422, "cannot be read as a PNG or JPEG")
    problem_of(scan_photo(api, qr_png("hello world"), "hello-1"), 422, "neither a resolver URL nor")


def test_text_that_is_neither_a_resolver_url_nor_a_code_is_refused_naming_the_problem(api: Api) -> None:
    pack = retired(api, 1)
    bad_type = pack[:4] + "X" + pack[5:]
    body = problem_of(scan_text(api, bad_type, "bad-1"), 422, "battery type 'X' at position 5")
    assert body["segment"] == "battery type"
    problem_of(scan_text(api, "hello", "bad-2"), 422, "24 characters", "neither a resolver URL nor")
    not_resolver = f"https://trace.example.cn/batteries/{pack}"
    problem_of(scan_text(api, not_resolver, "bad-3"), 422, "not a battery resolver URL", "/b/")
    bad_in_url = f"{RESOLVER}{pack[:-1]}X"
    assert problem_of(scan_text(api, bad_in_url, "bad-4"), 422, "resolver URL")["segment"] == "serial number"
    assert collected_events(api, pack) == []


def test_an_unknown_code_is_not_found(api: Api) -> None:
    problem_of(scan_text(api, code(99), "unknown-1"), 404, f"battery {code(99)} is not registered")


def test_a_battery_that_cannot_be_collected_now_is_a_conflict(api: Api) -> None:
    pack = retired(api, 1)
    assert scan_text(api, pack, "first").status_code == 201
    problem_of(scan_text(api, pack, "second"), 409, f"battery {pack} is collected: cannot collect")
    fresh = produced(api, 2)
    problem_of(scan_text(api, fresh, "third"), 409, f"battery {fresh} is produced: cannot collect")
    assert len(collected_events(api, pack)) == 1


def test_only_the_operator_of_the_collection_point_may_scan_there(api: Api) -> None:
    pack = retired(api, 1)
    body = problem_of(
        scan_text(api, pack, "w-1", member="vehicle_maker"), 403, "does not operate collection point"
    )
    assert api.cast.collection_point in body["detail"]
    other = api.client.post(
        scans(api, api.cast.other_collection_point),
        json={"text": pack, "client_scan_id": "w-2"},
        headers=api.auth("outlet_operator"),
    )
    problem_of(other, 403, api.cast.other_collection_point)
    unknown = api.client.post(
        scans(api, "CP-999999-0001"),
        json={"text": pack, "client_scan_id": "w-3"},
        headers=api.auth("outlet_operator"),
    )
    problem_of(unknown, 404, "collection point CP-999999-0001 is not registered")
    problem_of(scan_text(api, pack, "w-4", member=None), 401, "API key")
    bad_key = api.client.post(
        scans(api), json={"text": pack, "client_scan_id": "w-5"}, headers={"Authorization": "Bearer bt_x_y"}
    )
    problem_of(bad_key, 401, "invalid or revoked")
    assert collected_events(api, pack) == []


def test_the_scan_is_documented_as_needing_a_key_like_every_route_that_takes_the_caller(api: Api) -> None:
    """The scan resolves its caller itself (``deps.caller_of``), not through ``Caller``: its
    OpenAPI operation must still say it needs the bearer key, as the other writes' do."""
    spec = api.client.get("/openapi.json").json()
    scan_operation = spec["paths"]["/api/v1/collection-points/{point_id}/scans"]["post"]
    install_operation = spec["paths"]["/api/v1/batteries/{code}/install"]["post"]
    assert scan_operation["security"] == install_operation["security"] == [{"HTTPBearer": []}]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert [p["name"] for p in scan_operation["parameters"]] == ["point_id"]


def test_a_scan_without_a_valid_client_scan_id_or_body_is_refused_listing_the_field(api: Api) -> None:
    pack = retired(api, 1)

    def fields(response: httpx.Response) -> set[str]:
        return {e["field"] for e in problem_of(response, 422)["errors"]}

    post = api.client.post
    auth = api.auth("outlet_operator")
    assert fields(post(scans(api), json={"text": pack}, headers=auth)) == {"client_scan_id"}
    assert "client_scan_id" in problem_of(post(scans(api), json={"text": pack}, headers=auth), 422)["detail"]
    assert fields(post(scans(api), json={"text": pack, "client_scan_id": ""}, headers=auth)) == {
        "client_scan_id"
    }
    assert fields(scan_text(api, pack, "x" * 101)) == {"client_scan_id"}
    assert fields(post(scans(api), json={"client_scan_id": "s"}, headers=auth)) == {"text"}
    assert fields(scan_text(api, pack, "s", mass_kg=-1)) == {"mass_kg"}
    assert fields(scan_text(api, pack, "s", weight=3)) == {"weight"}
    assert fields(
        post(scans(api), content=b"{not json", headers={**auth, "Content-Type": "application/json"})
    )
    assert fields(scan_photo(api, qr_png(pack), None)) == {"client_scan_id"}
    no_photo = post(
        scans(api), data={"client_scan_id": "s"}, files={"note": ("n.txt", b"x", "text/plain")}, headers=auth
    )
    assert fields(no_photo) == {"note"}
    only_fields = {"client_scan_id": (None, "s"), "condition": (None, "ok")}
    assert fields(post(scans(api), files=only_fields, headers=auth)) == {"photo"}
    assert fields(scan_photo(api, qr_png(pack), "s", text=pack)) == {"text"}
    unsupported = post(scans(api), content=pack.encode(), headers={**auth, "Content-Type": "text/plain"})
    problem_of(unsupported, 415, "multipart/form-data")
    assert collected_events(api, pack) == []


def test_a_multipart_form_without_a_photo_can_carry_the_qr_text(api: Api) -> None:
    pack = retired(api, 1)
    form = {"client_scan_id": "form-1", "text": f"{RESOLVER}{pack}", "mass_kg": "", "condition": "damaged"}
    response = api.client.post(
        scans(api),
        files={name: (None, value) for name, value in form.items()},  # multipart, no file
        headers=api.auth("outlet_operator"),
    )
    assert response.status_code == 201, response.text
    assert (response.json()["read_from"], response.json()["condition"]) == ("text", "damaged")
    assert response.json()["mass_kg"] == 110  # an empty form field means "not given"
    # A plain HTML form (application/x-www-form-urlencoded) is not a scan body.
    urlencoded = api.client.post(scans(api), data=form, headers=api.auth("outlet_operator"))
    problem_of(urlencoded, 415, "multipart/form-data")


def test_a_photo_over_the_body_limit_is_refused(database_url: str) -> None:
    with api_on(database_url, max_body_bytes=4096) as api:
        pack = retired(api, 1)
        big = qr_png(f"{RESOLVER}{pack}") + b"\0" * 8192
        problem_of(scan_photo(api, big, "big-1"), 413, "limit is 4096 bytes")
        chunked = api.client.post(
            scans(api),
            content=iter([b'{"text": "', b"x" * 5000, b'", "client_scan_id": "c"}']),
            headers={**api.auth("outlet_operator"), "Content-Type": "application/json"},
        )
        problem_of(chunked, 413, "limit of 4096 bytes")
        assert collected_events(api, pack) == []
