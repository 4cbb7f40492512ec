"""PostgreSQL goes away under a running service, and comes back.

``batterytrace serve`` runs on PostgreSQL while outlet scanners keep scanning. The cluster is then
stopped (``pg_ctlcluster … stop -m fast``): requests must be refused quickly as 503 problems (not
500, no hang), ``/readyz`` must say 503 and ``/healthz`` 200. The cluster is started again: the
service must recover by itself (scans succeed, ``/readyz`` 200), a scan refused during the outage
succeeds when the scanner retries it with the same ``client_scan_id``, and every scan that was
acknowledged (2xx) is in the store.

The cluster is ALWAYS started again (``finally``), and the outage lasts a few seconds only,
because other people's tests may be using the same server. Skipped, with the reason, when not
root or without ``pg_ctlcluster``, or when no local cluster serves the test URL; under CI=true it
fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from batterytrace.store import parse_database_url
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.bulk_import import ProductionImporter
from batterytrace.trace.sample_data import production_rows
from batterytrace.trace.settings import Settings
from tests.conftest import IN_CI, POSTGRES_URL
from tests.e2e.test_service_over_http import VIN
from tests.utils.cast import NationalCast
from tests.utils.server import cast_with_keys, running_server

# serial: it stops the PostgreSQL server every other test shares; scripts/run-tests runs it alone.
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.serial]

BATTERIES = 800  # a run scans ~200; the rest is headroom for a slow machine
SCANNERS = 4
PAUSE = 0.05  # seconds between one scanner's scans: ~20 scans/s each
REFUSAL_LIMIT = 10.0  # no request may hang longer than this while the database is down
RECOVERY_LIMIT = 30.0
PROBLEM_JSON = "application/problem+json"


# ------------------------------------------------------------------------ the cluster
@dataclass(frozen=True)
class Cluster:
    version: str
    name: str

    def ctl(self, *action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", *action[1:], self.version, self.name, action[0]],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def stop(self) -> None:
        done = self.ctl("stop", "-m", "fast")
        assert done.returncode == 0, f"pg_ctlcluster stop failed: {done.stderr}"

    def online(self) -> bool:
        try:
            with psycopg.connect(POSTGRES_URL, connect_timeout=2) as connection:
                connection.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def start(self) -> None:
        """Start the cluster and wait until it answers; tried again a few times."""
        problems = []
        for _attempt in range(5):
            if self.online():
                return
            done = self.ctl("start")
            if done.returncode != 0:
                problems.append(done.stderr.strip())
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if self.online():
                    return
                time.sleep(0.2)
        raise AssertionError(f"PostgreSQL {self.version}/{self.name} did not come back: {problems}")


def local_cluster() -> Cluster | str:
    """The cluster serving the test URL, or why it cannot be stopped and started here."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "stopping PostgreSQL needs root (pg_ctlcluster)"
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        return "pg_ctlcluster is missing (postgresql-common)"
    url = parse_database_url(POSTGRES_URL)
    if (url.host or "127.0.0.1") not in ("127.0.0.1", "localhost", "::1"):
        return f"the test PostgreSQL at {url.host} is not a local cluster"
    listing = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, timeout=30)
    for line in listing.stdout.splitlines():
        version, name, port, *_ = line.split()
        if int(port) == (url.port or 5432):
            return Cluster(version, name)
    return f"no local cluster listens on port {url.port or 5432}: {listing.stdout.strip()}"


@pytest.fixture
def cluster(postgres_server: str) -> Iterator[Cluster]:
    found = local_cluster()
    if isinstance(found, str):
        if IN_CI:
            pytest.fail(f"{found} (CI=true: the outage test must run)")
        pytest.skip(found)
    try:
        yield found
    finally:
        found.start()  # whatever happened, the server is up again for everybody else


# ------------------------------------------------------------------------ the scanners
@dataclass
class Scan:
    code: str
    scan_id: str
    started: float
    seconds: float
    status: int | None  # None: no HTTP answer at all
    body: Any
    content_type: str = ""


@dataclass
class Scanners:
    """Threads scanning one retired battery after another, each with a fresh client_scan_id."""

    base_url: str
    key: str
    point: str
    codes: list[str]
    scans: list[Scan] = field(default_factory=list)
    exhausted: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, count: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._scan, args=(self.codes[i::count],)) for i in range(count)]
        for thread in threads:
            thread.start()
        return threads

    def _scan(self, codes: list[str]) -> None:
        path = f"/api/v1/collection-points/{self.point}/scans"
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=60.0) as client:
            for code in codes:
                if self.stop.is_set():
                    return
                self.record(client, path, code, f"outage-{code}")
                self.stop.wait(PAUSE)
        self.exhausted = True

    def record(self, client: httpx.Client, path: str, code: str, scan_id: str) -> Scan:
        started = time.monotonic()
        try:
            answer = client.post(path, json={"text": code, "client_scan_id": scan_id})
            status, content_type = answer.status_code, answer.headers.get("content-type", "")
            body = answer.json() if "json" in content_type else answer.text
        except httpx.TransportError as error:
            status, content_type, body = None, "", repr(error)
        scan = Scan(code, scan_id, started, time.monotonic() - started, status, body, content_type)
        with self.lock:
            self.scans.append(scan)
        return scan

    def since(self, moment: float) -> list[Scan]:
        with self.lock:
            return [s for s in self.scans if s.started >= moment]

    def wait_for(self, predicate: Any, after: float, timeout: float) -> Scan | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((s for s in self.since(after) if predicate(s)), None)
            if found:
                return found
            time.sleep(0.05)
        return None


def retired_batteries(database_url: str, cast: NationalCast, count: int) -> list[str]:
    """``count`` packs produced (bulk importer), delivered to the vehicle maker, installed and
    retired by it."""
    service = BatteryTrace(Settings(database_url=database_url))
    try:
        rows = list(production_rows("3CA", count, seed=11))
        report = ProductionImporter(service, cast.manufacturer).run(enumerate(rows, start=2))
        assert report.stored == count, report.refused[:3]
        vehicle_maker = service.participant(cast.vehicle_maker)
        manufacturer = service.participant(cast.manufacturer)
        now = service.clock()
        codes = [row["code"] for row in rows]
        for start in range(0, count, 200):
            batch = [service.battery(code) for code in codes[start : start + 200]]
            for battery in batch:
                delivered = now - timedelta(days=3)
                battery.deliver(actor=manufacturer, receiver=vehicle_maker, occurred_at=delivered)
                battery.install(actor=vehicle_maker, vin=VIN, occurred_at=now - timedelta(days=2))
                battery.retire(actor=vehicle_maker, reason="worn", occurred_at=now - timedelta(days=1))
            service.save(*batch)
    finally:
        service.close()
    return codes


def is_problem_503(answer_status: int | None, content_type: str, body: Any) -> bool:
    return (
        answer_status == 503
        and content_type.startswith(PROBLEM_JSON)
        and isinstance(body, dict)
        and body.get("status") == 503
        and bool(body.get("detail"))
    )


# ------------------------------------------------------------------------------ the test
def test_service_survives_a_database_outage(postgres_url: str, cluster: Cluster, tmp_path: Path) -> None:
    cast, keys = cast_with_keys(postgres_url)
    codes = retired_batteries(postgres_url, cast, BATTERIES)
    with running_server(postgres_url, tmp_path) as server:
        scanners = Scanners(server.base_url, keys["outlet_operator"], cast.collection_point, codes)
        threads = scanners.run(SCANNERS)
        public = httpx.Client(base_url=server.base_url, timeout=60.0)
        try:
            assert scanners.wait_for(lambda s: s.status == 201, after=0, timeout=15), scanners.scans[:3]
            time.sleep(0.5)

            # --- the database goes away
            stopped_at = time.monotonic()
            try:
                cluster.stop()
                checks = outage_checks(public, codes[0])
                refused = scanners.wait_for(lambda s: s.status == 503, after=stopped_at, timeout=15)
                assert refused, f"no scan was refused within 15 s: {scanners.since(stopped_at)}"
                outage_end = time.monotonic()
            finally:
                cluster.start()
            restarted = time.monotonic()

            # --- it comes back, and the service recovers by itself
            recovered = scanners.wait_for(lambda s: s.status == 201, after=restarted, timeout=RECOVERY_LIMIT)
            assert recovered, f"no scan succeeded within {RECOVERY_LIMIT:g} s of the restart:\n{server.log()}"
            ready = wait_until_ready(public, RECOVERY_LIMIT)
            time.sleep(0.5)
        finally:
            scanners.stop.set()
            for thread in threads:
                thread.join(70)

        during = [s for s in scanners.scans if stopped_at <= s.started < outage_end]
        report = outage_report(scanners.scans, stopped_at, outage_end, restarted, checks, ready)
        print(report)
        assert during, "no scan was attempted during the outage"
        assert not scanners.exhausted, "the scanners ran out of batteries; raise BATTERIES"
        assert not [s for s in scanners.scans if s.status is None], f"requests without answer:\n{report}"
        assert not [s for s in scanners.scans if s.status is not None and s.status >= 500 and s.status != 503]
        refusals = [s for s in scanners.scans if s.status == 503]
        assert refusals, report
        assert all(is_problem_503(s.status, s.content_type, s.body) for s in refusals), refusals[:3]
        assert max(s.seconds for s in scanners.scans) < REFUSAL_LIMIT, report
        unexpected = [s for s in scanners.scans if s.status not in (201, 503)]
        assert not unexpected, unexpected[:3]

        # --- the scanners retry what was refused, with the same client_scan_id
        outlet = server.client("outlet_operator", keys)
        path = f"/api/v1/collection-points/{cast.collection_point}/scans"
        for scan in refusals:
            retried = scanners.record(outlet, path, scan.code, scan.scan_id)
            assert retried.status in (200, 201), retried
            assert retried.body["code"] == scan.code and retried.body["state"] == "collected"
        acknowledged = {s.code: s for s in scanners.scans if s.status in (200, 201)}
        head = max(s.body["notification_id"] for s in acknowledged.values())

        # --- every acknowledged scan is in the store, and in the views
        service = BatteryTrace(Settings(database_url=postgres_url))
        try:
            for code, scan in acknowledged.items():
                collected = [e for e in service.history(code) if type(e).__name__ == "Collected"]
                assert [e.request_id for e in collected] == [f"scan:{scan.scan_id}"], code
                assert collected[0].collection_point_id == cast.collection_point
        finally:
            service.close()
        with server.client("regulator", keys) as regulator:
            network = regulator.get("/api/v1/reports/network", params={"after": head})
            assert network.status_code == 200, network.text
            point = next(r for r in network.json()["items"] if r["id"] == cast.collection_point)
            assert point["collected_count"] == len(acknowledged)
        outlet.close()
        public.close()
        assert server.stop() == 0, server.log()


def outage_checks(public: httpx.Client, code: str) -> dict[str, tuple[int, float, str, Any]]:
    """While the database is down: liveness, readiness, a read, each timed."""
    results = {}
    for name, path in {
        "healthz": "/healthz",
        "readyz": "/readyz",
        "battery": f"/api/v1/batteries/{code}",
    }.items():
        started = time.monotonic()
        answer = public.get(path)
        content_type = answer.headers.get("content-type", "")
        body = answer.json() if "json" in content_type else answer.text
        results[name] = (answer.status_code, time.monotonic() - started, content_type, body)
    status, seconds, _, body = results["healthz"]
    assert (status, body) == (200, {"status": "ok"}), results
    assert seconds < 2.0, results
    for name in ("readyz", "battery"):
        status, seconds, content_type, body = results[name]
        assert is_problem_503(status, content_type, body), results
        assert seconds < REFUSAL_LIMIT, results
    return results


def wait_until_ready(public: httpx.Client, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if public.get("/readyz").status_code == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"/readyz not 200 within {timeout:g} s of the restart")


def outage_report(
    scans: list[Scan],
    stopped: float,
    ended: float,
    restarted: float,
    checks: dict[str, tuple[int, float, str, Any]],
    ready_after: float,
) -> str:
    def line(label: str, chosen: list[Scan]) -> str:
        statuses: dict[Any, int] = {}
        for scan in chosen:
            statuses[scan.status] = statuses.get(scan.status, 0) + 1
        slowest = max((s.seconds for s in chosen), default=0.0)
        return f"{label:<8} scans {len(chosen):>4}  statuses {statuses}  slowest {slowest:.2f} s"

    checked = ", ".join(
        f"{name} {status} in {seconds:.2f} s" for name, (status, seconds, *_) in checks.items()
    )
    return "\n".join(
        [
            line("before", [s for s in scans if s.started < stopped]),
            line("outage", [s for s in scans if stopped <= s.started < ended]),
            line("restart", [s for s in scans if ended <= s.started < restarted]),
            line("after", [s for s in scans if s.started >= restarted]),
            f"during the outage: {checked}; ready {ready_after:.2f} s after the restart",
        ]
    )
