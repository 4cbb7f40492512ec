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
- On PostgreSQL a batch is saved while the next one is read and checked (``ProductionImporter``):
  the server's work and the driver's wait for it overlap with parsing instead of adding to it.
  Nothing reads the store while a batch is in flight, so the outcome is the one of storing
  batches in turn. A batch reaches the library's save as one object (``_Events``).
- Fields have the single-production API's limits (``MAX_*`` below, shared with the API models).
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eventsourcing.persistence import IntegrityError

from batterytrace.events.battery import Battery, ProductionSpec, production_record
from batterytrace.events.battery_code import parse_battery_code
from batterytrace.events.errors import AlreadyExists, ConcurrentWrite, DomainError, InvalidInput
from batterytrace.events.participant import Participant
from batterytrace.store import StoreUnavailable, eventsourcing_env
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.production_rows import (
    MAX_CODE_LENGTH,
    detect_format,
    printable,
    read_rows,
    spec_from_row,
)

log = logging.getLogger("batterytrace.import")

POSTGRES_MODULE = "eventsourcing.postgres"  # the store a batch is saved beside the next one on
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


class _Events:
    """Events handed to the library's save as one object that collects them (the library's
    ``CollectEventsProtocol``, as an aggregate is handed over), not one argument each: the save
    checks every object it is given against ``typing`` runtime protocols, 8.5 µs an object on
    Python 3.11 (measured), 4 ms for a batch of 500 productions. Its ``id`` is its own, so that
    no aggregate's could ever be shadowed by it."""

    def __init__(self, events: list[Any]) -> None:
        self.id = f"bulk-import-{uuid.uuid4()}"
        self._events = events

    def collect_events(self) -> list[Any]:
        events, self._events = self._events, []
        return events


@dataclass
class _Tally:
    """What a batch's rows came to while it was built (rows read, repeats, refusals), added to the
    report only once the batch before it is stored, so that the report reads in batch order."""

    rows: int = 0
    first_line: int | None = None
    already_present: int = 0
    refused: list[tuple[int, str | None, str]] = field(default_factory=list)

    def refuse(self, line: int, code: str | None, reason: str) -> None:
        shown_code = printable(code, MAX_CODE_LENGTH) if code is not None else None
        self.refused.append((line, shown_code, printable(reason, MAX_REASON_CHARS)))

    def add_to(self, report: ImportReport) -> None:
        report.rows += self.rows
        report.already_present += self.already_present
        for line, code, reason in self.refused:
            report.refuse(line, code, reason)


class _AlreadyStored(Exception):
    """The row repeats a production that is already stored (or already earlier in the batch)."""

    def __init__(self, battery: Battery | None) -> None:
        super().__init__()
        self.battery = battery


class _SaveFailed(Exception):
    """Storing the batch from ``first_line`` on failed with ``error`` (not a collision)."""

    def __init__(self, first_line: int, error: Exception) -> None:
        super().__init__(str(error))
        self.first_line = first_line
        self.error = error


class _Batch:
    """Builds one batch in memory: each row's battery and the components it links."""

    def __init__(self, importer: ProductionImporter) -> None:
        self.importer = importer
        self.rows: list[_Row] = []
        self.codes: dict[str, int] = {}
        self.components: dict[str, Battery] = {}
        self.batteries: dict[str, Battery] = {}
        self.tally = _Tally()

    def read(self, line: int) -> None:
        """Count a row read into this batch, stored or not."""
        self.tally.rows += 1
        if self.tally.first_line is None:
            self.tally.first_line = line

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
        component = self.batteries.get(code) or self.importer.stored_battery(code)
        self.components[code] = component
        return component


class _InlineSaver:
    """The saver on SQLite: each batch is saved at once, in the importing thread. A thread does
    not pay there: the sqlite3 module lets go of the interpreter lock for every row it inserts and
    must win it back from the thread reading the next batch each time, so paired runs of 10k rows
    on the 2-core machine measured the thread no faster (P1 ratio 0.48 vs 0.47 inline, 6 rounds)."""

    def __enter__(self) -> _InlineSaver:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, save: Callable[..., Any], *args: Any) -> Future[Any]:
        done: Future[Any] = Future()
        try:
            done.set_result(save(*args))
        except Exception as error:  # handed to _settle, as a thread's future would
            done.set_exception(error)
        return done


class ProductionImporter:
    """Stores production rows for one acting manufacturer.

    On PostgreSQL a batch is saved in a thread of its own while the next is read and checked: the
    server's work and the driver's wait for it leave the interpreter free (paired runs of 10k rows
    on the 2-core machine: P1 ratio 0.75 with the thread vs 0.58 without, 6 rounds). At most one
    batch is in flight, batches are saved in file order, and every read of the store (a
    component, a stored replay, a code's owner) first waits for the batch in flight, so each row
    is judged against everything before it exactly as if the batches were stored one after
    another; on SQLite (``_InlineSaver``) they are."""

    def __init__(self, app: BatteryTrace, actor_id: str, batch_size: int | None = None) -> None:
        self.app = app
        self.actor: Participant = app.participant(actor_id)
        self.batch_size = app.settings.import_batch_size if batch_size is None else batch_size
        if self.batch_size < 1:
            raise InvalidInput("the batch size must be 1 or more")
        self.today = app.today()
        self._owners: dict[str, str | None] = {}
        self.overlaps = eventsourcing_env(app.settings.database_url)["PERSISTENCE_MODULE"] == POSTGRES_MODULE
        self._saver: ThreadPoolExecutor | _InlineSaver | None = None
        self._in_flight: tuple[_Batch, Future[Any]] | None = None
        self._report = ImportReport()
        self._progress: Callable[[int], None] | None = None

    def owner_of(self, manufacturer_code: str) -> str | None:
        if manufacturer_code not in self._owners:
            self._settle()
            self._owners[manufacturer_code] = self.app.code_owner(manufacturer_code)
        return self._owners[manufacturer_code]

    def stored_battery(self, code: str) -> Battery:
        """A battery from the store, once the batch in flight is stored (it may be in it)."""
        self._settle()
        return self.app.battery(code)

    def run(
        self,
        rows: Iterable[tuple[int, dict[str, Any] | str]],
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import every row. Never raises once rows are read: a failure of the store ends the
        import with ``interrupted_at`` set, since batches before it are committed and the caller
        must learn what was stored."""
        report = self._report = ImportReport()
        self._progress = progress
        started = time.perf_counter()
        batch = _Batch(self)
        last_line = 0
        with self._new_saver() as saver:
            self._saver = saver
            try:
                for line, row in rows:
                    last_line = line
                    batch.read(line)
                    self._add(batch, line, row)
                    if batch.tally.rows >= self.batch_size:
                        self._hand_over(batch)
                        batch = _Batch(self)
                if batch.tally.rows:
                    self._hand_over(batch)
                self._settle()
            except _SaveFailed as failed:  # the batch in flight was not stored; the one being read is dropped
                log.error(
                    "bulk import stopped after %d rows, %d stored",
                    report.rows,
                    report.stored,
                    exc_info=failed.error,
                )
                report.interrupt(failed.first_line, failed.error)
            except Exception as error:  # the store failed (or a bug): say what is kept, never hide it
                log.exception("bulk import stopped after %d rows, %d stored", report.rows, report.stored)
                self._stop_reading(batch, last_line, error)
            finally:
                self._saver = None
        report.seconds = time.perf_counter() - started
        return report

    def _new_saver(self) -> ThreadPoolExecutor | _InlineSaver:
        if self.overlaps:
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-import-save")
        return _InlineSaver()

    def _stop_reading(self, batch: _Batch, last_line: int, error: Exception) -> None:
        """Reading the batch ``batch`` failed: the batch in flight still counts if it is stored."""
        report = self._report
        try:
            self._settle()
        except _SaveFailed as failed:
            report.interrupt(failed.first_line, failed.error)
            return
        batch.tally.add_to(report)
        report.interrupt(batch.tally.first_line or last_line + 1, error)

    def _hand_over(self, batch: _Batch) -> None:
        """Start saving ``batch`` once the one before it is stored; a batch with nothing to store
        (every row refused or already present) is counted at once."""
        self._settle()
        if not batch.rows:
            batch.tally.add_to(self._report)
            if self._progress:
                self._progress(batch.tally.rows)
            return
        assert self._saver is not None
        self._report.batches += 1
        events = [e for r in batch.rows for e in r.events]
        self._in_flight = (batch, self._saver.submit(self.app.save, _Events(events)))

    def _settle(self) -> None:
        """Wait for the batch in flight and count it: stored, or sorted out after a collision.
        Raises ``_SaveFailed`` when the store failed."""
        if self._in_flight is None:
            return
        batch, saving = self._in_flight
        self._in_flight = None
        report = self._report
        batch.tally.add_to(report)
        try:
            try:
                saving.result()
            except IntegrityError:
                self._store_after_collision(batch, report)
            else:
                report.stored += len(batch.rows)
        except Exception as error:
            raise _SaveFailed(batch.tally.first_line or batch.rows[0].line, error) from error
        if self._progress:
            self._progress(batch.tally.rows)

    def _add(self, batch: _Batch, line: int, row: dict[str, Any] | str) -> None:
        """Add one row to the batch, or refuse it. A malformed value is that row's refusal
        whatever it raises; only an unavailable store goes up, to stop the import."""
        tally = batch.tally
        if isinstance(row, str):
            tally.refuse(line, None, f"line {line} {row}")
            return
        code = row.get("code")
        shown_code = code if isinstance(code, str) and code else None
        try:
            batch.add(line, spec_from_row(row))
        except _AlreadyStored as repeat:
            self._count_repeat(line, repeat.battery, tally)
        except StoreUnavailable:
            raise
        except DomainError as error:
            tally.refuse(line, shown_code, error.message)
        except _ROW_ERRORS as error:  # a value the checks above did not foresee: still this row's
            log.warning("bulk import: line %d refused on %s: %s", line, type(error).__name__, error)
            tally.refuse(line, shown_code, f"cannot be read as a production ({type(error).__name__})")

    def _count_repeat(self, line: int, battery: Battery | None, tally: _Tally) -> None:
        if battery is None:  # the same production earlier in this very file
            tally.already_present += 1
            return
        self._settle()  # the production may be in the batch in flight
        if self._is_stored_replay(line, battery, tally) is None:
            tally.refuse(
                line,
                battery.code,
                f"the components of {battery.code} are built into it, but it is not recorded",
            )

    def _is_stored_replay(self, line: int, battery: Battery, counts: _Tally | ImportReport) -> bool | None:
        """The application's rule for a production whose code is taken (``compare_with_stored``):
        the same production again counts as already present, different data is this row's
        refusal. None when the code is not stored at all (the row is new)."""
        try:
            self.app.compare_with_stored(battery)
        except ConcurrentWrite:  # not stored: the collision was another row's
            return None
        except AlreadyExists as different:
            counts.refuse(line, battery.code, different.message)
            return False
        counts.already_present += 1
        return True

    def _store_after_collision(self, batch: _Batch, report: ImportReport) -> None:
        """Some streams exist already (a re-run after a crash, or a concurrent writer): sort
        the rows into already present, refused, and new; store the new ones."""
        fresh = [row for row in batch.rows if self._is_stored_replay(row.line, row.battery, report) is None]
        try:
            if fresh:
                self.app.save(_Events([e for r in fresh for e in r.events]))
            report.stored += len(fresh)
        except IntegrityError:
            for row in fresh:  # last resort, row by row: something changed under us again
                try:
                    self.app.save(_Events(list(row.events)))
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
