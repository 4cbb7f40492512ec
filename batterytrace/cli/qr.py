"""``qr``: QR codes of batteries' public pages, as image files or a printable PDF label sheet."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from batterytrace.cli.common import check_format, open_app
from batterytrace.events.battery_code import BatteryCode, parse_battery_code
from batterytrace.events.conventions import BATTERY_TYPES
from batterytrace.events.errors import InvalidBatteryCode, InvalidInput, NotFound
from batterytrace.events.zone import CHINA_STANDARD_TIME

if TYPE_CHECKING:
    from batterytrace.trace.application import BatteryTrace
    from batterytrace.trace.qr import Label

FORMATS = ("png", "svg", "pdf")
SHEET_NAME = "labels.pdf"
_SEPARATORS = re.compile(r"[,;\t]")


def qr(
    codes: Annotated[
        list[str] | None,
        typer.Argument(metavar="CODE", help="Battery codes (GB/T 34014).", show_default=False),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="png or svg: one file per code (CODE.png); pdf: a label sheet, labels.pdf."
        ),
    ] = "png",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write into (created if missing).")
    ] = Path("."),
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="A file of codes: one per line ('#' starts a comment), or a CSV with a 'code' column.",
        ),
    ] = None,
) -> None:
    """Write the QR codes of batteries' public pages (BATTERYTRACE_PUBLIC_URL/b/CODE), with the code
    printed under each, or an A4 PDF of labels (14 per page) with the QR, the code and a summary."""
    # Imported here: drawing libraries are not worth loading for every other command.
    from batterytrace.trace.qr import LABELS_PER_PAGE, label_sheet_pdf, qr_png, qr_svg, resolver_url
    from batterytrace.trace.settings import Settings

    kind = check_format(fmt, FORMATS)
    public_url = Settings.from_environment().public_url
    wanted = [(text, None) for text in codes or []]
    if from_file is not None:
        wanted += read_codes(from_file)
    if not wanted:
        raise InvalidInput("no battery codes: give them as arguments or with --from FILE")
    parsed = _parse_all(wanted)  # every code is checked before anything is opened or written
    if kind == "pdf":
        service = open_app()
        try:
            names: dict[str, str | None] = {}
            labels = [_label(service, names, public_url, code) for code in parsed]
        finally:
            service.close()
        path = _folder(out) / SHEET_NAME
        path.write_bytes(label_sheet_pdf(labels))
        pages = -(-len(labels) // LABELS_PER_PAGE)
        typer.echo(f"wrote {path}: {len(labels)} labels on {pages} page{'s' if pages > 1 else ''}")
        return
    unique = list(dict.fromkeys(code.code for code in parsed))
    folder = _folder(out)
    for code in unique:
        url = resolver_url(public_url, code)
        path = folder / f"{code}.{kind}"
        if kind == "png":
            path.write_bytes(qr_png(url, code))
        else:
            path.write_text(qr_svg(url, code), encoding="utf-8")
        typer.echo(str(path))


def read_codes(path: Path) -> list[tuple[str, str]]:
    """(code, where it was read) from a list of codes, one per line, or a CSV with a 'code' column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        raise InvalidInput(f"--from {str(path)!r}: cannot read it: {reason}") from None
    lines = text.splitlines()
    header = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    columns = [c.strip().strip('"').lower() for c in _SEPARATORS.split(header)]
    if "code" in columns:
        delimiter = next(sep for sep in (",", ";", "\t") if sep in header) if len(columns) > 1 else ","
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        position: int | None = None
        found: list[tuple[str, str]] = []
        for row in reader:
            if position is None:  # the header: the first row with content that is not a comment
                if row and any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#"):
                    position = [cell.strip().strip('"').lower() for cell in row].index("code")
                continue
            value = row[position].strip() if position < len(row) else ""
            if value:
                found.append((value, f"{path}:{reader.line_num}"))
        return found
    if len(columns) > 1:
        raise InvalidInput(
            f"--from {str(path)!r}: a CSV file needs a 'code' column; its first line is {header.strip()!r}"
        )
    return [
        (line.strip(), f"{path}:{number}")
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _parse_all(wanted: list[tuple[str, str | None]]) -> list[BatteryCode]:
    """Every code parsed, or the first invalid one refused with where it was read."""
    today = datetime.now(CHINA_STANDARD_TIME).date()
    parsed = []
    for text, where in wanted:
        try:
            parsed.append(parse_battery_code(text, today=today))
        except InvalidBatteryCode as error:
            if where is None:
                raise
            raise InvalidInput(f"{where}: {error.message}") from None
    return parsed


def _folder(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput(f"--out {str(out)!r}: cannot create the folder: {error.strerror}") from None
    if not out.is_dir():
        raise InvalidInput(f"--out {str(out)!r} is not a folder")
    return out


def _label(service: BatteryTrace, names: dict[str, str | None], public_url: str, code: BatteryCode) -> Label:
    """A label's summary from the recorded battery, or, for a code not recorded yet, from what the
    code itself says (and the maker that owns its manufacturer code, if registered)."""
    from batterytrace.trace.qr import Label, label_summary, resolver_url

    url = resolver_url(public_url, code.code)
    if service.exists(code.code):
        battery = service.battery(code.code)
        lines = label_summary(
            level=battery.level,
            chemistry=BATTERY_TYPES.get(battery.battery_type, "unknown"),
            production_month=str(battery.production_date)[:7],
            maker=_name(service, names, battery.manufacturer_id),
            manufacturer_code=battery.manufacturer_code,
            energy_kwh=battery.energy_kwh,
        )
        return Label(code=code.code, url=url, lines=lines)
    owner = service.code_owner(code.manufacturer_code)
    lines = label_summary(
        level=code.level,
        chemistry=code.chemistry,
        production_month=code.production_date.isoformat()[:7],
        maker=_name(service, names, owner) if owner else None,
        manufacturer_code=code.manufacturer_code,
    )
    return Label(code=code.code, url=url, lines=(*lines, "not recorded yet"))


def _name(service: BatteryTrace, names: dict[str, str | None], participant_id: str) -> str | None:
    """A participant's name, read once per participant."""
    if participant_id not in names:
        try:
            names[participant_id] = service.participant(participant_id).name
        except NotFound:
            names[participant_id] = None
    return names[participant_id]
