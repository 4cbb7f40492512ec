"""Bulk production import: CSV or JSON-lines files of 100k+ rows, streamed, in atomic batches.

Why it is built this way:
- Rows are read one at a time and stored in transactions of ``batch_size`` rows, so memory does
  not grow with the file and a crash leaves whole batches stored or not stored, never half.
- Every row goes through the same ``Battery.produce`` rule as a single production, so an import
  can never store what the API would refuse. Refused rows are reported with their line number
  and reason; the rest of the batch is stored.
- Re-running a file after a crash stores nothing twice: a batch that collides with stored
  streams is checked row by row; identical productions count as already present, different ones
  are refused. The normal path pays nothing for this (one insert per batch).
- Whatever a line holds (deep nesting, a number where text belongs, a line of megabytes, bytes
  that are not UTF-8), it is that row's refusal, never the import's end: earlier batches are
  committed, so an exception would hide what was stored. Only a failure of the store itself
  stops an import, and then the report says what was stored and where it stopped
  (``ImportReport.interrupted_at``); the same file sent again finishes it.
- Fields have the single-production API's limits (``MAX_*`` below, shared with the API models).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from eventsourcing.persistence import IntegrityError

from batterytrace.events.battery import Battery, ProductionSpec, production_record
from batterytrace.events.battery_code import parse_battery_code
from batterytrace.events.errors import DomainError, InvalidInput, NotFound
from batterytrace.events.participant import Participant
from batterytrace.store import StoreUnavailable
from batterytrace.trace.application import BatteryTrace

log = logging.getLogger("batterytrace.import")

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
MAX_REFUSED_KEPT = 10_000  # the report keeps this many refused rows; all are counted
# The single production's limits (POST /batteries uses these too), so a file cannot store more.
MAX_CODE_LENGTH = 64
MAX_LEVEL_LENGTH = 20
MAX_CHEMISTRY_LENGTH = 60
MAX_REQUEST_ID_LENGTH = 100
MAX_COMPONENTS = 10_000
# A line holds one production: 10,000 component codes fit in ~300,000 characters.
MAX_LINE_CHARS = 1_000_000
MAX_REASON_CHARS = 300  # a refusal quotes the row's text; kept short so 10,000 of them stay small
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # a byte that was not UTF-8 (read with surrogateescape)
# What a malformed value can raise in the row parser or the domain rule (not a store failure).
_ROW_ERRORS = (ValueError, TypeError, AttributeError, LookupError, ArithmeticError, RecursionError)


@dataclass
class RefusedRow:
    line: int
    code: str | None
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    stored: int = 0
    already_present: int = 0
    refused_count: int = 0
    refused: list[RefusedRow] = field(default_factory=list)
    batches: int = 0
    seconds: float = 0.0
    interrupted_at: int | None = None  # first line whose rows were not stored when the store failed
    interruption: str | None = None  # why, for the person importing
    error: Exception | None = field(default=None, repr=False, compare=False)  # for logs and status

    @property
    def rate(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds else 0.0

    def refuse(self, line: int, code: str | None, reason: str) -> None:
        self.refused_count += 1
        if len(self.refused) < MAX_REFUSED_KEPT:
            shown_code = _printable(code, MAX_CODE_LENGTH) if code is not None else None
            self.refused.append(RefusedRow(line, shown_code, _printable(reason, MAX_REASON_CHARS)))

    def interrupt(self, line: int, error: Exception) -> None:
        """The store failed: rows from ``line`` on were not stored (those counted as stored are)."""
        self.interrupted_at = line
        self.error = error
        cause = error.message if isinstance(error, DomainError) else "the database failed"
        self.interruption = (
            f"the import stopped at line {line}: {cause}; the {self.stored} rows counted as stored are "
            "kept and the rest were not stored: send the same file again to finish (rows already "
            "stored count as already present)"
        )


def _printable(text: str, limit: int) -> str:
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


# ------------------------------------------------------------------------------- storing rows
@dataclass
class _Row:
    line: int
    battery: Battery
    events: list[Any]


class _AlreadyStored(Exception):
    """The row repeats a production that is already stored (or already earlier in the batch)."""

    def __init__(self, battery: Battery | None) -> None:
        super().__init__()
        self.battery = battery


class _Batch:
    """Builds one batch in memory: each row's battery and the components it links."""

    def __init__(self, importer: ProductionImporter) -> None:
        self.importer = importer
        self.rows: list[_Row] = []
        self.codes: dict[str, int] = {}
        self.components: dict[str, Battery] = {}
        self.batteries: dict[str, Battery] = {}

    def add(self, line: int, spec: ProductionSpec) -> None:
        code = parse_battery_code(spec.code, today=self.importer.today).code
        components = [self._component(c) for c in spec.components]
        if any(c.pack == code for c in components):
            # Its components are already built into this very pack: the pack is stored (a re-run).
            raise _AlreadyStored(self._unlinked(spec, code, components))
        battery = Battery.produce(
            spec,
            actor=self.importer.actor,
            code_owner_id=self.importer.owner_of(code[:3]),
            components=components,
            today=self.importer.today,
        )
        if code in self.codes:
            earlier = self.batteries[code]
            if production_record(earlier) == production_record(battery):
                raise _AlreadyStored(None)
            raise InvalidInput(
                f"battery {code} is already on line {self.codes[code]} of this file with different data"
            )
        for component in components:
            component.assemble_into(battery)
        events = battery.collect_events()
        for component in components:
            events.extend(component.collect_events())
        self.codes[code] = line
        self.rows.append(_Row(line, battery, events))
        self.batteries[code] = battery

    def _unlinked(self, spec: ProductionSpec, code: str, components: list[Battery]) -> Battery:
        """The production a row describes, built without re-linking its components, so that it
        can be compared with the stored one."""
        battery = Battery.produce(
            replace(spec, components=()),
            actor=self.importer.actor,
            code_owner_id=self.importer.owner_of(code[:3]),
            today=self.importer.today,
        )
        battery.components = [c.code for c in components]
        return battery

    def _component(self, code: str) -> Battery:
        code = parse_battery_code(code, today=self.importer.today).code
        if code in self.components:
            return self.components[code]
        component = self.batteries.get(code) or self.importer.app.battery(code)
        self.components[code] = component
        return component


class ProductionImporter:
    """Stores production rows for one acting manufacturer."""

    def __init__(self, app: BatteryTrace, actor_id: str, batch_size: int | None = None) -> None:
        self.app = app
        self.actor: Participant = app.participant(actor_id)
        self.batch_size = app.settings.import_batch_size if batch_size is None else batch_size
        if self.batch_size < 1:
            raise InvalidInput("the batch size must be 1 or more")
        self.today = app.today()
        self._owners: dict[str, str | None] = {}

    def owner_of(self, manufacturer_code: str) -> str | None:
        if manufacturer_code not in self._owners:
            self._owners[manufacturer_code] = self.app.code_owner(manufacturer_code)
        return self._owners[manufacturer_code]

    def run(
        self,
        rows: Iterable[tuple[int, dict[str, Any] | str]],
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import every row. Never raises once rows are read: a failure of the store ends the
        import with ``interrupted_at`` set, since batches before it are committed and the caller
        must learn what was stored."""
        report = ImportReport()
        started = time.perf_counter()
        batch = _Batch(self)
        pending: list[int] = []  # lines of the rows read since the last stored batch
        last_line = 0
        try:
            for line, row in rows:
                report.rows += 1
                pending.append(line)
                last_line = line
                self._add(batch, line, row, report)
                if len(pending) >= self.batch_size:
                    self._store(batch, report)
                    if progress:
                        progress(len(pending))
                    batch, pending = _Batch(self), []
            if pending:
                self._store(batch, report)
                if progress:
                    progress(len(pending))
        except Exception as error:  # the store failed (or a bug): say what is kept, never hide it
            log.exception("bulk import stopped after %d rows, %d stored", report.rows, report.stored)
            report.interrupt(pending[0] if pending else last_line + 1, error)
        report.seconds = time.perf_counter() - started
        return report

    def _add(self, batch: _Batch, line: int, row: dict[str, Any] | str, report: ImportReport) -> None:
        """Add one row to the batch, or refuse it. A malformed value is that row's refusal
        whatever it raises; only an unavailable store goes up, to stop the import."""
        if isinstance(row, str):
            report.refuse(line, None, f"line {line} {row}")
            return
        code = row.get("code")
        shown_code = code if isinstance(code, str) and code else None
        try:
            batch.add(line, spec_from_row(row))
        except _AlreadyStored as repeat:
            self._count_repeat(line, repeat.battery, report)
        except StoreUnavailable:
            raise
        except DomainError as error:
            report.refuse(line, shown_code, error.message)
        except _ROW_ERRORS as error:  # a value the checks above did not foresee: still this row's
            log.warning("bulk import: line %d refused on %s: %s", line, type(error).__name__, error)
            report.refuse(line, shown_code, f"cannot be read as a production ({type(error).__name__})")

    def _count_repeat(self, line: int, battery: Battery | None, report: ImportReport) -> None:
        if battery is None:
            report.already_present += 1
            return
        stored = self.app.battery(battery.code)
        if production_record(stored) == production_record(battery):
            report.already_present += 1
        else:
            report.refuse(
                line, battery.code, f"battery {battery.code} is already recorded with different data"
            )

    def _store(self, batch: _Batch, report: ImportReport) -> None:
        if not batch.rows:
            return
        report.batches += 1
        try:
            self.app.save(*[e for r in batch.rows for e in r.events])
        except IntegrityError:
            self._store_after_collision(batch, report)
            return
        report.stored += len(batch.rows)

    def _store_after_collision(self, batch: _Batch, report: ImportReport) -> None:
        """Some streams exist already (a re-run after a crash, or a concurrent writer): sort
        the rows into already present, refused, and new; store the new ones."""
        fresh: list[_Row] = []
        for row in batch.rows:
            if not self.app.exists(row.battery.code):
                fresh.append(row)
                continue
            try:
                stored = self.app.battery(row.battery.code)
            except NotFound:
                fresh.append(row)
                continue
            if production_record(stored) == production_record(row.battery):
                report.already_present += 1
            else:
                report.refuse(
                    row.line,
                    row.battery.code,
                    f"battery {row.battery.code} is already recorded with different data",
                )
        try:
            if fresh:
                self.app.save(*[e for r in fresh for e in r.events])
            report.stored += len(fresh)
        except IntegrityError:
            for row in fresh:  # last resort, row by row: something changed under us again
                try:
                    self.app.save(*row.events)
                    report.stored += 1
                except IntegrityError:
                    report.refuse(row.line, row.battery.code, "changed by another writer during the import")


@contextmanager
def open_production_file(
    app: BatteryTrace,
    actor_id: str,
    path: Path,
    *,
    fmt: str | None = None,
    batch_size: int | None = None,
) -> Iterator[tuple[ProductionImporter, Iterator[tuple[int, dict[str, Any] | str]]]]:
    """Check everything that would refuse the whole file (the file, the acting participant, the
    format, the header) before the first row is read, then hand over the importer and the rows."""
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    importer = ProductionImporter(app, actor_id, batch_size)
    # Bytes that are not UTF-8 become lone surrogates, refused line by line (``_Lines``).
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as stream:
        yield importer, read_rows(stream, detect_format(path, fmt))


def import_file(
    app: BatteryTrace,
    actor_id: str,
    path: Path,
    *,
    fmt: str | None = None,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a production file (the CLI's ``import``)."""
    with open_production_file(app, actor_id, path, fmt=fmt, batch_size=batch_size) as (importer, rows):
        return importer.run(rows, progress)


def import_text(app: BatteryTrace, actor_id: str, text: str, fmt: str) -> ImportReport:
    """Import rows given as text (tests, small API bodies)."""
    importer = ProductionImporter(app, actor_id)
    return importer.run(read_rows(io.StringIO(text), fmt))
