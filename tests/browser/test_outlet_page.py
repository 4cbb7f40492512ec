"""The outlet page in a real browser: scanning by camera (Chromium's fake capture device playing a
video of a QR code the service generated), by typed code and by photo; refusals with their reason;
the offline queue across a server restart; handing batteries over; a phone-width layout.

Each test takes batteries of its own, made fresh in the demo store through the application service
(produced and delivered by the demo manufacturer, installed and retired by the demo vehicle maker),
so a scan is certainly accepted; what the page shows is then checked against the API, read with
the regulator's key.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image, ImageOps

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Collect, Deliver, Install, Reporting, Retire
from batterytrace.trace.pages.i18n import LANGUAGES, messages
from tests.browser.conftest import DemoSite, console_errors, sign_in
from tests.utils.server import running_server

PAGES = Path(__file__).resolve().parents[2] / "batterytrace" / "trace" / "pages"
VIN = "LSVAU2180N2183294"
SERIALS = itertools.count(9_000_001)
FRAME = (640, 480)  # the fake camera's picture
QR_SIDE = 300
TIMEOUT = 20_000  # ms for what the page shows after a server round trip


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def site(demo_site: DemoSite) -> Iterator[DemoSite]:
    """The demo site; a server restarted by a test (same port, same store) is stopped afterwards."""
    with ExitStack() as restarts:
        demo_site.extra["restarts"] = restarts
        yield demo_site


@pytest.fixture(scope="module")
def outlet(site: DemoSite) -> dict[str, Any]:
    """The demo outlet operator's first collection point (the one the page chooses first) and the
    receivers: one whitelisted for recycling, one recycler that is not."""
    with api(site, "outlet_operator") as client:
        points = client.get("/api/v1/me/collection-points").json()["items"]
        receivers = client.get("/api/v1/receivers").json()["items"]
    assert points, "the demo outlet operator operates no collection point"
    recyclers = [r for r in receivers if "recycling" in r["activities"]]
    return {
        "point": points[0],
        "whitelisted": next(r for r in recyclers if "recycling" in r["whitelisted_for"]),
        "informal": next(r for r in recyclers if "recycling" not in r["whitelisted_for"]),
    }


def api(site: DemoSite, role: str = "regulator") -> httpx.Client:
    return site.server.client(role, site.keys)


def wait_for_state(site: DemoSite, code: str, state: str, timeout: float = 15.0) -> dict[str, Any]:
    """The battery once the lifecycle view shows it in ``state`` (the view follows the store a
    moment behind writes made through ``site.service()``); as it is then, after ``timeout``."""
    deadline = time.monotonic() + timeout
    with api(site) as client:
        while True:
            answer = client.get(f"/api/v1/batteries/{code}")
            late = time.monotonic() > deadline
            if answer.status_code == 404 and not late:
                time.sleep(0.1)
                continue
            assert answer.status_code == 200, answer.text
            document = answer.json()
            if document["battery"]["state"] == state or late:
                return document
            time.sleep(0.1)


def retired_batteries(site: DemoSite, count: int, *, retire: bool = True) -> list[str]:
    """Fresh packs of the demo manufacturer, delivered to the demo vehicle maker, installed (and
    retired) by it."""
    service = site.service()
    try:
        maker = service.participant(site.participants["manufacturer"])
        vehicle_maker = site.participants["vehicle_maker"]
        codes = []
        for _ in range(count):
            code = make_battery_code(
                maker.manufacturer_codes[0], "P", "B", "12", "0A1B2C3", date(2024, 7, 15), next(SERIALS)
            )
            spec = ProductionSpec(
                code=code, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110
            )
            service.produce(actor_id=maker.id, spec=spec)
            delivered = _at(2024, 7, 25)
            service.execute(
                Deliver(
                    actor_id=maker.id,
                    code=code,
                    receiver_id=vehicle_maker,
                    reporting=Reporting(occurred_at=delivered),
                )
            )
            service.execute(
                Install(
                    actor_id=vehicle_maker,
                    code=code,
                    vin=VIN,
                    reporting=Reporting(occurred_at=_at(2024, 8, 1)),
                )
            )
            if retire:
                service.execute(
                    Retire(
                        actor_id=vehicle_maker,
                        code=code,
                        reason="capacity below 80%",
                        reporting=Reporting(occurred_at=_at(2025, 6, 1)),
                    )
                )
            codes.append(code)
        return codes
    finally:
        service.close()


def _at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=CHINA_STANDARD_TIME)


def open_outlet(context: Any, site: DemoSite) -> tuple[Any, list[str]]:
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, site, "outlet_operator", "/outlet")
    page.wait_for_selector("#ol-point option", state="attached")
    return page, errors


def type_code(page: Any, text: str) -> None:
    page.fill("#ol-text", text)
    page.click("#ol-type-form button[type=submit]")


def outcome(page: Any, verdict: str, code: str) -> str:
    """The text of the last scan's result once it shows ``verdict`` for ``code``."""
    shown = page.locator(f"#ol-result .ol-outcome[data-verdict={verdict}]")
    shown.filter(has_text=code).wait_for(timeout=TIMEOUT)
    return shown.inner_text()


# --------------------------------------------------------------------------------- images
def qr_label(site: DemoSite, code: str) -> Image.Image:
    """The service's own QR code for the battery (GET /b/{code}/qr.png)."""
    answer = httpx.get(f"{site.url}/b/{code}/qr.png", timeout=30)
    assert answer.status_code == 200, answer.text
    return Image.open(io.BytesIO(answer.content)).convert("L")


def write_y4m(path: Path, label: Image.Image, frames: int = 5) -> Path:
    """A YUV 4:2:0 video of the label centred on white with a quiet zone, as a camera would see it."""
    width, height = FRAME
    picture = Image.new("L", FRAME, 255)
    symbol = label.resize((QR_SIDE, QR_SIDE), Image.Resampling.NEAREST)
    picture.paste(symbol, ((width - QR_SIDE) // 2, (height - QR_SIDE) // 2))
    luma = picture.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + luma + chroma + chroma)
    return path


def png(image: Image.Image, path: Path) -> Path:
    ImageOps.expand(image, border=40, fill=255).save(path, format="PNG")
    return path


def data_matrix(text: str) -> Image.Image:
    """A Data Matrix label: the server reads it, the page's QR-only reader does not."""
    symbol = zxingcpp.write_barcode_to_image(
        zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.DataMatrix), scale=8
    )
    pixels = memoryview(symbol)
    return Image.frombytes("L", (pixels.shape[1], pixels.shape[0]), bytes(pixels))


# ------------------------------------------------------------------------------------ tests
def test_every_word_on_the_page_has_a_chinese_and_an_english_message() -> None:
    used = set()
    for source in (PAGES / "templates" / "outlet.html", PAGES / "static" / "js" / "outlet.js"):
        used |= set(re.findall(r'"((?:outlet|error|signin)\.[a-z_.]+)"', source.read_text("utf-8")))
    assert len(used) > 40, used
    for language in LANGUAGES:
        # a count's message (BT.plural) is KEY.one / KEY.other; every language has the "other" form
        missing = sorted(key for key in used if not {key, f"{key}.other"} & set(messages(language)))
        assert not missing, f"{language} messages missing: {missing}"
    for language in LANGUAGES:
        own = json.loads((PAGES / "messages" / f"outlet.{language}.json").read_text("utf-8"))
        plural_of = {key: re.sub(r"\.(one|other)$", "", key) for key in own}
        unused = sorted(key for key in own if plural_of[key] not in used and key != "outlet.title")
        assert not unused, f"{language} messages nothing uses: {unused}"


def test_an_outlet_takes_a_battery_in_through_the_camera(
    launch_browser: Any, site: DemoSite, outlet: dict[str, Any], tmp_path: Path, screenshot: Any
) -> None:
    (code,) = retired_batteries(site, 1)
    video = write_y4m(tmp_path / "label.y4m", qr_label(site, code))
    camera = launch_browser(
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    context = camera.new_context(permissions=["camera"], viewport={"width": 1280, "height": 900})
    page, errors = open_outlet(context, site)
    page.click("#ol-camera-start")
    page.wait_for_selector("#ol-video:not([hidden])")
    shown = outcome(page, "taken", code)
    assert "Taken in" in shown and outlet["point"]["name_en"] in shown  # an English page: its English name
    page.wait_for_timeout(1500)  # the camera keeps seeing the label: it must not be scanned again
    assert page.locator("#ol-history li").count() == 1
    page.click("#ol-camera-stop")
    screenshot(page, "outlet-scan")

    document = wait_for_state(site, code, "collected")
    assert document["battery"]["state"] == "collected"
    assert document["battery"]["collection_point"]["id"] == outlet["point"]["id"]
    assert [e["event"] for e in document["timeline"]].count("Collected") == 1
    facts = document["battery"]
    assert facts["chemistry"] in shown and facts["manufacturer_name_en"] in shown and facts["level"] in shown
    assert errors == []
    context.close()


def test_typed_codes_and_photos_are_taken_in_and_a_refusal_says_why(
    browser: Any, site: DemoSite, outlet: dict[str, Any], tmp_path: Path
) -> None:
    typed, qr_photo, matrix_photo = retired_batteries(site, 3)
    (installed,) = retired_batteries(site, 1, retire=False)
    context = browser.new_context()
    page, errors = open_outlet(context, site)

    type_code(page, f"{site.url}/b/{typed}")  # what a handheld scanner types: the resolver URL
    shown = outcome(page, "taken", typed)
    assert "Maker" in shown and "pack" in shown

    # A QR photo is read in the browser; a Data Matrix photo by the server.
    page.set_input_files("#ol-photo", str(png(qr_label(site, qr_photo), tmp_path / "qr.png")))
    outcome(page, "taken", qr_photo)
    page.set_input_files("#ol-photo", str(png(data_matrix(matrix_photo), tmp_path / "dm.png")))
    outcome(page, "taken", matrix_photo)

    # Refusals: scanned in again, and a battery still in its vehicle. Each names the battery.
    type_code(page, typed)
    refused = outcome(page, "refused", typed)
    assert "collected" in refused.lower(), refused
    type_code(page, installed)
    refused = outcome(page, "refused", installed)
    assert "installed" in refused.lower(), refused
    with api(site, "outlet_operator") as client:
        detail = client.post(
            f"/api/v1/collection-points/{outlet['point']['id']}/scans",
            json={"text": installed, "client_scan_id": "browser-test-refusal"},
        ).json()["detail"]
    assert detail in refused  # the API's own reason, word for word
    type_code(page, "not a battery code")
    page.locator("#ol-result .ol-outcome[data-verdict=refused]").filter(
        has_text="not a battery code"
    ).wait_for(timeout=TIMEOUT)

    for code in (typed, qr_photo, matrix_photo):
        document = wait_for_state(site, code, "collected")
        assert document["battery"]["collection_point"]["id"] == outlet["point"]["id"]
    assert wait_for_state(site, installed, "collected")["battery"]["state"] == "installed"
    assert page.locator("#ol-history li").count() == 6
    # The refusals' 409/422 answers are logged by the browser; nothing else went wrong.
    assert all("status of 409" in e or "status of 422" in e for e in errors), errors
    context.close()


def test_scans_made_while_the_server_is_down_are_queued_and_sent_when_it_returns(
    browser: Any, site: DemoSite, outlet: dict[str, Any]
) -> None:
    first, second = retired_batteries(site, 2)
    context = browser.new_context()
    page, errors = open_outlet(context, site)
    port = int(site.url.rsplit(":", 1)[1])

    site.server.stop()
    type_code(page, first)
    outcome(page, "queued", first)
    type_code(page, second)
    outcome(page, "queued", second)
    assert page.inner_text("#ol-queue-count") == "2"
    assert page.locator("#ol-queue-list li").count() == 2
    queued = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('batterytrace.outlet.queue'))")
    assert len(queued) == 1
    stored = json.loads(page.evaluate(f"localStorage.getItem('{queued[0]}')"))
    assert [e["text"] for e in stored] == [first, second]
    assert len({e["client_scan_id"] for e in stored}) == 2
    page.wait_for_timeout(5000)  # a retry or two against the stopped server
    assert page.inner_text("#ol-queue-count") == "2"

    site.server = site.extra["restarts"].enter_context(
        running_server(site.database_url, site.folder, port=port)
    )
    from playwright.sync_api import expect  # here: without Playwright the fixtures skip the test

    expect(page.locator("#ol-queue-count")).to_have_text("0", timeout=TIMEOUT)  # by itself
    assert page.locator("#ol-queue-list li").count() == 0
    assert page.evaluate(f"localStorage.getItem('{queued[0]}')") == "[]"
    assert page.locator("#ol-history li[data-verdict=taken]").count() == 2

    for code in (first, second):
        document = wait_for_state(site, code, "collected")
        assert document["battery"]["collection_point"]["id"] == outlet["point"]["id"]
        assert [e["event"] for e in document["timeline"]].count("Collected") == 1
    assert all("ERR_CONNECTION_REFUSED" in e for e in errors), errors
    context.close()


def test_an_outlet_hands_batteries_over_with_a_warning_for_a_receiver_off_the_whitelist(
    browser: Any, site: DemoSite, outlet: dict[str, Any], screenshot: Any
) -> None:
    codes = retired_batteries(site, 3)
    service = site.service()
    try:
        for code in codes:
            service.execute(
                Collect(
                    actor_id=site.participants["outlet_operator"],
                    code=code,
                    collection_point_id=outlet["point"]["id"],
                )
            )
    finally:
        service.close()
    for code in codes:
        wait_for_state(site, code, "collected")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page, errors = open_outlet(context, site)
    page.click("#ol-tab-handover")
    for code in codes:
        page.wait_for_selector(f"#ol-onhand input[value='{code}']")
    assert page.is_disabled("#ol-handover-submit")
    page.check(f"#ol-onhand input[value='{codes[0]}']")
    page.check(f"#ol-onhand input[value='{codes[1]}']")

    page.select_option("#ol-activity", "recycling")
    page.select_option("#ol-receiver", outlet["informal"]["credit_code"])
    warning = page.locator("#ol-receiver-status.warn")
    assert outlet["informal"]["name_en"] in warning.inner_text()  # an English page
    assert "not whitelisted" in warning.inner_text()
    page.select_option("#ol-receiver", outlet["whitelisted"]["credit_code"])
    assert page.locator("#ol-receiver-status.ok").count() == 1
    assert page.inner_text("#ol-handover-submit") == "Hand over 2 selected"
    page.click("#ol-handover-submit")
    for code in codes[:2]:
        page.locator(f"#ol-handover-result li.ok[data-code='{code}']").wait_for(timeout=TIMEOUT)
    page.wait_for_selector(f"#ol-onhand input[value='{codes[0]}']", state="detached", timeout=TIMEOUT)
    assert page.locator(f"#ol-onhand input[value='{codes[2]}']").count() == 1
    screenshot(page, "outlet-handover")

    # Handed to the receiver off the whitelist all the same: recorded, flagged, and the page says so.
    page.check(f"#ol-onhand input[value='{codes[2]}']")
    page.select_option("#ol-receiver", outlet["informal"]["credit_code"])
    page.click("#ol-handover-submit")
    flagged = page.locator(f"#ol-handover-result li.warn[data-code='{codes[2]}']")
    flagged.wait_for(timeout=TIMEOUT)
    assert "non-compliant" in flagged.inner_text()

    for code in codes[:2]:
        document = wait_for_state(site, code, "handed over")
        assert document["battery"]["holder"]["id"] == outlet["whitelisted"]["credit_code"]
    document = wait_for_state(site, codes[2], "handed over")
    assert document["battery"]["holder"]["id"] == outlet["informal"]["credit_code"]
    assert any("non-compliant" in flag for flag in document["battery"]["flags"]), document["battery"]["flags"]
    assert errors == []
    context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_page_fits_a_phone(browser: Any, site: DemoSite, lang: str) -> None:
    (code,) = retired_batteries(site, 1)
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, site, "outlet_operator", "/outlet", lang=lang)
    page.wait_for_selector("#ol-point option", state="attached")
    type_code(page, code)
    page.wait_for_selector("#ol-result .ol-outcome[data-verdict=taken]", timeout=TIMEOUT)
    overflow = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert page.evaluate(overflow) == 0
    page.click("#ol-tab-handover")
    page.wait_for_selector(f"#ol-onhand input[value='{code}']", timeout=TIMEOUT)
    assert page.evaluate(overflow) == 0
    assert errors == []
    context.close()
