"""The production import at the scale manufacturers use it, through the real ``batterytrace`` CLI.

- 100,000 rows are all stored, on SQLite and PostgreSQL, and the importer's peak memory does not
  grow with the file (100k rows cost about what 20k rows cost).
- An import killed with SIGKILL leaves whole batches stored, never half of one, and re-running the
  file completes it with every row stored exactly once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from eventsourcing.utils import get_topic

from batterytrace.events.battery import Battery
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.sample_data import production_rows, write_production_file
from tests.utils.cast import NationalCast
from tests.utils.server import batterytrace_command

pytestmark = pytest.mark.slow

BATCH_SIZE = 500
SUMMARY = re.compile(
    r"(?P<rows>\d+) rows: (?P<stored>\d+) stored, (?P<already>\d+) already\s+present, "
    r"(?P<refused>\d+) refused in (?P<batches>\d+) batches"
)
MEMORY_GROWTH_FACTOR = 1.3
MEMORY_SLACK_KB = 20 * 1024


def cli_env(database_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BATTERYTRACE_ACTOR", "BATTERYTRACE_IMPORT_BATCH_SIZE")
    }
    env.update(BATTERYTRACE_DATABASE_URL=database_url, COLUMNS="200", NO_COLOR="1")
    return env


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    max_rss_kb: int

    def summary(self) -> dict[str, int]:
        found = SUMMARY.search(self.stdout)
        assert found, f"no import summary in the output:\n{self.stdout}\n{self.stderr}"
        return {k: int(v) for k, v in found.groupdict().items()}


class ImportProcess:
    """``batterytrace import FILE --as CREDIT`` in a child process, with its own peak memory.

    The peak is the child's ``VmHWM`` (/proc/<pid>/status), sampled at every poll while it runs.
    ``wait4``'s ``ru_maxrss`` would not do: Linux carries the parent's peak over into a child
    that execs, so a small import started from a large test process reports the test's size."""

    def __init__(self, database_url: str, path: Path, actor: str, folder: Path) -> None:
        self.out_path = folder / f"{path.stem}.out"
        self.err_path = folder / f"{path.stem}.err"
        self.peak_kb = 0
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.process = subprocess.Popen(
                [batterytrace_command(), "import", str(path), "--as", actor, "--batch-size", str(BATCH_SIZE)],
                env=cli_env(database_url),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> Finished | None:
        self.peak_kb = max(self.peak_kb, high_water_kb(self.pid))
        return self._reap(os.WNOHANG)

    def wait(self, timeout: float) -> Finished:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            finished = self.poll()
            if finished:
                return finished
            time.sleep(0.02)
        self.kill()
        raise AssertionError(f"the import did not finish within {timeout} s:\n{self.err_path.read_text()}")

    def kill(self) -> Finished:
        os.kill(self.pid, signal.SIGKILL)
        finished = self._reap(0)
        assert finished
        return finished

    def _reap(self, options: int) -> Finished | None:
        if self.process.returncode is not None:
            raise AssertionError("already reaped")
        pid, status, _usage = os.wait4(self.pid, options)
        if pid == 0:
            return None
        self.process.returncode = os.waitstatus_to_exitcode(status)
        return Finished(
            self.process.returncode,
            self.out_path.read_text(encoding="utf-8"),
            self.err_path.read_text(encoding="utf-8"),
            self.peak_kb,
        )


def high_water_kb(pid: int) -> int:
    """A process's peak resident set so far (KiB); 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def produced_codes(app: BatteryTrace) -> list[str]:
    """Codes of every Produced event in the store, in notification order (ids may have gaps on
    PostgreSQL after rolled-back transactions, so they are counted, not subtracted)."""
    topic = get_topic(Battery.Produced)
    codes: list[str] = []
    start = 1
    while page := app.recorder.select_notifications(start=start, limit=10_000, topics=[topic]):
        codes.extend(str(n.originator_id) for n in page)
        start = page[-1].id + 1
    return codes


def settled_codes(app: BatteryTrace) -> list[str]:
    """Produced codes once the store has settled: a PostgreSQL server may still finish a COMMIT
    that the killed client sent, so read until two reads a moment apart agree."""
    codes = produced_codes(app)
    for _ in range(20):
        time.sleep(0.25)
        again = produced_codes(app)
        if again == codes:
            return codes
        codes = again
    raise AssertionError("the store kept changing after the import was killed")


def head(app: BatteryTrace) -> int:
    return app.recorder.max_notification_id() or 0


def test_100k_rows_are_all_stored_through_the_cli_and_memory_does_not_grow_with_the_file(
    app: BatteryTrace, cast: NationalCast, database_url: str, tmp_path: Path
) -> None:
    small = write_production_file(tmp_path / "small.csv", "3CB", 20_000)
    large = write_production_file(tmp_path / "large.csv", "3CA", 100_000)

    small_run = ImportProcess(database_url, small, cast.manufacturer, tmp_path).wait(timeout=60)
    before = head(app)
    large_run = ImportProcess(database_url, large, cast.manufacturer, tmp_path).wait(timeout=120)

    assert small_run.returncode == 0, small_run.stderr
    assert large_run.returncode == 0, large_run.stderr
    assert "Traceback" not in large_run.stderr
    assert small_run.summary() == dict(rows=20_000, stored=20_000, already=0, refused=0, batches=40)
    assert large_run.summary() == dict(rows=100_000, stored=100_000, already=0, refused=0, batches=200)
    codes = produced_codes(app)
    assert len(codes) == 120_000 == len(set(codes))
    assert sum(code.startswith("3CA") for code in codes) == 100_000
    assert head(app) - before == 100_000  # one Produced event per row, nothing else
    store = database_url.split(":")[0]
    print(
        f"\n[{store}] peak RSS of the import: 20k rows {small_run.max_rss_kb / 1024:.1f} MiB, "
        f"100k rows {large_run.max_rss_kb / 1024:.1f} MiB"
    )
    assert large_run.max_rss_kb <= MEMORY_GROWTH_FACTOR * small_run.max_rss_kb + MEMORY_SLACK_KB, (
        f"peak memory grows with the file: 20k rows {small_run.max_rss_kb} KiB, "
        f"100k rows {large_run.max_rss_kb} KiB"
    )


def test_an_import_killed_mid_way_leaves_whole_batches_and_a_re_run_stores_every_row_once(
    app: BatteryTrace, cast: NationalCast, database_url: str, tmp_path: Path
) -> None:
    rows = 60_000
    path = write_production_file(tmp_path / "production.csv", "3CA", rows)
    file_codes = [row["code"] for row in production_rows("3CA", rows)]
    assert produced_codes(app) == []
    before = head(app)

    running = ImportProcess(database_url, path, cast.manufacturer, tmp_path)
    deadline = time.monotonic() + 60
    while head(app) - before < 5_000:
        assert running.poll() is None, "the import ended before it could be killed"
        assert time.monotonic() < deadline, "the import stored nothing within 60 s"
        time.sleep(0.01)
    killed = running.kill()

    assert killed.returncode == -signal.SIGKILL
    stored_before = settled_codes(app)
    print(f"\n[{database_url.split(':')[0]}] killed with {len(stored_before)} rows stored")
    assert 5_000 <= len(stored_before) < rows
    assert len(stored_before) % BATCH_SIZE == 0, f"{len(stored_before)} rows: a batch was half stored"
    assert stored_before == file_codes[: len(stored_before)]  # the first whole batches, in order

    rerun = ImportProcess(database_url, path, cast.manufacturer, tmp_path).wait(timeout=120)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert rerun.summary() == dict(
        rows=rows,
        stored=rows - len(stored_before),
        already=len(stored_before),
        refused=0,
        batches=rows // BATCH_SIZE,
    )
    codes = produced_codes(app)
    assert len(codes) == rows == len(set(codes))
    assert set(codes) == set(file_codes)
