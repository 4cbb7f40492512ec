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

import io
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eventsourcing.persistence import IntegrityError

from batterytrace.events.battery import Battery, ProductionSpec, production_record
from batterytrace.events.battery_code import parse_battery_code
from batterytrace.events.errors import AlreadyExists, ConcurrentWrite, DomainError, InvalidInput
from batterytrace.events.participant import Participant
from batterytrace.store import StoreUnavailable
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.production_rows import (
    MAX_CODE_LENGTH,
    detect_format,
    printable,
    read_rows,
    spec_from_row,
)

log = logging.getLogger("batterytrace.import")

MAX_REFUSED_KEPT = 10_000  # the report keeps this many refused rows; all are counted
# The single production's limits (POST /batteries uses these too), so a file cannot store more.
MAX_REASON_CHARS = 300  # a refusal quotes the row's text; kept short so 10,000 of them stay small
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
            shown_code = printable(code, MAX_CODE_LENGTH) if code is not None else None
            self.refused.append(RefusedRow(line, shown_code, printable(reason, MAX_REASON_CHARS)))

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
        if battery is None:  # the same production earlier in this very file
            report.already_present += 1
        elif self._is_stored_replay(line, battery, report) is None:
            report.refuse(
                line,
                battery.code,
                f"the components of {battery.code} are built into it, but it is not recorded",
            )

    def _is_stored_replay(self, line: int, battery: Battery, report: ImportReport) -> bool | None:
        """The application's rule for a production whose code is taken (``compare_with_stored``):
        the same production again counts as already present, different data is this row's
        refusal. None when the code is not stored at all (the row is new)."""
        try:
            self.app.compare_with_stored(battery)
        except ConcurrentWrite:  # not stored: the collision was another row's
            return None
        except AlreadyExists as different:
            report.refuse(line, battery.code, different.message)
            return False
        report.already_present += 1
        return True

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
        fresh = [row for row in batch.rows if self._is_stored_replay(row.line, row.battery, report) is None]
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
