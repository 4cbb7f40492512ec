"""What a scanner read, turned into a battery code: QR text (a resolver URL or the bare code) and
photos of labels (QR code or Data Matrix, the carriers GB/T 34014 names), decoded with zxing-cpp.

Shared by the scan endpoint and the pages, so that a label reads the same everywhere.

A photo is the one input whose cost is not its size: a 78 KB PNG can declare 1×39,999,999 pixels
and take a gigabyte to decode. So the size the header declares is checked before any pixel is
decoded (PIL reads only the header on open): each side at most ``MAX_SIDE`` and the whole at most
``MAX_PIXELS``; PIL's own guard (``DecompressionBombError``, above ``Image.MAX_IMAGE_PIXELS``, left
at PIL's default) is a second line. Decodes are bounded: at most ``MAX_CONCURRENT_DECODES`` at once
in the process; a photo that finds no free slot within ``DECODE_WAIT_SECONDS`` is refused with
``DecoderBusy`` (503 with Retry-After), rather than queued without bound, since each decode may
hold a few hundred megabytes. Anything the decoders raise is a refusal of the photo (422).
"""

from __future__ import annotations

import io
import re
import threading
from datetime import date
from urllib.parse import unquote, urlsplit

from PIL import Image, ImageOps, UnidentifiedImageError

from batterytrace.events.battery_code import EXAMPLE_CODE, parse_battery_code
from batterytrace.events.errors import InvalidBatteryCode, InvalidInput
from batterytrace.store import StoreUnavailable

RESOLVER_SEGMENT = "b"  # labels carry {public_url}/b/{code}
IMAGE_FORMATS = ("PNG", "JPEG")
MAX_PIXELS = 40_000_000  # a 40-megapixel photo is plenty for a label
MAX_SIDE = 10_000  # pixels; 40 megapixels up to 2.5:1, and well under zxing-cpp's 65,535
MAX_CONCURRENT_DECODES = 2  # the decode is CPU-bound: more at once only adds memory
DECODE_WAIT_SECONDS = 2.0  # how long a photo waits for a free decoder before a 503
_DECODES = threading.BoundedSemaphore(MAX_CONCURRENT_DECODES)
_AIM_PREFIX = re.compile(r"\][A-Za-z][0-9A-Za-z]")  # symbology identifier some scanners prepend
_SMALLER = "send a smaller picture of the label"
_TOO_LARGE = (
    f"photos over {MAX_PIXELS // 1_000_000} megapixels or {MAX_SIDE:,} pixels on a side are refused; "
    f"{_SMALLER}"
)
_HOW = f"scan the label's QR code (a link ending in /{RESOLVER_SEGMENT}/<code>) or its 24-character code"


def code_from_text(text: str, *, today: date | None = None) -> str:
    """The battery code in what a scanner read: a resolver URL ``http(s)://…/b/{code}`` or the
    bare code. Raises ``InvalidInput`` (``InvalidBatteryCode`` naming the bad segment for a
    code) saying what is wrong. ``today`` bounds the production date (default: the real date)."""
    read = text.strip()
    if _AIM_PREFIX.match(read):
        read = read[3:].strip()
    if not read:
        raise InvalidInput(f"the scanned text is empty; {_HOW}", key="scan.empty")
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
        raise InvalidInput(
            f"the scanned link {_shorten(url)} is not an http(s) URL; {_HOW}", key="scan.not_resolver_url"
        )
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[-2] != RESOLVER_SEGMENT:
        raise InvalidInput(
            f"the scanned link {_shorten(url)} is not a battery resolver URL: expected a path "
            f"ending in /{RESOLVER_SEGMENT}/<24-character code>, e.g. "
            f"https://trace.example.cn/{RESOLVER_SEGMENT}/{EXAMPLE_CODE}",
            key="scan.not_resolver_url",
        )
    candidate = segments[-1]
    try:
        return parse_battery_code(candidate, today=today).code
    except InvalidBatteryCode as error:
        raise InvalidBatteryCode(
            error.code, error.segment, f"{error.reason} (in the resolver URL {_shorten(url)})"
        ) from None


class DecoderBusy(StoreUnavailable):
    """Every photo decoder is busy: retry shortly. Answered like an unavailable store (503 with
    Retry-After), as ``ViewsBehind`` is: a temporary refusal, nothing wrong with the request."""

    kind = "decoder-busy"


def texts_from_image(data: bytes) -> list[str]:
    """The text of every QR code and Data Matrix in a PNG or JPEG image, in reading order;
    ``InvalidInput`` when the bytes are not such an image, are too large or no code is found in
    it; ``DecoderBusy`` when no decoder is free in time."""
    if not data:
        raise InvalidInput("the photo is empty; send a PNG or JPEG image of the battery's label")
    if not _DECODES.acquire(timeout=DECODE_WAIT_SECONDS):
        raise DecoderBusy(
            f"all {MAX_CONCURRENT_DECODES} photo decoders are busy; retry in a few seconds, or send the "
            "QR text instead of a photo"
        )
    try:
        texts = _decode(data)
    finally:
        _DECODES.release()
    if not texts:
        raise InvalidInput(
            "no QR code or Data Matrix code was found in the photo; photograph the label straight "
            "on, in focus and well lit, or type the 24-character code",
            key="scan.no_code_in_photo",
        )
    return texts


def _decode(data: bytes) -> list[str]:
    import zxingcpp

    image = _grey_image(data)
    try:
        found = zxingcpp.read_barcodes(image, formats=_formats())
    except (ValueError, RuntimeError, MemoryError) as error:  # zxing-cpp's own limits
        raise InvalidInput(f"the photo cannot be decoded ({_first_line(error)}); {_SMALLER}") from None
    return [barcode.text for barcode in found if barcode.text]


def _grey_image(data: bytes) -> Image.Image:
    """The photo as 8-bit grey, upright; its declared size is checked before a pixel is decoded."""
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as opened:
            _check_size(opened.width, opened.height)
            if opened.format == "JPEG":
                opened.draft("L", opened.size)  # decode straight to grey: a third of the memory
            grey = opened.convert("L")
        ImageOps.exif_transpose(grey, in_place=True)  # in place: no second copy of the pixels
        return grey
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(_TOO_LARGE) from None
    except MemoryError:
        raise InvalidInput(f"the photo is too large to decode; {_SMALLER}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise InvalidInput(
            f"the photo cannot be read as a PNG or JPEG image ({_first_line(error)})"
        ) from None


def _check_size(width: int, height: int) -> None:
    if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise InvalidInput(f"the photo has {width}×{height} pixels; {_TOO_LARGE}")


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [""])[0][:200] or type(error).__name__


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
