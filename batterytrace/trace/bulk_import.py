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
"""

from __future__ import annotations

import csv
import io
import json
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
from batterytrace.trace.application import BatteryTrace

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

    @property
    def rate(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds else 0.0

    def refuse(self, line: int, code: str | None, reason: str) -> None:
        self.refused_count += 1
        if len(self.refused) < MAX_REFUSED_KEPT:
            self.refused.append(RefusedRow(line, code, reason))


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
    is read, so that a wrong file stores nothing."""
    if fmt != "csv":
        return _read_jsonl(stream)
    reader = csv.DictReader(stream)
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except csv.Error as error:
        raise InvalidInput(f"the CSV header cannot be read: {error}") from None
    _check_columns(header)
    reader.fieldnames = header
    return _read_csv(reader, len(header))


def _read_csv(reader: csv.DictReader[str], columns: int) -> Iterator[tuple[int, dict[str, Any] | str]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # a field over the csv module's size limit, a NUL byte …
            # line_num still counts the lines before the bad record, which starts on the next one
            yield reader.line_num + 1, f"is not valid CSV ({error})"
            continue
        if None in row:
            extra = len(row[None])  # type: ignore[index]
            yield reader.line_num, f"has {columns + extra} fields, the header {columns}"
            continue
        yield reader.line_num, {k: v for k, v in row.items() if v not in (None, "")}


def _read_jsonl(stream: IO[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for line_number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            yield line_number, f"is not valid JSON ({error.msg} at column {error.colno})"
            continue
        if not isinstance(row, dict):
            yield line_number, "must be a JSON object with the production fields"
            continue
        unknown = sorted(set(row) - set(KNOWN_COLUMNS))
        if unknown:
            yield (
                line_number,
                f"has unknown field(s) {', '.join(unknown)}; known: {', '.join(KNOWN_COLUMNS)}",
            )
            continue
        yield line_number, row


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
    """Turn a CSV or JSON row into a production spec, naming the field that is wrong."""
    missing = [c for c in REQUIRED_COLUMNS if row.get(c) in (None, "")]
    if missing:
        raise InvalidInput(f"missing {', '.join(missing)}")
    components = row.get("components") or ()
    if isinstance(components, str):
        components = tuple(c for c in components.replace(";", " ").split() if c)
    elif not isinstance(components, list | tuple):
        raise InvalidInput("components must be a list of codes (CSV: separated by ';')")
    return ProductionSpec(
        code=str(row["code"]),
        rated_capacity_ah=_number(row, "rated_capacity_ah"),
        nominal_voltage_v=_number(row, "nominal_voltage_v"),
        energy_kwh=_number(row, "energy_kwh"),
        mass_kg=_number(row, "mass_kg"),
        level=row.get("level") or None,
        chemistry=row.get("chemistry") or None,
        production_date=_date(row.get("production_date")),
        components=tuple(str(c) for c in components),
        occurred_at=_datetime(row.get("occurred_at")),
        request_id=str(row["request_id"]) if row.get("request_id") else None,
    )


def _number(row: dict[str, Any], name: str) -> float:
    value = row[name]
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a number, got {value!r}") from None


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"production_date must be YYYY-MM-DD, got {value!r}") from None


def _datetime(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value))
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
        report = ImportReport()
        started = time.perf_counter()
        batch = _Batch(self)
        pending_rows = 0
        for line, row in rows:
            report.rows += 1
            pending_rows += 1
            self._add(batch, line, row, report)
            if pending_rows >= self.batch_size:
                self._store(batch, report)
                if progress:
                    progress(pending_rows)
                batch, pending_rows = _Batch(self), 0
        if pending_rows:
            self._store(batch, report)
            if progress:
                progress(pending_rows)
        report.seconds = time.perf_counter() - started
        return report

    def _add(self, batch: _Batch, line: int, row: dict[str, Any] | str, report: ImportReport) -> None:
        if isinstance(row, str):
            report.refuse(line, None, f"line {line} {row}")
            return
        try:
            batch.add(line, spec_from_row(row))
        except _AlreadyStored as repeat:
            self._count_repeat(line, repeat.battery, report)
        except DomainError as error:
            code = row.get("code")
            report.refuse(line, str(code) if code else None, error.message)

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
    with path.open(encoding="utf-8-sig", newline="") as stream:
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
