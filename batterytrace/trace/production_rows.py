"""Production rows as a file holds them: CSV or JSON lines, read one at a time and checked.

The reading half of the bulk import (``bulk_import.py`` stores what this reads). Apart because it
is a job of its own — turning hostile text into ``ProductionSpec`` values or a row's refusal —
and because the single-production API shares its limits (``MAX_*``) and columns.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from batterytrace.events.battery import ProductionSpec
from batterytrace.events.errors import InvalidInput

REQUIRED_COLUMNS = ("code", "rated_capacity_ah", "nominal_voltage_v", "energy_kwh", "mass_kg")
OPTIONAL_COLUMNS = (
    "level",
    "chemistry",
    "production_date",
    "components",
    "occurred_at",
    "request_id",
)
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# Field limits, the same as the single-production API's (api/models.py uses them).
MAX_CODE_LENGTH = 64
MAX_LEVEL_LENGTH = 20
MAX_CHEMISTRY_LENGTH = 60
MAX_REQUEST_ID_LENGTH = 100
MAX_COMPONENTS = 10_000
# A line holds one production: 10,000 component codes fit in ~300,000 characters.
MAX_LINE_CHARS = 1_000_000
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # a byte that was not UTF-8 (read with surrogateescape)


def printable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with bytes that were not UTF-8 shown as escapes (an
    answer that quotes them must still encode)."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _shown(value: Any, limit: int = 60) -> str:
    """A value as a refusal quotes it: its repr, shortened."""
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # a very deep structure, an integer of 5,000 digits
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------- reading rows
def detect_format(path: Path, declared: str | None = None) -> str:
    fmt = (declared or path.suffix.lstrip(".")).lower()
    if fmt in ("csv",):
        return "csv"
    if fmt in ("jsonl", "ndjson", "json", "jsonlines"):
        return "jsonl"
    raise InvalidInput(f"cannot tell the format of {path.name!r}: name it .csv or .jsonl, or give --format")


def read_rows(stream: IO[str], fmt: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Rows as (line number, row), one at a time; a row that cannot be read comes as its error
    message so that it is reported, not fatal. A CSV header is checked at once, before any row
    is read, so that a wrong file stores nothing. Lines are read at most ``MAX_LINE_CHARS`` at a
    time, so a file of one endless line costs no more memory than a normal one."""
    lines = _Lines(stream)
    if fmt != "csv":
        return _read_jsonl(lines)
    reader = csv.DictReader(lines)
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except csv.Error as error:
        raise InvalidInput(f"the CSV header cannot be read: {error}") from None
    except _BadLine as bad:
        raise InvalidInput(f"the CSV header cannot be read: line {bad.line} {bad.reason}") from None
    _check_columns(header)
    reader.fieldnames = header
    return _read_csv(reader, lines, len(header))


class _BadLine(Exception):
    """A line that cannot be a row at all (too long, not UTF-8); the reader goes on after it."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


class _Lines:
    """The stream's lines with their count. A line over ``limit`` characters is skipped to its
    end and a line with bytes that are not UTF-8 (read with ``surrogateescape``) is passed over;
    either raises ``_BadLine`` and the next call goes on with the following line (an iterator,
    not a generator, so that raising does not end it; the csv module resumes after it too)."""

    def __init__(self, stream: IO[str], limit: int = MAX_LINE_CHARS) -> None:
        self.stream = stream
        self.limit = limit
        self.number = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.stream.readline(self.limit + 2)  # room for the content and a CR LF
        if not line:
            raise StopIteration
        self.number += 1
        if len(line.rstrip("\r\n")) > self.limit:
            if not line.endswith(("\n", "\r")):
                self._skip_to_line_end()
            raise _BadLine(self.number, f"is longer than {self.limit:,} characters; one production a line")
        bad = _SURROGATE.search(line)
        if bad:
            raise _BadLine(
                self.number,
                f"is not UTF-8 text (a bad byte at column {bad.start() + 1}); save the file as UTF-8",
            )
        return line

    def _skip_to_line_end(self) -> None:
        while chunk := self.stream.readline(self.limit):
            if chunk.endswith(("\n", "\r")):
                return


def _read_csv(
    reader: csv.DictReader[str], lines: _Lines, columns: int
) -> Iterator[tuple[int, dict[str, Any] | str]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except _BadLine as bad:  # the csv reader starts afresh with the next line
            yield bad.line, bad.reason
            continue
        except csv.Error as error:  # a field over the csv module's size limit …
            yield lines.number, f"is not valid CSV ({error})"
            continue
        if None in row:
            extra = len(row[None])  # type: ignore[index]
            yield lines.number, f"has {columns + extra} fields, the header {columns}"
            continue
        yield lines.number, {k: v for k, v in row.items() if v not in (None, "")}


def _read_jsonl(lines: _Lines) -> Iterator[tuple[int, dict[str, Any] | str]]:
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except _BadLine as bad:
            yield bad.line, bad.reason
            continue
        if line.strip():
            yield lines.number, _json_row(line)


def _json_row(line: str) -> dict[str, Any] | str:
    """One JSON line as a row, or what is wrong with it."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        return f"is not valid JSON ({error.msg} at column {error.colno})"
    except RecursionError:
        return "nests arrays or objects too deeply; a row is one flat JSON object"
    except ValueError as error:  # an integer of thousands of digits
        return f"is not valid JSON ({str(error).split(';')[0]})"
    if not isinstance(row, dict):
        return "must be a JSON object with the production fields"
    unknown = sorted(set(row) - set(KNOWN_COLUMNS))
    if unknown:
        return f"has unknown field(s) {', '.join(unknown)}; known: {', '.join(KNOWN_COLUMNS)}"
    return row


def _check_columns(header: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in KNOWN_COLUMNS]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}")
        raise InvalidInput(
            f"the CSV header has {'; '.join(problems)}; required: {', '.join(REQUIRED_COLUMNS)}; "
            f"optional: {', '.join(OPTIONAL_COLUMNS)}"
        )


def spec_from_row(row: dict[str, Any]) -> ProductionSpec:
    """Turn a CSV or JSON row into a production spec, naming the field that is wrong. JSON types
    are checked as the API checks them (text is text, numbers are numbers) and text has the API's
    length limits, so no value reaches the domain rule in a shape it was not written for."""
    missing = [c for c in REQUIRED_COLUMNS if row.get(c) in (None, "")]
    if missing:
        raise InvalidInput(f"missing {', '.join(missing)}")
    return ProductionSpec(
        code=_text(row, "code", MAX_CODE_LENGTH) or "",
        rated_capacity_ah=_number(row, "rated_capacity_ah"),
        nominal_voltage_v=_number(row, "nominal_voltage_v"),
        energy_kwh=_number(row, "energy_kwh"),
        mass_kg=_number(row, "mass_kg"),
        level=_text(row, "level", MAX_LEVEL_LENGTH, "pack, module or cell"),
        chemistry=_text(row, "chemistry", MAX_CHEMISTRY_LENGTH, "e.g. LFP"),
        production_date=_date(_text(row, "production_date", 40, "YYYY-MM-DD")),
        components=_components(row.get("components")),
        occurred_at=_datetime(_text(row, "occurred_at", 60, "an ISO 8601 time")),
        request_id=_text(row, "request_id", MAX_REQUEST_ID_LENGTH, "your id for this row"),
    )


def _text(row: dict[str, Any], name: str, limit: int, example: str = "") -> str | None:
    """An optional text field: ``None`` when absent or empty, else a string of at most ``limit``
    characters that can be stored (no lone surrogates from ``\\udc80`` escapes)."""
    value = row.get(name)
    if value in (None, ""):
        return None
    hint = f" ({example})" if example else ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text{hint}, got {_shown(value)}")
    if len(value) > limit:
        raise InvalidInput(f"{name} has {len(value):,} characters; at most {limit} are allowed")
    if _SURROGATE.search(value):
        raise InvalidInput(f"{name} holds an unpaired surrogate escape (\\ud800-\\udfff); send UTF-8 text")
    return value


def _number(row: dict[str, Any], name: str) -> float:
    value = row[name]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"{name} must be a number, got {_shown(value)}")
    try:
        return float(value)
    except (ValueError, OverflowError):  # OverflowError: an integer of hundreds of digits
        raise InvalidInput(f"{name} must be a number, got {_shown(value)}") from None


def _components(value: Any) -> tuple[str, ...]:
    """Component codes: a JSON list of strings, or one string separated by ';' or spaces (CSV)."""
    if value in (None, "", []):
        return ()
    if isinstance(value, str):
        value = [c for c in value.replace(";", " ").split() if c]
    elif not isinstance(value, list | tuple):
        raise InvalidInput("components must be a list of codes (CSV: separated by ';')")
    if len(value) > MAX_COMPONENTS:
        raise InvalidInput(f"components lists {len(value):,} codes; at most {MAX_COMPONENTS:,} are allowed")
    for item in value:
        if not isinstance(item, str) or len(item) > MAX_CODE_LENGTH:
            raise InvalidInput(f"components must be battery codes (text), got {_shown(item)}")
    return tuple(value)


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"production_date must be YYYY-MM-DD, got {value!r}") from None


def _datetime(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"occurred_at must be an ISO 8601 time, e.g. 2024-07-15T08:30:00+08:00, got {value!r}"
        ) from None
