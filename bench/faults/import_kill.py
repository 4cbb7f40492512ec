"""R1: ``batterytrace import`` killed with SIGKILL at random row counts, several times, then the
file run again to the end.

After every kill the store must hold whole batches only (a multiple of the batch size), the
file's first rows in order, each once, and never fewer than before the kill (nothing lost); the
last run must finish the file with every row stored exactly once and one event per row. The
integration test shows one kill; this run kills many times at random points (seeded) to find
the rare window, e.g. a kill during COMMIT.
"""

from __future__ import annotations

import random
import signal
import tempfile
import time
from pathlib import Path

from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.sample_data import production_rows, write_production_file
from batterytrace.trace.settings import Settings
from bench.faults.common import Tally
from bench.stores import fresh_store, register_manufacturer
from tests.integration.test_import_at_scale import (
    BATCH_SIZE,
    ImportProcess,
    head,
    produced_codes,
    settled_codes,
)

START_TIMEOUT = 120.0


def run(store: str, rows: int, kills: int, seed: int) -> Tally:
    tally = Tally("R1_import_sigkill", store)
    rng = random.Random(f"{seed}-{store}")
    targets = sorted(rng.sample(range(BATCH_SIZE, rows - BATCH_SIZE), kills))
    with tempfile.TemporaryDirectory(prefix="bt-faults-") as name, fresh_store(store) as url:
        folder = Path(name)
        path = write_production_file(folder / "production.csv", "3CA", rows)
        file_codes = [row["code"] for row in production_rows("3CA", rows)]
        app = BatteryTrace(Settings(database_url=url))
        try:
            actor = register_manufacturer(app)
            base = head(app)
            stored: list[str] = []
            landed = 0
            for target in targets:
                if target <= len(stored):
                    continue  # the previous kill landed past this target
                landed += kill_at(tally, app, base, url, path, actor, folder, target)
                stored = check_settled(tally, app, base, file_codes, len(stored))
            rerun = ImportProcess(url, path, actor, folder).wait(timeout=3600)
            exited = f"the final run exited {rerun.returncode}: {rerun.stderr[-300:]}"
            tally.check(rerun.returncode == 0, exited)
            if rerun.returncode == 0:
                summary = rerun.summary()
                tally.check(
                    summary["stored"] + summary["already"] == rows and summary["refused"] == 0,
                    f"final run summary {summary}",
                )
            codes = produced_codes(app)
            tally.check(len(codes) == len(set(codes)), f"{len(codes) - len(set(codes))} rows stored twice")
            tally.check(set(codes) == set(file_codes), f"{len(set(file_codes) - set(codes))} rows missing")
            events = count_events(app, base)
            tally.check(events == rows, f"{events} events for {rows} rows")
            tally.context = f"{landed} SIGKILLs mid-import, {rows} rows, batches of {BATCH_SIZE}"
        finally:
            app.close()
    return tally


def kill_at(
    tally: Tally, app: BatteryTrace, base: int, url: str, path: Path, actor: str, folder: Path, target: int
) -> int:
    """Start the import, SIGKILL it once ``target`` rows are stored; 1 if it was killed mid-way."""
    running = ImportProcess(url, path, actor, folder)
    deadline = time.monotonic() + START_TIMEOUT
    while head(app) - base < target:
        finished = running.poll()
        if finished:
            tally.check(finished.returncode == 0, f"import exited {finished.returncode} before the kill")
            return 0
        if time.monotonic() > deadline:
            running.kill()
            tally.check(False, f"no progress to {target} rows within {START_TIMEOUT:g} s")
            return 0
        time.sleep(0.005)
    killed = running.kill()
    return int(killed.returncode == -signal.SIGKILL)


def count_events(app: BatteryTrace, after: int) -> int:
    """Events stored after notification ``after``, counted (PostgreSQL's ids have gaps where a
    transaction was rolled back or killed, so the head minus a base is not a count)."""
    count, start = 0, after + 1
    while page := app.recorder.select_notifications(start=start, limit=10_000):
        count += len(page)
        start = page[-1].id + 1
    return count


def check_settled(
    tally: Tally, app: BatteryTrace, base: int, file_codes: list[str], before: int
) -> list[str]:
    """The store after a kill: whole batches, the file's first rows in order, none lost."""
    try:
        codes = settled_codes(app)
    except AssertionError as error:
        tally.check(False, str(error))
        return produced_codes(app)
    count = len(codes)
    tally.check(count % BATCH_SIZE == 0, f"{count} rows stored: a batch was half stored")
    tally.check(codes == file_codes[:count], f"the {count} stored rows are not the file's first rows")
    tally.check(count >= before, f"rows lost: {before} before the kill, {count} after")
    events = count_events(app, base)
    tally.check(events == count, f"{events} events for {count} rows")
    return codes
