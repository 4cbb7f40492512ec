"""``batterytrace qr`` as users run it (the console script in a child process): PNG and SVG files
and a PDF label sheet whose QR codes decode to ``{BATTERYTRACE_PUBLIC_URL}/b/{code}``, codes from
arguments or a file (a list or a CSV with a ``code`` column), and one-line refusals."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.qr import LABELS_PER_PAGE
from batterytrace.trace.settings import Settings
from tests.unit.test_qr import pdf_pages, pdf_text, svg_to_image
from tests.utils.cast import register_cast

PUBLIC_URL = "https://trace.example.cn"


def code(serial: int, *, maker: str = "3CA") -> str:
    return make_battery_code(maker, "P", "B", "12", "0A1B2C3", date(2024, 7, 15), serial)


RECORDED = [code(n) for n in range(1, LABELS_PER_PAGE + 1)]  # one full page
NOT_RECORDED = code(99)  # its maker code is registered, the battery is not
UNCLAIMED = code(1, maker="7ZZ")  # nobody owns this manufacturer code


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    database_url: str
    cwd: Path

    def run(self, *args: str) -> Result:
        beside_python = Path(sys.executable).with_name("batterytrace")
        command = str(beside_python) if beside_python.exists() else shutil.which("batterytrace")
        assert command, "the batterytrace console script is not installed (pip install -e .)"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
        env.update(
            BATTERYTRACE_DATABASE_URL=self.database_url,
            BATTERYTRACE_PUBLIC_URL=PUBLIC_URL + "/",
            COLUMNS="200",
            NO_COLOR="1",
            PYTHONIOENCODING="utf-8",
        )
        done = subprocess.run(
            [command, *args], env=env, cwd=self.cwd, capture_output=True, text=True, timeout=60
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.returncode == 0, result
        assert "Traceback" not in result.stderr, result
        return result

    def refused(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 1, result
        assert "Traceback" not in result.stderr, result
        [line] = result.stderr.splitlines()
        assert line.startswith("error: ")
        return line


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A SQLite store with the cast and a page's worth of recorded packs."""
    folder = tmp_path_factory.mktemp("qr")
    url = f"sqlite:///{folder / 'batterytrace.db'}"
    service = BatteryTrace(Settings(database_url=url))
    try:
        cast = register_cast(service)
        for battery in RECORDED:
            spec = ProductionSpec(
                code=battery, rated_capacity_ah=150, nominal_voltage_v=409.6, energy_kwh=61.4, mass_kg=380
            )
            service.produce(actor_id=cast.manufacturer, spec=spec)
    finally:
        service.close()
    return Cli(url, folder)


def decoded(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def test_png_files_one_per_code_decode_to_the_public_url(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "png"
    result = cli.ok("qr", RECORDED[0], NOT_RECORDED.lower(), RECORDED[0], "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{RECORDED[0]}.png", f"{NOT_RECORDED}.png"])
    assert result.stdout.splitlines() == [str(out / f"{RECORDED[0]}.png"), str(out / f"{NOT_RECORDED}.png")]
    for battery in (RECORDED[0], NOT_RECORDED):
        assert decoded(Image.open(out / f"{battery}.png")) == [f"{PUBLIC_URL}/b/{battery}"]


def test_svg_files_decode_to_the_public_url(cli: Cli, tmp_path: Path) -> None:
    cli.ok("qr", RECORDED[1], "--format", "svg", "--out", str(tmp_path))
    svg = (tmp_path / f"{RECORDED[1]}.svg").read_text(encoding="utf-8")
    assert f">{RECORDED[1]}</text>" in svg
    assert decoded(svg_to_image(svg)) == [f"{PUBLIC_URL}/b/{RECORDED[1]}"]


def test_a_label_sheet_from_a_csv_file_decodes_on_every_page(cli: Cli, tmp_path: Path) -> None:
    listed = [*RECORDED, NOT_RECORDED, UNCLAIMED]
    rows = "".join(f"{n},{battery},pallet 7\n" for n, battery in enumerate(listed, start=1))
    codes = tmp_path / "codes.csv"
    codes.write_text("\ufeffline,Code,note\n" + rows, encoding="utf-8")
    result = cli.ok("qr", "--from", str(codes), "--format", "pdf", "--out", str(tmp_path / "labels"))
    sheet = tmp_path / "labels" / "labels.pdf"
    assert result.stdout.strip() == f"wrote {sheet}: {len(listed)} labels on 2 pages"
    pdf = sheet.read_bytes()
    first, second = (sorted(decoded(page)) for page in pdf_pages(pdf, tmp_path))
    assert first == sorted(f"{PUBLIC_URL}/b/{battery}" for battery in RECORDED)
    assert second == sorted(f"{PUBLIC_URL}/b/{battery}" for battery in (NOT_RECORDED, UNCLAIMED))
    text = pdf_text(pdf, tmp_path)
    for expected in (
        "maker: Ningde Cells Co.",  # recorded: from the store
        "made 2024-07, 61.4 kWh",
        "pack, lithium iron phosphate",
        "not recorded yet",  # the code alone: level, chemistry, month, and its code's owner
        "maker code: 7ZZ",
    ):
        assert expected in text, expected


def test_codes_from_a_plain_list_with_comments(cli: Cli, tmp_path: Path) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text(f"# pallet 7\n{RECORDED[2]}\n\n  {RECORDED[3].lower()}  \n", encoding="utf-8")
    cli.ok("qr", RECORDED[4], "--from", str(codes), "--out", str(tmp_path / "out"))
    names = sorted(p.stem for p in (tmp_path / "out").iterdir())
    assert names == sorted(RECORDED[2:5])


def refused_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cli: Cli, *args: str
) -> str:
    """Run the entry point in this process (refusals need no child process to prove their
    shape): exit status 1 and one line on stderr."""
    from batterytrace.cli.main import run

    monkeypatch.setenv("BATTERYTRACE_DATABASE_URL", cli.database_url)
    monkeypatch.setattr(sys, "argv", ["batterytrace", *args])
    with pytest.raises(SystemExit) as exit_status:
        run()
    assert exit_status.value.code == 1
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("error: ") and captured.out == ""
    return line


def test_refusals_are_one_line_and_write_nothing(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nothing"

    def refused(*args: str) -> str:
        return refused_in_process(monkeypatch, capsys, cli, "qr", *args, "--out", str(out))

    assert "no battery codes" in refused()
    assert "--format 'jpeg' is unknown" in refused(RECORDED[0], "--format", "jpeg")
    assert "battery type 'X'" in refused(RECORDED[0], "3CAPX120A1B2C3R7F0000123")
    listing = tmp_path / "codes.txt"
    listing.write_text(f"{RECORDED[0]}\n3CAPB120A1B2C3R7F000012\n", encoding="utf-8")
    assert f"{listing}:2: invalid battery code" in refused("--from", str(listing), "-f", "pdf")
    table = tmp_path / "codes.csv"
    table.write_text("serial,vin\n1,LSVAU2180N2183294\n", encoding="utf-8")
    assert "needs a 'code' column" in refused("--from", str(table))
    assert "cannot read it" in refused("--from", str(tmp_path / "missing.txt"))
    assert not out.exists()
    # And once as users see it, from the installed command.
    assert "battery type 'X'" in cli.refused("qr", "3CAPX120A1B2C3R7F0000123", "--out", str(out))
