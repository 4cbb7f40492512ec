"""The whole store's EPCIS export over two processes (``trace/epcis/whole_store.py``), on SQLite and
PostgreSQL: the same document, byte for byte, as one process writes over the store's log (cut into
segments small enough that removals meet their battery's earlier events in another segment, and
the header's places and parties come from both processes); a failure of the second process raised
where the document is written, as its own error or as ``ExportWorkerFailed`` when it dies without
a word, never a hang; the second process ended when the reader stops early; and what bounds the
memory: segments of at most the size asked for (the child holds one; the benchmark's P7 measures
both processes' peak). The CLI writes a file only once it is complete."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from batterytrace.cli.export import _write
from batterytrace.events.errors import InvalidInput
from batterytrace.projections.ledger_config import LedgerConfig
from batterytrace.projections.ledger_view import LedgerView
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.epcis import whole_store
from batterytrace.trace.epcis.document import document_chunks, store_master_data
from batterytrace.trace.epcis.identifiers import Identifiers
from batterytrace.trace.epcis.source import logged_events
from batterytrace.trace.epcis.whole_store import CHILD_SHARE, ExportWorkerFailed, segments, whole_store_chunks
from tests.utils.cast import NationalCast
from tests.utils.views import VariedStore, varied_store

CREATED = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
SMALL = 7  # log positions per segment: many segments on the varied store


@pytest.fixture
def logged(app: BatteryTrace, cast: NationalCast) -> Iterator[VariedStore]:
    """The varied store with the ledger caught up, so that events carry their leaves."""
    store = varied_store(app, cast)
    runner = ViewRunner(app, views={"ledger": LedgerView(LedgerConfig(None))}, batch_size=50)
    runner.catch_up()
    yield store
    runner.engine.dispose()


def one_pass(app: BatteryTrace, after: int = 0) -> str:
    """The document as one process writes it over the log (``document_chunks``)."""
    ids = Identifiers(app.settings.public_url)
    seen = (positioned.seen for positioned in logged_events(app, None, after=after))
    return "".join(document_chunks(ids, seen, master_data=store_master_data(app, ids), created=CREATED))


def parallel(app: BatteryTrace, *, after: int = 0, processes: int = 2, segment: int = SMALL) -> str:
    ids = Identifiers(app.settings.public_url)
    chunks = whole_store_chunks(app, ids, created=CREATED, after=after, processes=processes, segment=segment)
    return "".join(chunks)


def test_two_processes_write_the_one_process_document_byte_for_byte(
    app: BatteryTrace, logged: VariedStore
) -> None:
    head = app.recorder.max_notification_id() or 0
    assert len(segments(0, head, SMALL)) >= 6
    expected = one_pass(app)
    assert '"bt:ledgerLeaf"' in expected and '"epcisMasterData"' in expected
    assert parallel(app) == expected
    assert parallel(app, processes=1) == expected
    assert parallel(app, segment=10_000) == expected  # shorter than a segment: one process
    later = head // 2
    assert parallel(app, after=later) == one_pass(app, after=later)
    assert parallel(app, after=head) == one_pass(app, after=head)  # no event: an empty list


def test_the_progress_is_told_in_log_positions_up_to_the_last_event(
    app: BatteryTrace, logged: VariedStore
) -> None:
    ids = Identifiers(app.settings.public_url)
    steps: list[int] = []
    document = "".join(
        whole_store_chunks(app, ids, created=CREATED, advance=steps.append, processes=2, segment=SMALL)
    )
    last = [p.position for p in logged_events(app, None)][-1]
    assert sum(steps) == last and all(step >= 0 for step in steps)
    assert document == one_pass(app)


def _in_the_child(monkeypatch: pytest.MonkeyPatch, failure: BaseException | None) -> None:
    """The child's export fails with ``failure`` (None: the child exits without a word)."""
    parent = os.getpid()
    exported = whole_store._exported

    def failing(*args: object) -> object:
        if os.getpid() != parent:
            if failure is None:
                os._exit(3)
            raise failure
        return exported(*args)

    monkeypatch.setattr(whole_store, "_exported", failing)


def test_the_second_processs_error_is_raised_where_the_document_is_written(
    app: BatteryTrace, logged: VariedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _in_the_child(monkeypatch, InvalidInput("the child failed"))
    with pytest.raises(InvalidInput, match="the child failed") as raised:
        parallel(app)
    assert any("second process" in note for note in raised.value.__notes__)
    assert multiprocessing.active_children() == []


def test_an_error_that_cannot_travel_is_told_by_its_text(
    app: BatteryTrace, logged: VariedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Local(Exception):  # a class pickle cannot find again
        pass

    _in_the_child(monkeypatch, Local("not picklable"))
    with pytest.raises(ExportWorkerFailed, match="Local: not picklable"):
        parallel(app)


def test_a_second_process_that_dies_is_an_error_not_a_hang(
    app: BatteryTrace, logged: VariedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _in_the_child(monkeypatch, None)
    started = time.monotonic()
    with pytest.raises(ExportWorkerFailed, match="exit code 3"):
        parallel(app)
    assert time.monotonic() - started < 30
    assert multiprocessing.active_children() == []


def test_a_reader_that_stops_early_ends_the_second_process(app: BatteryTrace, logged: VariedStore) -> None:
    ids = Identifiers(app.settings.public_url)
    chunks = whole_store_chunks(app, ids, created=CREATED, processes=2, segment=SMALL)
    next(chunks)
    next(chunks)
    assert len(multiprocessing.active_children()) == 1
    chunks.close()
    assert multiprocessing.active_children() == []


def test_segments_cover_the_log_in_bounded_ranges_the_childs_share_in_pairs() -> None:
    for after, head, size in [(0, 120_470, 20_000), (5, 100, 7), (0, 40_001, 20_000), (10, 31, 7), (0, 9, 7)]:
        parts = segments(after, head, size)
        assert parts[0][0] == after and parts[-1][1] is None
        bounds = [stop for _, stop in parts[:-1]]
        assert bounds == [start for start, _ in parts[1:]]  # contiguous, none twice
        lengths = [(stop if stop is not None else head) - start for start, stop in parts]
        assert max(lengths) <= 1.5 * size + 1 and min(lengths) > 0
    whole = segments(0, 120_470, 20_000)
    child = sum((stop or 120_470) - start for start, stop in whole[1::2])
    assert len(whole) == 8 and abs(child / 120_470 - CHILD_SHARE) < 0.03
    assert segments(0, 20_000, 20_000) == [(0, None)]  # short: one process, to the log's end


def test_the_cli_writes_the_file_only_once_complete(tmp_path: Path) -> None:
    target = tmp_path / "all.jsonld"
    target.write_text("the previous export\n", "utf-8")

    def failing() -> Iterator[str]:
        yield '{"type":"EPCISDocument"'
        raise ExportWorkerFailed("the export's second process ended without finishing")

    with pytest.raises(ExportWorkerFailed):
        _write(failing(), target)
    assert target.read_text("utf-8") == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.jsonld"]
    _write(iter(["{}"]), target)
    assert target.read_text("utf-8") == "{}\n"
