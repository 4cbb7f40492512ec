"""Bulk import with a batch saved while the next is read (issue 13, P1), on both stores.

The overlap must not change what an import does: each row is judged against everything stored
before it, refusals are reported in file order, and a store failure reports exactly the rows up
to the batch that failed, as when batches were stored one after another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from batterytrace.store import StoreUnavailable
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.bulk_import import ProductionImporter, RefusedRow
from tests.integration.test_bulk_import import MODULE, PACK, module, pack, produced_codes
from tests.utils.cast import NationalCast

WAIT = 10.0  # seconds a test waits for the other thread before calling the overlap missing


def pack_row(serial: int, **fields: Any) -> dict[str, Any]:
    return {"code": pack(serial), **PACK, **fields}


def module_row(serial: int) -> dict[str, Any]:
    return {"code": module(serial), **MODULE}


def numbered(rows: list[dict[str, Any] | str]) -> list[tuple[int, dict[str, Any] | str]]:
    """Rows with the line numbers of a file with a header line."""
    return list(enumerate(rows, start=2))


def test_on_postgresql_the_next_batch_is_read_while_a_batch_is_being_saved(
    app: BatteryTrace, cast: NationalCast, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the save is inline (a thread measured no faster there, ``_InlineSaver``)."""
    importer = ProductionImporter(app, cast.manufacturer, batch_size=3)
    overlaps = app.settings.database_url.startswith("postgresql")
    assert importer.overlaps is overlaps
    second_batch_read = threading.Event()
    seen_during_first_save: list[bool] = []
    save = app.save

    def rows() -> Iterator[tuple[int, dict[str, Any] | str]]:
        for line, row in numbered([pack_row(n) for n in range(1, 7)]):
            if line == 5:  # the first row of the second batch (batches of 3)
                second_batch_read.set()
            yield line, row

    def save_once_the_next_batch_is_read(*objs: Any, **kwargs: Any) -> Any:
        if not seen_during_first_save:
            seen_during_first_save.append(second_batch_read.wait(WAIT if overlaps else 0))
        return save(*objs, **kwargs)

    monkeypatch.setattr(app, "save", save_once_the_next_batch_is_read)

    report = importer.run(rows())

    assert seen_during_first_save == [overlaps]
    assert (report.rows, report.stored, report.batches, report.interrupted_at) == (6, 6, 2, None)
    assert produced_codes(app) == [pack(n) for n in range(1, 7)]


def test_a_row_that_reads_the_store_waits_for_the_batch_in_flight(
    app: BatteryTrace, cast: NationalCast, monkeypatch: pytest.MonkeyPatch
) -> None:
    save = app.save

    def slow_save(*objs: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)  # the next batch's pack is read long before its modules are stored
        return save(*objs, **kwargs)

    monkeypatch.setattr(app, "save", slow_save)
    rows = numbered([module_row(1), module_row(2), {**pack_row(3), "components": [module(1), module(2)]}])

    report = ProductionImporter(app, cast.manufacturer, batch_size=2).run(rows)

    assert (report.stored, report.refused_count) == (3, 0), report.refused
    assert app.battery(pack(3)).components == [module(1), module(2)]
    assert app.battery(module(1)).pack == pack(3)


def test_refusals_are_reported_in_file_order_across_batches(app: BatteryTrace, cast: NationalCast) -> None:
    first = [pack_row(n) for n in range(1, 4)]
    ProductionImporter(app, cast.manufacturer).run(numbered(list(first)))
    changed = {**first[1], "mass_kg": 395}  # line 3: found only when its batch collides on saving
    rows = numbered([first[0], changed, first[2], pack_row(4), "is not valid JSON", pack_row(6)])

    report = ProductionImporter(app, cast.manufacturer, batch_size=3).run(rows)

    assert [r.line for r in report.refused] == [3, 6]
    assert report.refused[0].reason.startswith(f"battery {pack(2)} is already recorded with different data")
    assert report.refused[1] == RefusedRow(6, None, "line 6 is not valid JSON")
    assert (report.rows, report.stored, report.already_present, report.refused_count) == (6, 2, 2, 2)


def test_a_store_failure_reports_the_rows_up_to_the_failed_batch_not_the_one_read_after_it(
    app: BatteryTrace, cast: NationalCast, monkeypatch: pytest.MonkeyPatch
) -> None:
    save, calls = app.save, {"n": 0}

    def fails_on_the_second_batch(*objs: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return save(*objs, **kwargs)

    monkeypatch.setattr(app, "save", fails_on_the_second_batch)
    rows = numbered([pack_row(n) for n in range(1, 7)] + ["is not valid JSON", pack_row(9)])

    report = ProductionImporter(app, cast.manufacturer, batch_size=3).run(rows)

    assert (report.rows, report.stored, report.interrupted_at, report.refused_count) == (6, 3, 5, 0)
    assert report.interruption is not None and report.interruption.startswith("the import stopped at line 5")
    assert produced_codes(app) == [pack(n) for n in range(1, 4)]


def test_a_store_read_failing_while_a_batch_is_in_flight_keeps_that_batch(
    app: BatteryTrace, cast: NationalCast, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(code: str) -> Any:
        raise StoreUnavailable("the event store is unavailable: connection refused")

    monkeypatch.setattr(app, "battery", unavailable)  # read for the components on line 6
    rows = numbered([*(pack_row(n) for n in range(1, 5)), {**pack_row(5), "components": [module(1)]}])

    report = ProductionImporter(app, cast.manufacturer, batch_size=3).run(rows)

    assert (report.stored, report.interrupted_at, report.rows) == (3, 5, 5)
    assert report.interruption is not None
    assert report.interruption.startswith("the import stopped at line 5: the event store is unavailable")
    assert produced_codes(app) == [pack(n) for n in range(1, 4)]
