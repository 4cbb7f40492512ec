"""CLI tables a regulator copies from (issue 11, item 10): at 160 columns a battery code came out
as ``0SVPBB1KFBYU04HCH0003…``, which ``show`` cannot find, and ``code`` printed an invalid code's
reason in the "maker" column. Rendered on Rich consoles 80 and 160 characters wide: every code,
VIN and credit code is whole on one line, whatever else has to fold, and a refusal has its own
column.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from rich.console import Console
from typer.testing import CliRunner

import batterytrace.cli.show as show_module
from batterytrace.cli.main import app as cli
from batterytrace.cli.tables import print_table
from batterytrace.trace.report_columns import column_keys, header_row

VALID = "3CAPB120A1B2C3R7F0000123"
INVALID = "0SVPBB1KFBYU04HCH0003XYZ"  # a serial number with letters
COMPLIANCE_TABLE = ("kind", "code", "event", "occurred_at", "recorded_at", "actor_id", "detail")


def _finding(serial: int) -> dict[str, object]:
    return {
        "kind": "late_report",
        "code": f"0SVPBB1KFBYU04HCH{serial:07d}",
        "event": "HandedOver",
        "occurred_at": "2026-03-02T10:00:00+08:00",
        "recorded_at": "2026-05-20T09:30:00+08:00",
        "actor_id": "91110105MA0000004X",
        "detail": "reported 55 working days after the hand-over; the deadline for a collection "
        "outlet's hand-over is 30 working days (2018 rules)",
        "vin": "LSVAU2180N2183294",
    }


def _rendered(width: int, draw: Callable[[Console], None]) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    draw(console)
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


def _whole_on_one_line(value: str, lines: list[str]) -> bool:
    return any(re.search(rf"(^|[\s│┃]){re.escape(value)}($|[\s│┃])", line) for line in lines)


@pytest.mark.parametrize("width", [80, 160])
@pytest.mark.parametrize("language", [None, "zh"])
def test_every_code_in_a_compliance_table_can_be_copied_whole(width: int, language: str | None) -> None:
    rows = [_finding(serial) for serial in range(1, 4)]
    columns = [*COMPLIANCE_TABLE, "vin"]
    headers = header_row(columns, "compliance", language)
    lines = _rendered(width, lambda console: print_table(console, columns, rows, headers=headers))
    assert all(len(line) <= width for line in lines)  # nothing runs off the terminal
    for row in rows:
        for identifier in (row["code"], row["actor_id"], row["vin"]):
            assert _whole_on_one_line(str(identifier), lines), (identifier, "\n".join(lines))
    assert not any("…" in line for line in lines)


def test_a_wide_terminal_keeps_the_table_and_folds_the_long_detail() -> None:
    rows = [_finding(1)]
    lines = _rendered(160, lambda console: print_table(console, list(COMPLIANCE_TABLE), rows))
    assert lines[0].startswith("┏") and "┃ code" in lines[1]
    assert sum("│" in line for line in lines) >= 2  # the detail folded onto a second line


def test_the_monthly_table_shows_every_column_of_the_shared_order() -> None:
    row = dict.fromkeys(column_keys("monthly"), 1)
    lines = _rendered(160, lambda console: print_table(console, column_keys("monthly")[:6], [row]))
    assert all(name in "\n".join(lines) for name in column_keys("monthly")[:6])


@pytest.mark.parametrize("width", [80, 160])
def test_code_shows_an_invalid_codes_reason_in_its_own_column(width: int, monkeypatch) -> None:
    monkeypatch.setattr(show_module, "console", Console(width=width, file=io.StringIO(), color_system=None))
    result = CliRunner().invoke(cli, ["code", VALID, INVALID])
    assert result.exit_code == 1
    lines = show_module.console.file.getvalue().splitlines()
    assert _whole_on_one_line(VALID, lines) and _whole_on_one_line(INVALID, lines)
    text = "\n".join(lines)
    if width == 160:  # a table: the reason under "error", the maker cell of the invalid code empty
        header = next(line for line in lines if "┃ code" in line)
        row = next(line for line in lines if INVALID in line)
        cells = [cell.strip() for cell in row.split("│")[1:-1]]
        names = [cell.strip() for cell in header.split("┃")[1:-1]]
        assert names[-1] == "error" and cells[names.index("maker")] == ""
        assert cells[-1].startswith("invalid battery code") and "serial number" in text
    else:  # a narrow terminal: one block per code, the reason on its "error" line
        assert re.search(r"^maker\s*$", text, re.MULTILINE)
        assert re.search(r"^error\s+.*serial", text, re.MULTILINE)
