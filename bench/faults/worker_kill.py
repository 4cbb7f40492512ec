"""R2: the projection worker (``batterytrace projections run``) killed with SIGKILL at random
moments while events keep arriving; afterwards the views must equal a full rebuild.

A writer thread keeps importing production rows (as the demo's manufacturer) so that every kill
finds work in progress, and most land inside a transaction of 1,000 events. Views may never move
backwards between kills. At the end the views are caught up in-process and compared, table by
table, with a rebuild from the events (``tests.utils.views``).
"""

from __future__ import annotations

import random
import select
import signal
import subprocess
import threading
import time
from datetime import date, timedelta

from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.bulk_import import ProductionImporter
from batterytrace.trace.sample_data import production_rows
from batterytrace.trace.settings import Settings
from bench.faults.common import Tally, child_env
from bench.stores import fresh_store
from tests.utils.server import batterytrace_command
from tests.utils.views import demo_store, differences, view_contents

READY_TIMEOUT = 60.0
MAX_DELAY = 1.5


def keep_writing(url: str, manufacturer: str, stop: threading.Event, errors: list[str]) -> None:
    """Production rows in batches of 200, one production day per batch (codes never repeat)."""
    app = BatteryTrace(Settings(database_url=url))
    try:
        importer = ProductionImporter(app, manufacturer, batch_size=200)
        day = 0
        while not stop.is_set():
            first = date(2021, 1, 1) + timedelta(days=day)
            rows = production_rows("0CF", 200, seed=day, first_day=first)
            try:
                importer.run(enumerate(rows, start=2))
            except Exception as error:  # the writer is context; note it and keep going
                errors.append(repr(error))
            day += 1
            stop.wait(0.05)
    finally:
        app.close()


def one_kill(tally: Tally, url: str, delay: float) -> bool:
    """Start a worker, SIGKILL it ``delay`` s after it is ready; True if it was killed."""
    process = subprocess.Popen(
        [batterytrace_command(), "projections", "run", "--poll", "0.2"],
        env=child_env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + READY_TIMEOUT
    ready = False
    while not ready and time.monotonic() < deadline and process.poll() is None:
        if select.select([process.stderr], [], [], 0.1)[0]:
            ready = "following" in process.stderr.readline()
    if not ready:
        process.kill()
        _, err = process.communicate()
        tally.check(False, f"the worker never became ready (exit {process.returncode}): {err[-300:]}")
        return False
    time.sleep(delay)
    alive = process.poll() is None
    if alive:
        process.send_signal(signal.SIGKILL)
    _, err = process.communicate(timeout=30)
    if not alive:
        tally.check(False, f"the worker exited by itself ({process.returncode}): {err[-300:]}")
    return alive


def run(store: str, kills: int, demo_batteries: int, seed: int) -> Tally:
    tally = Tally("R2_worker_sigkill", store)
    rng = random.Random(f"{seed}-{store}")
    with fresh_store(store) as url:
        app = BatteryTrace(Settings(database_url=url))
        runner = ViewRunner(app)
        try:
            summary = demo_store(app, batteries=demo_batteries, seed=seed % 1000)
            stop, writer_errors = threading.Event(), []
            writer = threading.Thread(
                target=keep_writing, args=(url, summary.actors["manufacturer"], stop, writer_errors)
            )
            writer.start()
            mid_way = 0
            try:
                for number in range(kills):
                    before = {s.view: s.position for s in runner.status()}
                    killed = one_kill(tally, url, round(rng.uniform(0.0, MAX_DELAY), 3))
                    status = runner.status()
                    for s in status:
                        tally.check(
                            s.position >= before[s.view],
                            f"kill {number}: {s.view} moved back {before[s.view]} -> {s.position}",
                        )
                    mid_way += killed and any(s.lag for s in status)
            finally:
                stop.set()
                writer.join(60)
            runner.catch_up()
            tally.check(all(s.lag == 0 for s in runner.status()), "views not caught up at the end")
            after = view_contents(runner.engine)
            runner.rebuild()
            rebuilt = view_contents(runner.engine)
            for table in sorted(set(after) | set(rebuilt)):
                tally.check(
                    after.get(table) == rebuilt.get(table),
                    f"{table} differs from a rebuild: "
                    + differences({table: after.get(table, [])}, {table: rebuilt.get(table, [])}),
                )
            head = app.recorder.max_notification_id() or 0
            tally.context = f"{kills} SIGKILLs, {mid_way} with events pending, {head} events" + (
                f", writer errors {len(writer_errors)}: {writer_errors[0][:80]}" if writer_errors else ""
            )
        finally:
            runner.engine.dispose()
            app.close()
    return tally
