"""A view runner killed with SIGKILL at random moments loses nothing and applies nothing twice.

On each store, a demo of ~2,400 events is projected by child processes that are killed with
SIGKILL after a random delay (0.05-1.0 s after they report ready), ten times, each restarting
where the last one's committed position left off: mostly ``python -c`` runners with a tiny batch
size (so most kills land inside a transaction), some of them on some views only, and last the
real CLI worker ``batterytrace projections run`` (1,000 events per transaction). After every kill
each view must hold exactly the events up to its position (counters and timeline rows checked
against the store).
Then the test finishes catching up and the views must equal a full rebuild.

The delays come from a seeded generator (``BATTERYTRACE_CRASH_SEED``; ``BATTERYTRACE_CRASH_KILLS``
sets the number of kills) and are printed, with what each kill interrupted, in every assertion.

A rebuild killed between dropping a view's tables and resetting its position is shown separately,
deterministically (it was a bug once: the reset is now one transaction).
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import batterytrace.projections.runner as runner_module
from batterytrace.projections.event_data import event_name
from batterytrace.projections.network_view import NetworkView
from batterytrace.projections.runner import ViewRunner
from batterytrace.projections.tables import VIEWS, positions
from batterytrace.trace.application import BatteryTrace
from tests.utils.server import batterytrace_command
from tests.utils.views import (
    Contents,
    demo_store,
    differences,
    positions_and_contents,
    rows_as_dicts,
    view_contents,
)

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("BATTERYTRACE_CRASH_SEED", "20261125"))
KILLS = int(os.environ.get("BATTERYTRACE_CRASH_KILLS", "10"))
# The last kill hits the CLI worker: with 1,000 events per transaction it finishes what is left
# within about a second, so it comes last, when the small-batch children have had their turn.
CLI_ROUNDS = {KILLS - 1}
# Some children catch up only some views, so that views stand at different positions when later
# children (which then run the views behind alone until they catch up) are killed.
ONLY_VIEWS = {1: ("network",), 5: ("reports", "network")}
DEMO_BATTERIES = 400
# Small enough that a child needs several seconds for the whole store, so that most kills land
# mid-way (and mostly inside a transaction).
CHILD_BATCH_SIZE = {"sqlite": 3, "postgresql": 8}
READY_TIMEOUT = 30
CHILD_RUNNER = """
import sys
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace

runner = ViewRunner(BatteryTrace(), batch_size=int(sys.argv[1]))
print("ready", flush=True)
runner.catch_up(sys.argv[2:] or None)
print("done", flush=True)
"""


def child_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
    env.update(BATTERYTRACE_DATABASE_URL=database_url, NO_COLOR="1", COLUMNS="200")
    return env


@dataclass
class Round:
    number: int
    child: str
    delay: float
    positions_before: dict[str, int] = field(default_factory=dict)
    positions_after: dict[str, int] = field(default_factory=dict)
    finished_first: bool = False
    views: tuple[str, ...] = ()  # the views the child catches up (all when empty)

    def __str__(self) -> str:
        moved = {v: self.positions_after.get(v, 0) - self.positions_before.get(v, 0) for v in VIEWS}
        return (
            f"round {self.number}: {self.child}, SIGKILL after {self.delay:.3f} s, "
            f"positions {self.positions_before} -> {self.positions_after} (moved {moved})"
            + (", the child had already finished" if self.finished_first else "")
        )


class Journal:
    """What each round did, for every assertion message."""

    def __init__(self, store: str) -> None:
        self.store = store
        self.rounds: list[Round] = []

    def __str__(self) -> str:
        lines = [f"[{self.store}] seed {SEED}, {len(self.rounds)} kills:"]
        return "\n".join(lines + [f"  {r}" for r in self.rounds])


def start_child(
    kind: str, database_url: str, batch_size: int, views: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[str], Any]:
    """The child and the pipe on which it says it is ready (stdout for ``python -c``, stderr for
    the CLI, which prints 'following the event store' there once its runner exists)."""
    if kind == "python -c":
        command = [sys.executable, "-c", CHILD_RUNNER, str(batch_size), *views]
    else:
        command = [batterytrace_command(), "projections", "run", "--poll", "0.2"]
    process = subprocess.Popen(
        command,
        env=child_env(database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    return process, process.stdout if kind == "python -c" else process.stderr


def wait_until_ready(process: subprocess.Popen[str], pipe: Any, journal: Journal) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        readable, _, _ = select.select([pipe], [], [], 0.1)
        if readable:
            line = pipe.readline()
            if line.startswith(("ready", "following")):
                return
            if not line and process.poll() is not None:
                break
    process.kill()
    out, err = process.communicate()
    pytest.fail(f"the child never became ready (exit {process.returncode}):\n{out}\n{err}\n{journal}")


def view_positions(runner: ViewRunner) -> dict[str, int]:
    return {s.view: s.position for s in runner.status()}


def check_views_hold_exactly_their_prefix(
    contents: Contents, events: list[tuple[int, Any]], at: dict[str, int], journal: Journal
) -> None:
    """Each view holds the events up to its position, each once: timeline rows, collection
    counters per point, monthly counts. ``contents`` and ``at`` must be read in one snapshot
    (``positions_and_contents``): a killed runner's last COMMIT may land after it died."""

    def upto(view: str, name: str) -> list[Any]:
        return [e for n, e in events if n <= at[view] and event_name(e) == name]

    timeline = sorted(row["position"] for row in rows_as_dicts(contents, "lifecycle_events"))
    expected = [n for n, e in events if n <= at["lifecycle"] and event_name(e).startswith("Battery.")]
    assert timeline == expected, f"lifecycle timeline at {at['lifecycle']}\n{journal}"

    collected = Counter(e.collection_point_id for e in upto("network", "Battery.Collected"))
    counted = {r["id"]: r["collected_count"] for r in rows_as_dicts(contents, "network_points")}
    assert {p: c for p, c in counted.items() if c} == collected, f"network at {at['network']}\n{journal}"
    handed = len(upto("network", "Battery.HandedOver"))
    assert sum(r["count"] for r in rows_as_dicts(contents, "network_flows")) == handed, str(journal)

    monthly = rows_as_dicts(contents, "report_monthly")
    for kind, counter in (("Produced", "produced"), ("Retired", "retired"), ("Recycled", "recycled")):
        assert sum(r[counter] for r in monthly) == len(upto("reports", f"Battery.{kind}")), (
            f"reports {counter} at {at['reports']}\n{journal}"
        )


def stored_events(app: BatteryTrace) -> list[tuple[int, Any]]:
    found: list[tuple[int, Any]] = []
    start = 1
    while page := app.recorder.select_notifications(start=start, limit=1000):
        found += [(n.id, app.mapper.to_domain_event(n)) for n in page]
        start = page[-1].id + 1
    return found


@pytest.fixture
def runner(app: BatteryTrace) -> Iterator[ViewRunner]:
    made = ViewRunner(app)
    yield made
    made.engine.dispose()


def test_runners_killed_at_random_moments_leave_views_equal_to_a_rebuild(
    database_url: str, app: BatteryTrace, runner: ViewRunner
) -> None:
    store = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    journal = Journal(store)
    rng = random.Random(f"{SEED}-{store}")
    demo_store(app, batteries=DEMO_BATTERIES, seed=SEED % 1000)
    events = stored_events(app)
    head = events[-1][0]
    assert len(events) >= 2000
    started = time.monotonic()

    for number in range(KILLS):
        views = ONLY_VIEWS.get(number, ())
        kind = "batterytrace projections run" if number in CLI_ROUNDS else "python -c"
        if views:
            kind += f" ({', '.join(views)} only)"
        this = Round(
            number,
            kind,
            round(rng.uniform(0.05, 1.0), 3),
            positions_before=view_positions(runner),
            views=views,
        )
        journal.rounds.append(this)
        process, pipe = start_child(kind.split(" (")[0], database_url, CHILD_BATCH_SIZE[store], views)
        wait_until_ready(process, pipe, journal)
        time.sleep(this.delay)
        this.finished_first = process.poll() is not None  # reaped: no pid to kill any more
        if not this.finished_first:
            os.kill(process.pid, signal.SIGKILL)  # an unreaped child that just exited is still killable
        out, err = process.communicate(timeout=30)
        if this.finished_first:
            assert process.returncode == 0 and "done" in out, f"{out}\n{err}\n{journal}"
        else:
            assert process.returncode == -signal.SIGKILL, f"{out}\n{err}\n{journal}"
        at, contents = positions_and_contents(runner.engine)
        this.positions_after = {view: at[view] for view in VIEWS}
        for view in VIEWS:
            assert this.positions_after[view] >= this.positions_before[view], str(journal)
        check_views_hold_exactly_their_prefix(contents, events, this.positions_after, journal)

    print(journal)
    interrupted = [
        r
        for r in journal.rounds
        if not r.finished_first and min(r.positions_after[v] for v in r.views or VIEWS) < head
    ]
    assert len(interrupted) >= KILLS // 2, f"too few kills landed mid-way; slow the children down\n{journal}"

    runner.catch_up()
    assert [s.lag for s in runner.status()] == [0] * len(runner.status()), str(journal)
    after_kills = view_contents(runner.engine)
    check_views_hold_exactly_their_prefix(after_kills, events, dict.fromkeys(VIEWS, head), journal)
    runner.rebuild()
    rebuilt = view_contents(runner.engine)
    assert after_kills == rebuilt, f"{differences(after_kills, rebuilt)}\n{journal}"
    print(f"[{store}] {KILLS} kills and the final check took {time.monotonic() - started:.1f} s")


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, and no ``except Exception`` catches it."""


class FollowerPathOnly:
    """The network view without its set-wise rebuild, as a view that has none rebuilds: emptied,
    then caught up (the set-wise rebuild's own interruptions: ``test_setwise_rebuild.py``)."""

    name = "network"

    def __init__(self) -> None:
        self._view = NetworkView()

    def apply(self, connection: Any, events: Any) -> None:
        self._view.apply(connection, events)


def test_a_rebuild_killed_after_recreating_the_tables_loses_no_events(
    app: BatteryTrace, runner: ViewRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_store(app, batteries=40)
    runner.catch_up()
    expected = view_contents(runner.engine)
    real_update = runner_module.update

    def killed_when_resetting_the_position(table: Any) -> Any:
        if table is positions:
            raise Killed
        return real_update(table)

    follower_path = ViewRunner(
        app, engine=runner.engine, views={**runner.views, "network": FollowerPathOnly()}
    )
    monkeypatch.setattr(runner_module, "update", killed_when_resetting_the_position)
    with pytest.raises(Killed):
        follower_path.rebuild(["network"])
    monkeypatch.undo()

    restarted = ViewRunner(app)
    try:
        restarted.catch_up()
        assert all(s.lag == 0 for s in restarted.status())
        after = view_contents(restarted.engine)
    finally:
        restarted.engine.dispose()
    assert after == expected, differences(after, expected)
