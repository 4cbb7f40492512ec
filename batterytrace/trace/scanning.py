"""What a scanner read, turned into a battery code: QR text (a resolver URL or the bare code) and
photos of labels (QR code or Data Matrix, the carriers GB/T 34014 names), decoded with zxing-cpp.

Shared by the scan endpoint and the pages, so that a label reads the same everywhere.
"""

from __future__ import annotations

import io
import re
from datetime import date
from urllib.parse import unquote, urlsplit

from PIL import Image, ImageOps, UnidentifiedImageError

from batterytrace.events.battery_code import EXAMPLE_CODE, parse_battery_code
from batterytrace.events.errors import InvalidBatteryCode, InvalidInput

RESOLVER_SEGMENT = "b"  # labels carry {public_url}/b/{code}
IMAGE_FORMATS = ("PNG", "JPEG")
MAX_PIXELS = 40_000_000  # a 40-megapixel photo is plenty for a label
_AIM_PREFIX = re.compile(r"\][A-Za-z][0-9A-Za-z]")  # symbology identifier some scanners prepend
_TOO_LARGE = f"photos over {MAX_PIXELS // 1_000_000} megapixels are refused; send a smaller picture"
_HOW = f"scan the label's QR code (a link ending in /{RESOLVER_SEGMENT}/<code>) or its 24-character code"


def code_from_text(text: str, *, today: date | None = None) -> str:
    """The battery code in what a scanner read: a resolver URL ``http(s)://…/b/{code}`` or the
    bare code. Raises ``InvalidInput`` (``InvalidBatteryCode`` naming the bad segment for a
    code) saying what is wrong. ``today`` bounds the production date (default: the real date)."""
    read = text.strip()
    if _AIM_PREFIX.match(read):
        read = read[3:].strip()
    if not read:
        raise InvalidInput(f"the scanned text is empty; {_HOW}")
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", read):
        return _code_from_url(read, today)
    try:
        return parse_battery_code(read, today=today).code
    except InvalidBatteryCode as error:
        raise InvalidBatteryCode(
            error.code,
            error.segment,
            f"{error.reason}; the scanned text is neither a resolver URL nor a valid battery code",
        ) from None


def _code_from_url(url: str, today: date | None) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(f"the scanned link {_shorten(url)} is not an http(s) URL; {_HOW}")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[-2] != RESOLVER_SEGMENT:
        raise InvalidInput(
            f"the scanned link {_shorten(url)} is not a battery resolver URL: expected a path "
            f"ending in /{RESOLVER_SEGMENT}/<24-character code>, e.g. "
            f"https://trace.example.cn/{RESOLVER_SEGMENT}/{EXAMPLE_CODE}"
        )
    candidate = segments[-1]
    try:
        return parse_battery_code(candidate, today=today).code
    except InvalidBatteryCode as error:
        raise InvalidBatteryCode(
            error.code, error.segment, f"{error.reason} (in the resolver URL {_shorten(url)})"
        ) from None


def texts_from_image(data: bytes) -> list[str]:
    """The text of every QR code and Data Matrix in a PNG or JPEG image, in reading order;
    ``InvalidInput`` when the bytes are not such an image or no code is found in it."""
    import zxingcpp

    if not data:
        raise InvalidInput("the photo is empty; send a PNG or JPEG image of the battery's label")
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise InvalidInput(f"the photo has {opened.width}×{opened.height} pixels; {_TOO_LARGE}")
            image = ImageOps.exif_transpose(opened).convert("L")
    except Image.DecompressionBombError:
        raise InvalidInput(_TOO_LARGE) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InvalidInput(
            f"the photo cannot be read as a PNG or JPEG image ({str(error).splitlines()[0] or 'unknown'})"
        ) from None
    found = zxingcpp.read_barcodes(image, formats=_formats())
    texts = [barcode.text for barcode in found if barcode.text]
    if not texts:
        raise InvalidInput(
            "no QR code or Data Matrix code was found in the photo; photograph the label straight "
            "on, in focus and well lit, or type the 24-character code"
        )
    return texts


def codes_from_image(data: bytes, *, today: date | None = None) -> list[str]:
    """The distinct battery codes on the labels in a photo, in reading order. Symbols that are not
    battery codes are skipped when at least one is; when none is, the first one's problem is
    raised (``InvalidInput`` naming what it read)."""
    texts = texts_from_image(data)
    codes: list[str] = []
    first_error: InvalidInput | None = None
    for text in texts:
        try:
            code = code_from_text(text, today=today)
        except InvalidInput as error:
            first_error = first_error or error
            continue
        if code not in codes:
            codes.append(code)
    if not codes:
        assert first_error is not None
        raise first_error
    return codes


def _formats() -> object:
    import zxingcpp

    return zxingcpp.barcode_formats_from_str("QRCode,DataMatrix")


def _shorten(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


__all__ = ["code_from_text", "codes_from_image", "texts_from_image"]
