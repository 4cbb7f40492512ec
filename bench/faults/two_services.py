"""R6: two ``batterytrace serve --no-projections`` processes and two ``projections run`` workers
on one PostgreSQL schema, scans arriving through both services at once.

No event may be lost or applied twice: every acknowledged scan is in the store once, the
network view counts each collected battery once, and, once the workers have caught up, the
views equal a rebuild from the events.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from bench.faults.common import Tally, child_env
from bench.faults.outage import check_store
from bench.stores import fresh_store
from tests.e2e.test_database_outage import Scanners, retired_batteries
from tests.utils.server import batterytrace_command, cast_with_keys, running_server
from tests.utils.views import differences, rows_as_dicts, view_contents

SCANNERS_PER_SERVICE = 8
CATCH_UP_LIMIT = 120.0


def run(batteries: int, seconds: float) -> Tally:
    tally = Tally("R6_two_services_two_workers", "postgres")
    with fresh_store("postgres") as url, tempfile.TemporaryDirectory(prefix="bt-faults-") as folder:
        cast, keys = cast_with_keys(url)
        codes = retired_batteries(url, cast, batteries)
        with ExitStack() as stack:
            servers = [
                stack.enter_context(running_server(url, Path(folder), args=("--no-projections",)))
                for _ in range(2)
            ]
            logs = [stack.enter_context((Path(folder) / f"worker-{n}.log").open("wb")) for n in range(2)]
            workers = [
                subprocess.Popen(
                    [batterytrace_command(), "projections", "run", "--poll", "0.2"],
                    env=child_env(url),
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
                for log in logs
            ]
            groups = [
                Scanners(s.base_url, keys["outlet_operator"], cast.collection_point, codes[i::2])
                for i, s in enumerate(servers)
            ]
            threads = [t for g in groups for t in g.run(SCANNERS_PER_SERVICE)]
            time.sleep(seconds)
            for group in groups:
                group.stop.set()
            for thread in threads:
                thread.join(70)
            scans = [s for g in groups for s in g.scans]
            for scan in scans:
                tally.check(scan.status == 201, f"scan answered {scan.status}: {str(scan.body)[:150]}")
            acknowledged = {s.code: s.scan_id for s in scans if s.status == 201}
            check_views(tally, url, cast.collection_point, len(acknowledged), workers)
        check_store(tally, url, acknowledged)
        tally.context = f"{len(scans)} scans through 2 services in {seconds:g} s, 2 workers"
    return tally


def check_views(
    tally: Tally, url: str, point: str, acknowledged: int, workers: list[subprocess.Popen]
) -> None:
    """Wait for the workers to catch up, stop them, compare the views with a rebuild."""
    app = BatteryTrace(Settings(database_url=url))
    runner = ViewRunner(app)
    try:
        deadline = time.monotonic() + CATCH_UP_LIMIT
        while any(s.lag for s in runner.status()) and time.monotonic() < deadline:
            print(f"[R6] waiting for the workers: {runner.status()}", file=sys.stderr)
            time.sleep(2.0)
        tally.check(not any(s.lag for s in runner.status()), f"workers not caught up: {runner.status()}")
        for worker in workers:
            if tally.check(worker.poll() is None, f"a worker exited by itself ({worker.returncode})"):
                worker.send_signal(signal.SIGTERM)
                tally.check(worker.wait(30) == 0, f"a worker exited {worker.returncode} on SIGTERM")
        contents = view_contents(runner.engine)
        counted = {r["id"]: r["collected_count"] for r in rows_as_dicts(contents, "network_points")}
        found = counted.get(point)
        tally.check(found == acknowledged, f"network view counts {found} of {acknowledged} scans")
        runner.rebuild()
        rebuilt = view_contents(runner.engine)
        tally.check(contents == rebuilt, "views differ from a rebuild: " + differences(contents, rebuilt))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        runner.engine.dispose()
        app.close()
