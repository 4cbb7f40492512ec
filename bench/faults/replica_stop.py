"""R7: the read replica stops and starts again, several times, while 16 outlet scanners scan
through a running ``batterytrace serve`` and read back what they scanned.

The deployment of README's sketch on one machine, as the replica failover test builds it
(``tests/reliability/test_read_replica_failover.py``, whose load this run shares through
``tests/utils/replica_load.py``): the event store on the test PostgreSQL (a schema of its own),
the views on a temporary primary cluster, reads on a streaming hot standby of it
(``tests/utils/replication.py``). Scanners scan retired batteries in and read each one back with
``?after=`` and on the public page; a regulator reads reports. The replica is stopped
(``pg_ctl stop -m fast``) and started again ``stops`` times under that load.

Counted as failures (goal 0):

- an acknowledged scan missing from the store (or stored twice), from the views' network report,
  or from the replica's copy of the views once it has replayed everything;
- any answer but the documented fallback: a read whose query ran on the replica at the instant it
  stopped may be answered 503 ``store-unavailable`` with ``Retry-After`` (README, Read replicas),
  and its retry must then be answered. A 503 outside a stop, without ``Retry-After``, on a scan (a
  write never touches the replica), a retry that fails too, a 5xx/4xx or a dropped connection, or a
  read-back that does not show the battery collected (read-your-writes) is a failure;
- the service not noticing the stop (``/readyz`` showing it down, staying 200), reading from the
  replica while it is down, or not using it again after it has restarted and caught up.

Reported beside them: reads the replica served before the first stop and after the last restart,
reads the primary served while it was down, and how many reads took the fallback.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bench.faults.common import Tally
from bench.faults.outage import check_store
from bench.stores import fresh_store
from tests.e2e.test_database_outage import retired_batteries
from tests.utils.replica_load import (
    Call,
    Load,
    collected_on_replica,
    scan_id,
    view_reads,
    wait_for_reads,
    wait_for_state,
)
from tests.utils.replication import Replication, ReplicationUnavailable, replication, unavailable_reason
from tests.utils.server import Server, cast_with_keys, running_server

SCANNERS = 16
PAUSE = 0.2  # seconds between one scanner's scans: at most ~5 scans/s each, so the batteries last
SERVED = 20  # reads a database must be chosen for to count as serving them in a phase
STOPPED = "replica stopped"  # numbered: "replica stopped 1", …
RESTARTED = "replica restarted"
SCAN_PATH_END = "/scans"
T = TypeVar("T")


@dataclass
class Figures:
    """What the run measured beside its failures (``/metrics`` read counters, seconds)."""

    replica_before: float = 0  # reads chosen for the replica before the first stop
    primary_while_down: float = 0  # reads chosen for the primary while the replica was down
    replica_after: float = 0  # reads chosen for the replica after the last restart
    noticed: list[float] = field(default_factory=list)  # stop -> /readyz shows it down
    usable: list[float] = field(default_factory=list)  # start -> /readyz shows it ok


def run(batteries: int, stops: int, phase_seconds: float) -> Tally:
    """Stop and restart the replica ``stops`` times, each phase at least ``phase_seconds`` long."""
    reason = unavailable_reason()
    if reason:
        raise ReplicationUnavailable(reason)
    tally = Tally("R7_replica_stop", "postgres")
    with (
        fresh_store("postgres") as url,
        tempfile.TemporaryDirectory(prefix="bt-faults-") as folder,
        replication() as clusters,
    ):
        cast, keys = cast_with_keys(url)
        codes = retired_batteries(url, cast, batteries)
        environment = {
            "BATTERYTRACE_VIEWS_DATABASE_URL": clusters.primary_url,
            "BATTERYTRACE_READ_DATABASE_URLS": clusters.replica_url,
            "BATTERYTRACE_READ_MAX_LAG_SECONDS": "5",
        }
        with (
            running_server(url, Path(folder), extra_env=environment) as server,
            httpx.Client(base_url=server.base_url, timeout=30.0) as ops,
        ):
            wait_for_state(ops, "ok")
            load = Load(server.base_url, keys, cast.collection_point, codes, scanners=SCANNERS, pause=PAUSE)
            threads = load.start()
            try:
                figures = stop_and_restart(tally, clusters, ops, load, stops, phase_seconds)
            finally:
                load.stop.set()
                for thread in threads:
                    thread.join(70)
            tally.check(not load.exhausted, f"the scanners ran out of {batteries} batteries; raise it")
            fallbacks = check_calls(tally, load.calls)
            check_views(tally, server, keys, clusters, cast.collection_point, load.acknowledged)
            tally.check(server.stop() == 0, f"the service did not stop cleanly:\n{server.log()[-2000:]}")
        check_store(tally, url, {code: scan_id(code) for code in load.acknowledged})
        tally.context = context(stops, load, fallbacks, figures)
    return tally


def stop_and_restart(
    tally: Tally, clusters: Replication, ops: httpx.Client, load: Load, stops: int, seconds: float
) -> Figures:
    """The stops and restarts under ``load``, checking each switch ``/readyz`` and ``/metrics`` show."""
    figures = Figures()
    replica = f"127.0.0.1:{clusters.replica.port}"
    start = view_reads(ops)
    time.sleep(seconds)
    reads = observed(tally, "before the first stop", wait_for_reads, ops, replica, SERVED) or start
    figures.replica_before = reads.get(replica, 0) - start.get(replica, 0)
    for number in range(1, stops + 1):
        load.phase = f"{STOPPED} {number}"
        at_stop = view_reads(ops)
        clusters.stop_replica()
        noticed = observed(tally, f"stop {number}", wait_for_state, ops, "down")
        figures.noticed += [] if noticed is None else [noticed]
        at_notice = view_reads(ops)
        time.sleep(seconds)
        more = at_notice.get("primary", 0) + SERVED
        down = observed(tally, f"stop {number}", wait_for_reads, ops, "primary", more) or view_reads(ops)
        tally.check(
            down.get(replica, 0) == at_notice.get(replica, 0),
            f"stop {number}: reads chosen for the replica while it was down: {at_notice} -> {down}",
        )
        load.phase = f"{RESTARTED} {number}"
        at_restart = view_reads(ops)
        figures.primary_while_down += at_restart.get("primary", 0) - at_stop.get("primary", 0)
        clusters.start_replica()
        usable = observed(tally, f"restart {number}", wait_for_state, ops, "ok")
        figures.usable += [] if usable is None else [usable]
        time.sleep(seconds)
        more = at_restart.get(replica, 0) + SERVED
        after = observed(tally, f"restart {number}", wait_for_reads, ops, replica, more) or view_reads(ops)
        figures.replica_after = after.get(replica, 0) - at_restart.get(replica, 0)
    return figures


def observed(tally: Tally, when: str, expect: Callable[..., T], *args: Any) -> T | None:
    """``expect(*args)``'s result, or None with its AssertionError counted as a failure."""
    try:
        return expect(*args)
    except AssertionError as error:
        tally.check(False, f"{when}: {str(error)[:300]}")
        return None


def is_fallback(call: Call) -> bool:
    """Whether every answer before the last is the documented fallback: a read answered 503
    ``store-unavailable`` with ``Retry-After`` while the replica was being stopped."""
    return call.method == "GET" and all(
        a.status == 503 and a.problem and a.retry_after and a.phase.startswith(STOPPED)
        for a in call.answers[:-1]
    )


def judge(call: Call) -> str | None:
    """None when ``call`` was answered as it must be under R7, else what went wrong."""
    answers = ", ".join(f"{a.status} ({a.phase}, Retry-After {a.retry_after})" for a in call.answers)
    seen = f"{call.method} {call.path}: {answers}: {str(call.body)[:150]}"
    if call.status not in (200, 201):
        return seen
    if call.attempts > 1 and not is_fallback(call):
        return f"not the documented fallback: {seen}"
    if call.path.startswith("/api/v1/batteries/"):
        state = (call.body.get("battery") or {}).get("state") if isinstance(call.body, dict) else None
        if state != "collected":
            return f"read-your-writes: the read-back shows {state!r}: {seen}"
    return None


def check_calls(tally: Tally, calls: list[Call]) -> int:
    """Count each call answered otherwise than R7 allows; return how many took the fallback."""
    for call in calls:
        problem = judge(call)
        tally.check(problem is None, problem or "")
    return sum(1 for c in calls if c.attempts > 1 and judge(c) is None)


def check_views(
    tally: Tally,
    server: Server,
    keys: dict[str, str],
    clusters: Replication,
    point: str,
    acknowledged: dict[str, int],
) -> None:
    """Every acknowledged scan in the network report (read after the last one) and on the replica."""
    if not tally.check(bool(acknowledged), "no scan was acknowledged"):
        return
    with server.client("regulator", keys) as regulator:
        network = regulator.get("/api/v1/reports/network", params={"after": max(acknowledged.values())})
    if tally.check(network.status_code == 200, f"network report {network.status_code}: {network.text[:200]}"):
        counted = next((r["collected_count"] for r in network.json()["items"] if r["id"] == point), None)
        tally.check(counted == len(acknowledged), f"network report counts {counted} of {len(acknowledged)}")
    on_replica = observed(tally, "after the run", collected_on_replica, clusters, point)
    if on_replica is not None:
        tally.check(on_replica == len(acknowledged), f"the replica shows {on_replica} of {len(acknowledged)}")


def context(stops: int, load: Load, fallbacks: int, figures: Figures) -> str:
    scans = sum(1 for c in load.calls if c.path.endswith(SCAN_PATH_END))
    reads = len(load.calls) - scans

    def longest(seconds: list[float]) -> str:
        return f"{max(seconds):.2f} s" if seconds else "-"

    return (
        f"{stops} stop(s) of the replica, {scans} scans by {SCANNERS} scanners, {reads} reads; "
        f"reads on the replica {figures.replica_before:.0f} before the first stop and "
        f"{figures.replica_after:.0f} after the last restart, on the primary "
        f"{figures.primary_while_down:.0f} while it was down; {fallbacks} read(s) took the 503 fallback; "
        f"down noticed within {longest(figures.noticed)}, used again within {longest(figures.usable)}"
        + (", scanners ran out of batteries" if load.exhausted else "")
    )
