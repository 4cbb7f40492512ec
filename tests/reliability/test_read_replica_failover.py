"""Reads from a streaming hot standby, through the real service, while it goes away and comes back.

The deployment of README's sketch, on one machine: the event store on the test PostgreSQL (a
schema of its own), the views on a temporary primary cluster (BATTERYTRACE_VIEWS_DATABASE_URL),
and reads on a streaming replica of it (BATTERYTRACE_READ_DATABASE_URLS), both made by
tests/utils/replication.py. ``batterytrace serve`` runs on them while outlet scanners scan
retired batteries in and read each one back with ``?after=`` (read-your-writes), the public page
is read, and a regulator reads reports.

1. With the replica up, reads are served by it: the service's sessions show in the replica's
   ``pg_stat_activity`` and ``/metrics`` counts reads chosen for it.
2. The replica is stopped mid-run (``pg_ctl stop -m fast``): reads continue from the primary,
   ``/readyz`` stays 200 and shows the replica down. A read that was running on the replica at
   that instant may be answered 503 (README: the documented fallback); the client retries it
   and the primary answers. Nothing else fails.
3. The replica is started again: it catches up from its replication slot and is used again.

Afterwards every acknowledged scan is in the store, in the views, and on the replica.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.e2e.test_database_outage import retired_batteries
from tests.utils.replica_load import (
    Load,
    collected_on_replica,
    service_sessions_on,
    summary,
    view_reads,
    wait_for_reads,
    wait_for_state,
)
from tests.utils.replication import Replication, replication_for_tests
from tests.utils.server import cast_with_keys, running_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BATTERIES = 400  # a run scans ~150; the rest is headroom for a slow machine
PHASE_SECONDS = 4.0  # how long each phase runs at least
PHASES = ["replica up", "replica stopped", "replica restarted"]


@pytest.fixture(scope="module")
def clusters() -> Iterator[Replication]:
    yield from replication_for_tests()


def test_reads_move_off_a_stopped_replica_and_back(
    postgres_url: str, clusters: Replication, tmp_path: Path
) -> None:
    cast, keys = cast_with_keys(postgres_url)
    codes = retired_batteries(postgres_url, cast, BATTERIES)
    replica = f"127.0.0.1:{clusters.replica.port}"
    environment = {
        "BATTERYTRACE_VIEWS_DATABASE_URL": clusters.primary_url,
        "BATTERYTRACE_READ_DATABASE_URLS": clusters.replica_url,
        "BATTERYTRACE_READ_MAX_LAG_SECONDS": "5",
    }
    with running_server(postgres_url, tmp_path, extra_env=environment) as server:
        ops = httpx.Client(base_url=server.base_url, timeout=30.0)
        wait_for_state(ops, "ok")
        load = Load(server.base_url, keys, cast.collection_point, codes)
        threads = load.start()
        try:
            # --- 1. the replica answers reads
            time.sleep(PHASE_SECONDS)
            wait_for_reads(ops, replica, more_than=20)
            sessions_before = service_sessions_on(clusters)
            assert sessions_before > 0, "no session of the service on the replica"

            # --- 2. it stops mid-run: reads go on, from the primary
            load.phase = "replica stopped"
            clusters.stop_replica()
            noticed = wait_for_state(ops, "down")
            at_notice = view_reads(ops)
            time.sleep(PHASE_SECONDS)
            while_down = wait_for_reads(ops, "primary", more_than=at_notice.get("primary", 0) + 20)
            assert while_down.get(replica, 0) == at_notice.get(replica, 0), (at_notice, while_down)

            # --- 3. it comes back, catches up, and is used again
            load.phase = "replica restarted"
            clusters.start_replica()
            usable_after = wait_for_state(ops, "ok")
            time.sleep(PHASE_SECONDS)
            wait_for_reads(ops, replica, more_than=while_down.get(replica, 0) + 20)
            assert service_sessions_on(clusters) > 0
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(70)

        print(f"replica down noticed after {noticed:.2f} s; usable again {usable_after:.2f} s after restart")
        print(summary(load.calls, PHASES))
        assert not load.exhausted, "the scanners ran out of batteries; raise BATTERIES"
        failed = [c for c in load.calls if c.status not in (200, 201)]
        assert not failed, failed[:5]
        retried = [c for c in load.calls if c.attempts > 1]
        assert all(c.phase == "replica stopped" for c in retried), retried[:5]
        # read-your-writes held throughout: each scan read back showed the battery collected
        read_back = [c for c in load.calls if c.path.startswith("/api/v1/batteries/")]
        assert len(read_back) == len(load.acknowledged)
        assert all(c.body["battery"]["state"] == "collected" for c in read_back), read_back[:3]
        assert {c.phase for c in read_back} == set(PHASES)

        # --- nothing lost: every acknowledged scan is in the store, the views and the replica
        head = max(load.acknowledged.values())
        service = BatteryTrace(Settings(database_url=postgres_url))
        try:
            for code in load.acknowledged:
                assert [type(e).__name__ for e in service.history(code)][-1] == "Collected", code
        finally:
            service.close()
        regulator = server.client("regulator", keys)
        network = regulator.get("/api/v1/reports/network", params={"after": head})
        assert network.status_code == 200, network.text
        point = next(r for r in network.json()["items"] if r["id"] == cast.collection_point)
        assert point["collected_count"] == len(load.acknowledged)
        assert collected_on_replica(clusters, cast.collection_point) == len(load.acknowledged)
        regulator.close()
        ops.close()
        assert server.stop() == 0, server.log()
