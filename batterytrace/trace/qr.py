"""QR codes for the battery resolver: every battery's public page is ``{public_url}/b/{code}``.

Three renderings of the same URL, all drawn from the ``qrcode`` library's module matrix:

- ``qr_png``: a PNG with the code printed under the QR, for screens and ad-hoc printing;
- ``qr_svg``: the same as SVG (one ``<rect>`` per run of dark modules, the caption as ``<text>``);
- ``label_sheet_pdf``: a printable A4 sheet of labels (2 x 7 per page, the Avery L7163 layout),
  each with the QR, the code and a short summary, drawn as vectors so they print sharp at any
  resolution.

Every QR keeps the 4-module quiet zone ISO/IEC 18004 asks for. Screen images use error correction
M (15 %); printed labels use Q (25 %), because labels on packs get scuffed in workshops.

The PDF is written with fpdf2's core fonts (Helvetica, Courier), which cover Latin-1 only; no font
is downloaded or shipped. Label text is therefore folded to ASCII, and a maker name with no Latin
form (a Chinese name) is left out in favour of the manufacturer code printed in the battery code.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M, ERROR_CORRECT_Q

from batterytrace.events.errors import InvalidInput

if TYPE_CHECKING:
    from fpdf import FPDF

SCREEN_ERROR_CORRECTION = ERROR_CORRECT_M
LABEL_ERROR_CORRECTION = ERROR_CORRECT_Q
QUIET_ZONE = 4  # modules of white around the symbol (ISO/IEC 18004)


def resolver_url(public_url: str, code: str) -> str:
    """The URL a battery's QR code carries: its public page."""
    return f"{public_url.rstrip('/')}/b/{code}"


def _qr(url: str, error_correction: int, box_size: int = 1) -> qrcode.QRCode:
    symbol = qrcode.QRCode(error_correction=error_correction, box_size=box_size, border=QUIET_ZONE)
    symbol.add_data(url)
    symbol.make(fit=True)
    return symbol


def qr_matrix(url: str, *, error_correction: int = SCREEN_ERROR_CORRECTION) -> list[list[bool]]:
    """The symbol's modules, quiet zone included: ``True`` is dark."""
    return _qr(url, error_correction).get_matrix()


def _runs(matrix: Sequence[Sequence[bool]]) -> Iterable[tuple[int, int, int]]:
    """Horizontal runs of dark modules as (row, first column, length)."""
    for y, row in enumerate(matrix):
        x, width = 0, len(row)
        while x < width:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < width and row[x]:
                x += 1
            yield y, start, x - start


# ------------------------------------------------------------------------------------- PNG
def qr_png(url: str, caption: str, *, box_size: int = 8) -> bytes:
    """A PNG of the QR code for ``url`` with ``caption`` (the battery code) printed under it."""
    symbol = _qr(url, SCREEN_ERROR_CORRECTION, box_size)
    code_image = symbol.make_image(fill_color="black", back_color="white").get_image().convert("L")
    font = ImageFont.load_default(size=max(10, round(box_size * 2.2)))
    measure = ImageDraw.Draw(code_image)
    left, top, right, bottom = measure.textbbox((0, 0), caption, font=font)
    text_width, text_height = right - left, bottom - top
    width = max(code_image.width, text_width + 4 * box_size)
    band = text_height + 3 * box_size  # below the quiet zone, so the caption never intrudes on it
    canvas = Image.new("L", (width, code_image.height + band), 255)
    canvas.paste(code_image, ((width - code_image.width) // 2, 0))
    ImageDraw.Draw(canvas).text(
        ((width - text_width) // 2 - left, code_image.height + box_size - top), caption, fill=0, font=font
    )
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


# ------------------------------------------------------------------------------------- SVG
def qr_svg(url: str, caption: str, *, module_px: int = 8) -> str:
    """A standalone SVG of the QR code for ``url`` with ``caption`` as ``<text>`` under it.

    Coordinates are in modules (the ``viewBox``); ``module_px`` sets the default display size."""
    matrix = qr_matrix(url)
    size = len(matrix)
    band = 3  # modules of caption under the quiet zone
    height = size + band
    usable = size - 2
    font_size = min(2.2, usable / (0.6 * max(len(caption), 1)))
    text_length = min(usable, 0.6 * font_size * len(caption))
    rects = "".join(f'<rect x="{x}" y="{y}" width="{w}" height="1"/>' for y, x, w in _runs(matrix))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 {size} {height}" '
        f'width="{size * module_px}" height="{height * module_px}" shape-rendering="crispEdges">'
        f"<title>{escape(url)}</title>"
        f'<rect width="{size}" height="{height}" fill="#fff"/>'
        f'<g fill="#000">{rects}</g>'
        f'<text x="{size / 2:g}" y="{size + 1.9:g}" text-anchor="middle" fill="#000" '
        f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{font_size:.2f}" '
        f'textLength="{text_length:.2f}" lengthAdjust="spacingAndGlyphs" '
        f">{escape(caption)}</text>"
        "</svg>\n"
    )


# ------------------------------------------------------------------------------------- PDF
@dataclass(frozen=True)
class Label:
    """One label: the URL its QR carries, the code printed beside it, a few lines of summary."""

    code: str
    url: str
    lines: tuple[str, ...] = ()


def ascii_text(text: str | None) -> str:
    """``text`` folded to printable ASCII (accents dropped, other scripts removed), or ''."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join("".join(c if c.isprintable() else " " for c in folded).split())


def label_summary(
    *,
    level: str,
    chemistry: str,
    production_month: str,
    maker: str | None = None,
    manufacturer_code: str | None = None,
    energy_kwh: float | None = None,
) -> tuple[str, ...]:
    """The human-readable lines of a label, in ASCII: what it is, who made it, when, how much."""
    name = ascii_text(maker)
    made = f"made {production_month}"
    if energy_kwh is not None:
        made += f", {energy_kwh:g} kWh"
    lines = [ascii_text(f"{level}, {chemistry}")]
    if name:
        lines.append(f"maker: {name}")
    elif manufacturer_code:
        lines.append(f"maker code: {manufacturer_code}")
    lines.append(made)
    return tuple(lines)


# Avery L7163 / 2 x 7 on A4: 99.1 x 38.1 mm labels, 4.65 mm side and 15.15 mm top margins.
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0
COLUMNS, ROWS = 2, 7
LABEL_WIDTH, LABEL_HEIGHT = 99.1, 38.1
LEFT_MARGIN, TOP_MARGIN = 4.65, 15.15
COLUMN_PITCH, ROW_PITCH = 101.6, 38.1
LABELS_PER_PAGE = COLUMNS * ROWS
PADDING = 1.5  # mm between the label's edge and the QR's quiet zone


def label_sheet_pdf(
    labels: Sequence[Label], *, outlines: bool = True, title: str = "Battery labels"
) -> bytes:
    """An A4 PDF of labels, 14 per page, as many pages as needed. ``outlines`` draws a light cut
    line around each label, for printing on plain paper."""
    from fpdf import FPDF  # imported here: it takes a quarter of a second

    if not labels:
        raise InvalidInput("no labels to print: give at least one battery code")
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_title(title)
    pdf.set_creator("batterytrace")
    for index, label in enumerate(labels):
        slot = index % LABELS_PER_PAGE
        if slot == 0:
            pdf.add_page()
        x = LEFT_MARGIN + (slot % COLUMNS) * COLUMN_PITCH
        y = TOP_MARGIN + (slot // COLUMNS) * ROW_PITCH
        _draw_label(pdf, label, x, y, outlines=outlines)
    return bytes(pdf.output())


def _draw_label(pdf: FPDF, label: Label, x: float, y: float, *, outlines: bool) -> None:
    if outlines:
        pdf.set_draw_color(200)
        pdf.set_line_width(0.1)
        pdf.rect(x, y, LABEL_WIDTH, LABEL_HEIGHT, round_corners=True, corner_radius=2)
    side = LABEL_HEIGHT - 2 * PADDING
    matrix = qr_matrix(label.url, error_correction=LABEL_ERROR_CORRECTION)
    module = side / len(matrix)
    qr_x, qr_y = x + PADDING, y + PADDING
    pdf.set_fill_color(0)
    for row, column, run in _runs(matrix):
        # A hair of overlap with the next row, so renderers leave no seams between rows.
        pdf.rect(qr_x + column * module, qr_y + row * module, run * module, module * 1.02, style="F")
    text_x = qr_x + side + 1.0
    width = x + LABEL_WIDTH - 2.5 - text_x
    pdf.set_text_color(0)
    pdf.set_xy(text_x, y + 5)
    pdf.set_font("Courier", "B", _fitting_size(pdf, "Courier", "B", label.code, width, 10))
    pdf.cell(width, 5, label.code)
    pdf.set_font("Helvetica", "", 8)
    line_y = y + 12
    for line in label.lines[:4]:
        pdf.set_xy(text_x, line_y)
        pdf.cell(width, 4, _fit(pdf, ascii_text(line), width))
        line_y += 4.2
    pdf.set_font("Helvetica", "", 6)
    pdf.set_text_color(90)
    pdf.set_xy(text_x, y + LABEL_HEIGHT - 7)
    pdf.cell(width, 3, _fit(pdf, ascii_text(label.url), width))


def _fitting_size(pdf: FPDF, family: str, style: str, text: str, width: float, size: float) -> float:
    pdf.set_font(family, style, size)
    while size > 5 and pdf.get_string_width(text) > width:
        size -= 0.5
        pdf.set_font(family, style, size)
    return size


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """``text`` cut with '...' so that it fits ``width`` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = math.ceil((low + high) / 2)
        if pdf.get_string_width(text[:middle].rstrip() + "...") <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "..."
