"""The demo with its views rebuilt beside the generation (``trace/views_alongside.py``,
``demo/with_views.py``), on both stores:

- the views stand at the last event when the demo returns, with the rows ``projections rebuild``
  gives afterwards and the same signed tree;
- a writer that fails leaves the views as they were (empty here), no half-built table and no
  process behind;
- views that cannot be built (another rebuild holds the lock; the child killed) leave every
  event stored, and the error says so and names ``projections rebuild``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from batterytrace.demo.with_views import generate_demo_with_views
from batterytrace.projections.ledger_config import write_new_key
from batterytrace.projections.rebuild import only_rebuild
from batterytrace.projections.runner import ViewRunner
from batterytrace.projections.tables import ledger_checkpoints
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.views_alongside import ViewsAlongside, ViewsAlongsideFailed
from tests.integration.test_parallel_fold import last_checkpoint
from tests.integration.test_setwise_rebuild import leftover_tables
from tests.utils.views import view_contents

pytestmark = pytest.mark.skipif(not ViewsAlongside.available(), reason="needs fork and two usable cores")
BATTERIES = 120
BATCH = 20  # six announced heads and more: the child reads while the writer still writes
CHILD_NAME = "batterytrace-views-alongside"


@pytest.fixture
def runner(app: BatteryTrace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ViewRunner]:
    """The default views, the ledger signing with a key of this test's own (the forked child
    inherits the setting)."""
    key = tmp_path / "ledger.key"
    write_new_key(key, "test.example/ledger")
    monkeypatch.setenv("BATTERYTRACE_LEDGER_KEY", str(key))
    made = ViewRunner(app)
    yield made
    made.engine.dispose()


def demo(app: BatteryTrace, **options: object) -> object:
    return generate_demo_with_views(app, batteries=BATTERIES, seed=5, batch_size=BATCH, **options)


def positions(runner: ViewRunner) -> dict[str, int]:
    return {status.view: status.position for status in runner.status()}


def without_signatures(contents: dict[str, list[tuple[object, ...]]]) -> dict[str, list[tuple[object, ...]]]:
    """Checkpoints carry the moment they were signed: compared by ``last_checkpoint`` instead."""
    return {table: rows for table, rows in contents.items() if table != ledger_checkpoints.name}


def no_child_left() -> bool:
    return not [p for p in multiprocessing.active_children() if p.name == CHILD_NAME]


def test_the_views_stand_at_the_last_event_with_the_rows_a_rebuild_gives(
    app: BatteryTrace, runner: ViewRunner
) -> None:
    demo(app)

    head = app.recorder.max_notification_id()
    assert head and positions(runner) == dict.fromkeys(runner.views, head)
    alongside, alongside_head = view_contents(runner.engine), last_checkpoint(runner)
    assert alongside_head is not None and alongside_head[0] == head
    assert sum(len(rows) for rows in alongside.values()) > head  # not empty views
    runner.rebuild()
    assert without_signatures(view_contents(runner.engine)) == without_signatures(alongside)
    assert last_checkpoint(runner) == alongside_head
    assert leftover_tables(runner) == [] and no_child_left()


def test_a_writer_that_fails_leaves_the_views_as_they_were_and_no_process_behind(
    app: BatteryTrace, runner: ViewRunner
) -> None:
    before = view_contents(runner.engine)
    batches = []

    def fail_on_the_third_batch(packs: int) -> None:
        batches.append(packs)
        if len(batches) == 3:
            raise RuntimeError("the writer failed")

    with pytest.raises(RuntimeError, match="the writer failed"):
        demo(app, progress=fail_on_the_third_batch)

    assert app.recorder.max_notification_id()  # two batches were stored
    assert view_contents(runner.engine) == before
    assert set(positions(runner).values()) == {0}
    assert leftover_tables(runner) == [] and no_child_left()


def test_views_that_cannot_be_built_leave_every_event_stored_and_say_how_to_build_them(
    app: BatteryTrace, runner: ViewRunner
) -> None:
    with only_rebuild(runner.engine), pytest.raises(ViewsAlongsideFailed) as refused:
        demo(app)  # the child's rebuild is refused: another one holds the lock

    message = str(refused.value)
    assert "another rebuild of the views is running" in message
    assert "events are stored" in message and "batterytrace projections rebuild" in message
    stored = app.recorder.max_notification_id()
    assert stored and no_child_left()
    runner.rebuild()  # as the message says
    assert positions(runner) == dict.fromkeys(runner.views, stored)


def test_a_killed_child_is_reported_and_the_events_stay(app: BatteryTrace, runner: ViewRunner) -> None:
    killed = []

    def kill_the_child_once(packs: int) -> None:
        children = [p for p in multiprocessing.active_children() if p.name == CHILD_NAME]
        if children and not killed:
            os.kill(children[0].pid, signal.SIGKILL)
            killed.append(children[0].pid)

    with pytest.raises(ViewsAlongsideFailed, match=r"ended without finishing \(exit code -9\)"):
        demo(app, progress=kill_the_child_once)

    assert killed and app.recorder.max_notification_id() and no_child_left()
    assert set(positions(runner).values()) == {0}  # nothing was swapped in
    runner.rebuild()
    assert leftover_tables(runner) == []


def test_with_one_process_the_views_are_built_after_the_generation(
    app: BatteryTrace, runner: ViewRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATTERYTRACE_REBUILD_PROCESSES", "1")
    assert not ViewsAlongside.available()
    started = []

    demo(app, views_started=lambda: started.append(app.recorder.max_notification_id()))

    head = app.recorder.max_notification_id()
    assert started == [head]  # told once the generation was done
    assert positions(runner) == dict.fromkeys(runner.views, head) and no_child_left()
