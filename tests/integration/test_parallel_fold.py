"""A set-wise rebuild folded in two processes (``projections/parallel_fold.py``), on both stores:

- it gives the rows one process gives, every view, whichever half each view is folded in;
- the ledger folded in the second process still has its rebuilt tree signed after the swap (its
  right edge comes back from the child);
- an error in the second process fails the rebuild with that error, and a second process that
  dies fails it with a clear message; either way the live views and positions stay as they were,
  no half-built table is left, and the next rebuild works;
- ``BATTERYTRACE_REBUILD_PROCESSES`` takes 1 or 2 and refuses anything else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

import batterytrace.projections.network_view as network_module
import batterytrace.projections.parallel_fold as parallel_module
import batterytrace.projections.rebuild as rebuild_module
from batterytrace.projections.ledger_config import LedgerConfig, write_new_key
from batterytrace.projections.ledger_view import LedgerView
from batterytrace.projections.lifecycle_view import LifecycleView
from batterytrace.projections.network_view import NetworkView
from batterytrace.projections.reports_view import ReportsView
from batterytrace.projections.runner import ViewRunner
from batterytrace.projections.tables import ledger_checkpoints
from batterytrace.store import InvalidSetting
from batterytrace.trace.application import BatteryTrace
from tests.integration.test_setwise_rebuild import SETWISE, leftover_tables, positions_of
from tests.utils.views import demo_store, differences, view_contents


@pytest.fixture
def runner(app: BatteryTrace, tmp_path: Path) -> Iterator[ViewRunner]:
    """Every view with a set-wise rebuild; the ledger signs a checkpoint every 20 events."""
    key = tmp_path / "ledger.key"
    write_new_key(key, "test.example/ledger")
    calendar = app.settings.working_calendar()
    views = {
        "lifecycle": LifecycleView(calendar),
        "network": NetworkView(),
        "reports": ReportsView(calendar),
        "ledger": LedgerView(LedgerConfig(key, checkpoint_events=20)),
    }
    made = ViewRunner(app, views=views)
    yield made
    made.engine.dispose()


def processes(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    monkeypatch.setenv("BATTERYTRACE_REBUILD_PROCESSES", str(count))


def pids_of_the_second_process(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """Each forked fold writes its process id to the returned file (the fork inherits the patch)."""
    record = folder / "child-pids"
    real = parallel_module._child_fold

    def recorded(*args: Any) -> None:
        with record.open("a") as out:
            out.write(f"{os.getpid()}\n")
        real(*args)

    monkeypatch.setattr(parallel_module, "_child_fold", recorded)
    return record


def last_checkpoint(runner: ViewRunner) -> tuple[int, bytes] | None:
    with runner.engine.connect() as connection:
        row = connection.execute(
            select(ledger_checkpoints.c.tree_size, ledger_checkpoints.c.root)
            .order_by(ledger_checkpoints.c.tree_size.desc())
            .limit(1)
        ).first()
    return None if row is None else (row[0], bytes(row[1]))


def forget_checkpoints(runner: ViewRunner) -> None:
    with runner.engine.begin() as connection:
        connection.execute(delete(ledger_checkpoints))


@pytest.mark.parametrize(
    "child_views",
    [("lifecycle", "network"), ("ledger", "reports"), ("ledger", "lifecycle", "network")],
    ids=lambda views: "+".join(views),
)
def test_two_processes_give_the_rows_and_the_checkpoint_of_one(
    app: BatteryTrace,
    runner: ViewRunner,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    child_views: tuple[str, ...],
) -> None:
    demo_store(app, batteries=50)
    head = runner.head()
    processes(monkeypatch, 1)
    runner.rebuild()
    expected = view_contents(runner.engine)
    signed_alone = last_checkpoint(runner)
    assert signed_alone is not None and signed_alone[0] == head

    forget_checkpoints(runner)  # so that the next rebuild signs its tree again
    processes(monkeypatch, 2)
    monkeypatch.setattr(
        parallel_module,
        "split_views",
        lambda names, *_: (
            [n for n in names if n not in child_views],
            [n for n in names if n in child_views],
        ),
    )
    monkeypatch.setattr(rebuild_module, "PAGE_SIZE", 97)  # several pages through the pipe
    pids = pids_of_the_second_process(monkeypatch, tmp_path)
    assert runner.rebuild() == head * len(SETWISE)
    assert [int(p) for p in pids.read_text().split()] != [os.getpid()], "no second process folded"
    after = {t: rows for t, rows in view_contents(runner.engine).items() if t != "ledger_checkpoints"}
    alone = {t: rows for t, rows in expected.items() if t != "ledger_checkpoints"}
    assert after == alone, differences(after, alone)
    assert last_checkpoint(runner) == signed_alone  # the same tree, signed after the swap
    assert positions_of(runner) == dict.fromkeys(SETWISE, head)
    assert leftover_tables(runner) == []


class Interrupted(Exception):
    """Injected in the second process: stands for any failure there."""


@pytest.fixture
def caught_up(app: BatteryTrace, runner: ViewRunner, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """A demo store with its views caught up, to rebuild in two processes in pages of 50:
    returns the views' rows and positions before."""
    demo_store(app, batteries=40)
    runner.catch_up()
    processes(monkeypatch, 2)
    monkeypatch.setattr(rebuild_module, "PAGE_SIZE", 50)
    return view_contents(runner.engine), positions_of(runner)


def test_an_error_in_the_second_process_fails_the_rebuild_with_it_and_changes_nothing(
    runner: ViewRunner, monkeypatch: pytest.MonkeyPatch, caught_up: tuple[Any, Any]
) -> None:
    before, at = caught_up
    monkeypatch.setattr(
        parallel_module, "split_views", lambda names, *_: (["lifecycle"], ["network", "reports", "ledger"])
    )
    parent = os.getpid()
    real_add = network_module.NetworkBuilder.add
    pages: list[int] = []

    def add(self: Any, events: Sequence[tuple[int, Any]]) -> None:
        pages.append(len(events))
        if len(pages) == 3 and os.getpid() != parent:
            raise Interrupted("the network's third page")
        real_add(self, events)

    monkeypatch.setattr(network_module.NetworkBuilder, "add", add)
    with pytest.raises(Interrupted, match="third page") as raised:
        runner.rebuild()
    assert any("second process" in note for note in getattr(raised.value, "__notes__", []))
    monkeypatch.undo()
    assert view_contents(runner.engine) == before
    assert positions_of(runner) == at
    assert leftover_tables(runner) == []
    runner.rebuild()
    assert view_contents(runner.engine) == before


def test_a_second_process_that_dies_fails_the_rebuild_clearly_and_changes_nothing(
    runner: ViewRunner, monkeypatch: pytest.MonkeyPatch, caught_up: tuple[Any, Any]
) -> None:
    before, at = caught_up
    monkeypatch.setattr(
        parallel_module, "split_views", lambda names, *_: (["lifecycle", "reports"], ["network", "ledger"])
    )
    parent = os.getpid()
    real_add = network_module.NetworkBuilder.add

    def add(self: Any, events: Sequence[tuple[int, Any]]) -> None:
        if os.getpid() != parent:
            os._exit(3)  # as a kill -9 or the kernel's OOM killer would end it: without a word
        real_add(self, events)

    monkeypatch.setattr(network_module.NetworkBuilder, "add", add)
    with pytest.raises(parallel_module.ParallelFoldFailed, match="exit code 3") as raised:
        runner.rebuild()
    assert "BATTERYTRACE_REBUILD_PROCESSES=1" in str(raised.value)
    monkeypatch.undo()
    assert view_contents(runner.engine) == before
    assert positions_of(runner) == at
    assert leftover_tables(runner) == []


@pytest.mark.parametrize("value", ["0", "3", "two", "-1"])
def test_a_number_of_processes_other_than_1_or_2_is_refused_clearly(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("BATTERYTRACE_REBUILD_PROCESSES", value)
    with pytest.raises(InvalidSetting, match=r"give 1 .* or 2"):
        parallel_module.fold_processes()


def test_the_views_are_split_in_two_halves_of_about_equal_cost() -> None:
    here, child = parallel_module.split_views(["network", "reports", "ledger", "lifecycle"])
    assert sorted(here + child) == ["ledger", "lifecycle", "network", "reports"]
    cost = parallel_module.FOLD_COST
    load_here = parallel_module.READING_COST + sum(cost[n] for n in here)
    load_child = sum(cost[n] for n in child)
    assert here and child and abs(load_here - load_child) < cost["lifecycle"] / 2


def test_the_lifecycle_folds_alone_in_the_child_where_pages_cost_little_to_read() -> None:
    """The split follows what reading a page costs this process: from SQLite the network view
    folds here beside the ledger and the reports; from PostgreSQL in the child."""
    views = ["network", "reports", "ledger", "lifecycle"]
    assert parallel_module.split_views(views, parallel_module.SQLITE_READING_COST)[1] == ["lifecycle"]
    assert parallel_module.split_views(views, parallel_module.READING_COST)[1] == ["lifecycle", "network"]


def test_the_reading_cost_is_the_event_stores(app: BatteryTrace, database_url: str) -> None:
    expected = (
        parallel_module.SQLITE_READING_COST
        if database_url.startswith("sqlite")
        else parallel_module.READING_COST
    )
    assert parallel_module.reading_cost(app) == expected  # the application is the rebuild's source


ORPHAN_SCRIPT = """
import sys, time
import batterytrace.projections.network_view as network
from batterytrace.demo.national import generate_demo
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings

app = BatteryTrace(Settings(database_url=sys.argv[1]))
generate_demo(app, seed=3, batteries=40)
network.NetworkBuilder.add = lambda self, events: time.sleep(60)  # folds in the child, slowly
print("rebuilding", flush=True)
ViewRunner(app).rebuild()
"""


def test_the_second_process_ends_when_the_rebuilding_process_is_killed(tmp_path: Path) -> None:
    """A child outliving its killed parent would go on writing the fresh tables that the next
    rebuild makes anew."""
    import signal
    import subprocess
    import sys
    import time

    environment = {**os.environ, "BATTERYTRACE_REBUILD_PROCESSES": "2"}
    rebuilding = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_SCRIPT, f"sqlite:///{tmp_path / 'store.db'}"],
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert rebuilding.stdout is not None and rebuilding.stdout.readline() == "rebuilding\n"
        children = Path(f"/proc/{rebuilding.pid}/task/{rebuilding.pid}/children")
        deadline = time.monotonic() + 30
        while not children.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.05)
        (child,) = map(int, children.read_text().split())
        rebuilding.send_signal(signal.SIGKILL)
        rebuilding.wait(10)
        deadline = time.monotonic() + 10
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(child), "the second process outlived the killed rebuild"
    finally:
        rebuilding.kill()
        rebuilding.wait(10)


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's reaper may be slow to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"
