"""QR codes and label sheets decode, with an independent decoder (zxing-cpp), to exactly the
resolver URL: PNG directly, SVG rasterised twice (by cairosvg when installed, and by a small
rasteriser of its rects here), PDF label sheets rendered by poppler's pdftoppm page by page."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from batterytrace.events.errors import InvalidInput
from batterytrace.trace.qr import (
    LABELS_PER_PAGE,
    QUIET_ZONE,
    Label,
    ascii_text,
    label_sheet_pdf,
    label_summary,
    qr_matrix,
    qr_png,
    qr_svg,
    resolver_url,
)

CODE = "3CAPB120A1B2C3R7F0000123"
URLS = (
    f"http://127.0.0.1:8000/b/{CODE}",
    f"https://trace.example.cn/b/{CODE}",
    f"https://battery-passport.traceability.example.gov.cn/resolver/b/{CODE}",
)
SVG = "{http://www.w3.org/2000/svg}"
IN_CI = os.environ.get("CI", "").lower() == "true"


def decoded(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def svg_to_image(svg: str, *, scale: int = 6) -> Image.Image:
    """Rasterise our SVG's rects (the caption text is not drawn): enough to decode the symbol."""
    root = ET.fromstring(svg.encode())
    _x, _y, width, height = (float(v) for v in root.attrib["viewBox"].split())
    image = Image.new("L", (round(width * scale), round(height * scale)), 255)
    draw = ImageDraw.Draw(image)

    def paint(element: ET.Element, fill: str) -> None:
        fill = element.attrib.get("fill", fill)
        if element.tag == f"{SVG}rect":
            x, y = float(element.attrib.get("x", 0)), float(element.attrib.get("y", 0))
            w, h = float(element.attrib["width"]), float(element.attrib["height"])
            shade = 255 if fill.lower() in ("#fff", "#ffffff", "white") else 0
            box = (round(x * scale), round(y * scale), round((x + w) * scale) - 1, round((y + h) * scale) - 1)
            draw.rectangle(box, fill=shade)
        for child in element:
            paint(child, fill)

    paint(root, "#000")
    return image


def pdf_pages(pdf: bytes, folder: Path, *, dpi: int = 150) -> list[Image.Image]:
    """Each page of ``pdf`` as an image, rendered by poppler's pdftoppm."""
    if shutil.which("pdftoppm") is None:
        reason = "pdftoppm is missing: apt-get install poppler-utils"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    source = folder / "sheet.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(source), str(folder / "page")], check=True)
    return [Image.open(path) for path in sorted(folder.glob("page-*.png"))]


def pdf_text(pdf: bytes, folder: Path) -> str:
    source = folder / "text.pdf"
    source.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True, text=True
    ).stdout


# ------------------------------------------------------------------------------------- URL
def test_the_resolver_url_is_the_public_url_then_b_then_the_code() -> None:
    assert resolver_url("https://trace.example.cn", CODE) == f"https://trace.example.cn/b/{CODE}"
    assert resolver_url("https://trace.example.cn/", CODE) == f"https://trace.example.cn/b/{CODE}"


# ------------------------------------------------------------------------------------- PNG
@pytest.mark.parametrize("url", URLS)
def test_a_png_decodes_to_exactly_the_url(url: str) -> None:
    image = Image.open(io.BytesIO(qr_png(url, CODE)))
    assert image.format == "PNG"
    assert decoded(image) == [url]


def test_a_png_keeps_its_quiet_zone_and_prints_the_code_under_the_symbol() -> None:
    box = 8
    image = Image.open(io.BytesIO(qr_png(URLS[0], CODE, box_size=box))).convert("L")
    symbol = len(qr_matrix(URLS[0])) * box
    left = (image.width - symbol) // 2
    quiet = QUIET_ZONE * box
    pixels = image.load()
    border = [
        pixels[x, y]
        for y in range(symbol)
        for x in range(left, left + symbol)
        if not (quiet <= y < symbol - quiet and quiet <= x - left < symbol - quiet)
    ]
    assert min(border) == 255, "the quiet zone must stay white"
    caption = image.crop((0, symbol, image.width, image.height))
    darkest, _lightest = caption.getextrema()
    assert caption.height > 0 and darkest < 128, "the code is printed under the symbol"


# ------------------------------------------------------------------------------------- SVG
@pytest.mark.parametrize("url", URLS)
def test_an_svg_rasterised_here_decodes_to_exactly_the_url(url: str) -> None:
    assert decoded(svg_to_image(qr_svg(url, CODE))) == [url]


def test_an_svg_rasterised_by_cairosvg_decodes_to_exactly_the_url() -> None:
    cairosvg = pytest.importorskip("cairosvg", reason="cairosvg (and libcairo) not installed")
    png = cairosvg.svg2png(bytestring=qr_svg(URLS[1], CODE).encode(), output_width=400)
    assert decoded(Image.open(io.BytesIO(png))) == [URLS[1]]


def test_an_svg_carries_the_code_as_text_and_escapes_what_it_prints() -> None:
    root = ET.fromstring(qr_svg(URLS[0], CODE).encode())
    assert [t.text for t in root.iter(f"{SVG}text")] == [CODE]
    assert root.find(f"{SVG}title").text == URLS[0]
    odd = ET.fromstring(qr_svg("https://x.example/b/1?a=1&b=<2>", 'A & "B" <C>').encode())
    assert [t.text for t in odd.iter(f"{SVG}text")] == ['A & "B" <C>']
    assert odd.find(f"{SVG}title").text == "https://x.example/b/1?a=1&b=<2>"


# ------------------------------------------------------------------------------------- PDF
def labels(count: int) -> list[Label]:
    codes = [f"3CAPB120A1B2C3R7F{serial:07d}" for serial in range(1, count + 1)]
    summary = label_summary(
        level="pack",
        chemistry="lithium iron phosphate",
        production_month="2024-07",
        maker="宁德时代新能源科技股份有限公司",  # no Latin form: the manufacturer code is printed instead
        manufacturer_code="3CA",
        energy_kwh=61.4,
    )
    return [
        Label(code=code, url=resolver_url(URLS[1].split("/b/")[0], code), lines=summary) for code in codes
    ]


def test_every_label_on_every_page_of_a_sheet_decodes_to_its_url(tmp_path: Path) -> None:
    sheet = labels(LABELS_PER_PAGE + 3)
    pages = pdf_pages(label_sheet_pdf(sheet), tmp_path)
    assert len(pages) == 2
    first, second = (sorted(decoded(page)) for page in pages)
    assert first == sorted(label.url for label in sheet[:LABELS_PER_PAGE])
    assert second == sorted(label.url for label in sheet[LABELS_PER_PAGE:])


def test_a_label_prints_the_code_and_a_summary_in_ascii(tmp_path: Path) -> None:
    sheet = [
        *labels(1),
        Label(
            code="4BYPE120A1B2C3R7F0000001",
            url=f"https://trace.example.cn/b/{'4BYPE120A1B2C3R7F0000001'}",
            lines=label_summary(
                level="pack",
                chemistry="ternary (NCM/NCA)",
                production_month="2024-07",
                maker="Société Générale des Batteries",
                manufacturer_code="4BY",
            ),
        ),
    ]
    text = pdf_text(label_sheet_pdf(sheet), tmp_path)
    for expected in (
        "3CAPB120A1B2C3R7F0000001",
        "pack, lithium iron phosphate",
        "maker code: 3CA",
        "made 2024-07, 61.4 kWh",
        "4BYPE120A1B2C3R7F0000001",
        "maker: Societe Generale des Batteries",
        "made 2024-07",
    ):
        assert expected in text, expected


def test_a_sheet_needs_at_least_one_label() -> None:
    with pytest.raises(InvalidInput, match="no labels"):
        label_sheet_pdf([])


def test_text_for_the_pdf_is_folded_to_ascii() -> None:
    assert ascii_text("Société  Générale\n") == "Societe Generale"
    assert ascii_text("宁德时代") == ""
    assert ascii_text(None) == ""
