"""Photo scans with hostile images (issue 10, finding 9).

The probe posted a 78 KB PNG declaring 1×39,999,999 pixels: it passed the 40-megapixel check, took
the server to 1.18 GB and ended in a 500 (zxing-cpp's 65,535-pixel side limit). Now the size the
header declares is checked side by side before a pixel is decoded, whatever the decoders raise is a
422, and decodes are bounded (a photo that finds every decoder busy is a 503 with Retry-After).

Images are generated here; the PNGs with absurd sizes are written chunk by chunk (``png``), so the
test never holds their pixels either.
"""

from __future__ import annotations

import io
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import qrcode
from PIL import Image

from batterytrace.trace import scanning
from tests.utils.api import Api, api_on
from tests.utils.server import cast_with_keys, running_server

UNKNOWN_CODE = "3CAPB120A1B2C3R7F0000999"  # a valid code that nobody produced
RESOLVER = "https://trace.example.cn/b/"


@pytest.fixture
def api(sqlite_url: str) -> Iterator[Api]:
    """The API on SQLite only: decoding a photo does not touch the store."""
    with api_on(sqlite_url) as client:
        yield client


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, *, rows: int | None = None) -> bytes:
    """A greyscale PNG of ``width``×``height`` black pixels, compressed without holding them;
    ``rows`` writes only that many rows of data (a header promising more than the data holds)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte, then the pixels
    left = height if rows is None else rows
    parts: list[bytes] = []
    per_call = max(1, 4_000_000 // len(row))
    while left > 0:
        count = min(left, per_call)
        parts.append(compressor.compress(row * count))
        left -= count
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def qr_image(text: str = f"{RESOLVER}{UNKNOWN_CODE}") -> Image.Image:
    return qrcode.make(text, box_size=6).get_image().convert("L")


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def scan_photo(api: Api, photo: bytes, name: str = "label.png", kind: str = "image/png") -> httpx.Response:
    return api.client.post(
        f"/api/v1/collection-points/{api.cast.collection_point}/scans",
        data={"client_scan_id": "photo-probe"},
        files={"photo": (name, photo, kind)},
        headers=api.auth("outlet_operator"),
    )


def problem_of(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    for fragment in fragments:
        assert fragment in body["detail"], body["detail"]
    return body


# ---------------------------------------------------------------------------- declared size
@pytest.mark.parametrize(
    ("width", "height"),
    [(1, 39_999_999), (39_999_999, 1), (10_001, 100), (100, 10_001), (7000, 6000)],
)
def test_a_photo_too_long_on_a_side_or_too_large_is_refused_before_decoding(
    api: Api, width: int, height: int
) -> None:
    photo = png(width, height)
    assert len(photo) < 200_000  # tiny files: the cost was in the pixels they declare
    problem_of(scan_photo(api, photo), 422, f"{width}×{height} pixels", "10,000 pixels on a side")


@pytest.mark.parametrize(("width", "height"), [(60_000, 60_000), (65_535, 65_535), (20_000, 20_000)])
def test_a_huge_declared_size_with_almost_no_data_is_refused(api: Api, width: int, height: int) -> None:
    photo = png(width, height, rows=1)
    problem_of(scan_photo(api, photo), 422, "are refused")


def test_a_header_promising_more_rows_than_its_data_holds_is_refused(api: Api) -> None:
    """36 megapixels are allowed, so this one is decoded (PIL leaves the missing rows black)."""
    refused = problem_of(scan_photo(api, png(6000, 6000, rows=3)), 422)
    assert "no QR code" in refused["detail"] or "cannot be read" in refused["detail"]


def test_a_truncated_png_is_refused(api: Api) -> None:
    whole = encoded(qr_image(), "PNG")
    for cut in (len(whole) // 2, 40, 8):
        problem_of(scan_photo(api, whole[:cut]), 422, "cannot be read as a PNG or JPEG image")


@pytest.mark.parametrize(
    ("fmt", "name", "kind"),
    [
        ("GIF", "label.gif", "image/gif"),
        ("TIFF", "label.tif", "image/tiff"),
        ("WEBP", "label.webp", "image/webp"),
    ],
)
def test_other_image_formats_are_refused_even_with_a_readable_code(
    api: Api, fmt: str, name: str, kind: str
) -> None:
    problem_of(scan_photo(api, encoded(qr_image(), fmt), name, kind), 422, "cannot be read as a PNG or JPEG")


def test_a_valid_qr_photo_is_still_decoded(api: Api) -> None:
    """Decoded, then refused only because nobody produced that battery (404, not 422)."""
    assert scanning.texts_from_image(encoded(qr_image(), "PNG")) == [f"{RESOLVER}{UNKNOWN_CODE}"]
    for fmt, kind in (("PNG", "image/png"), ("JPEG", "image/jpeg")):
        response = scan_photo(api, encoded(qr_image(), fmt), f"label.{fmt.lower()}", kind)
        assert response.status_code == 404, response.text
        assert UNKNOWN_CODE in response.json()["detail"]


# ------------------------------------------------------------------------- decoder errors, load
def test_an_error_inside_the_decoder_is_a_422_not_a_500(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    import zxingcpp

    def refuses(*_args: Any, **_kwargs: Any) -> list[Any]:
        raise ValueError("Maximum image width/height is 65535")

    monkeypatch.setattr(zxingcpp, "read_barcodes", refuses)
    problem_of(scan_photo(api, encoded(qr_image(), "PNG")), 422, "cannot be decoded (Maximum image width")


def test_a_photo_that_finds_every_decoder_busy_is_a_503_with_retry_after(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scanning, "DECODE_WAIT_SECONDS", 0.2)
    taken = 0
    try:
        while scanning._DECODES.acquire(blocking=False):  # other photos are being decoded
            taken += 1
        assert taken == scanning.MAX_CONCURRENT_DECODES
        busy = problem_of(scan_photo(api, encoded(qr_image(), "PNG")), 503, "photo decoders are busy")
        assert busy["type"] == "/problems/decoder-busy"
        assert int(scan_photo(api, encoded(qr_image(), "PNG")).headers["Retry-After"]) > 0
    finally:
        for _ in range(taken):
            scanning._DECODES.release()
    assert scan_photo(api, encoded(qr_image(), "PNG")).status_code == 404  # free again


def test_concurrent_photos_never_decode_more_than_the_bound_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    running, peak, lock = 0, 0, threading.Lock()
    decode = scanning._decode

    def counted(data: bytes) -> list[str]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            return decode(data)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(scanning, "_decode", counted)
    monkeypatch.setattr(scanning, "DECODE_WAIT_SECONDS", 30.0)
    photo = encoded(qr_image(), "PNG")
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(scanning.texts_from_image(photo))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 8 and peak <= scanning.MAX_CONCURRENT_DECODES


# -------------------------------------------------------------------------------- real server
def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read the peak RSS")
def test_the_1_by_39999999_png_leaves_the_servers_memory_alone(sqlite_url: str, tmp_path: Path) -> None:
    """The probe's photo on a real ``batterytrace serve``: a quick 422 and no gigabyte of RSS."""
    cast, keys = cast_with_keys(sqlite_url)
    photo = png(1, 39_999_999)
    with running_server(sqlite_url, tmp_path) as server, server.client("outlet_operator", keys) as outlet:
        before = _peak_rss_mb(server.process.pid)
        response = outlet.post(
            f"/api/v1/collection-points/{cast.collection_point}/scans",
            data={"client_scan_id": "tall-1"},
            files={"photo": ("tall.png", photo, "image/png")},
        )
        after = _peak_rss_mb(server.process.pid)
    assert response.status_code == 422, response.text
    assert "1×39999999 pixels" in response.json()["detail"]
    assert after - before < 50, f"peak RSS grew from {before:.0f} MB to {after:.0f} MB"
