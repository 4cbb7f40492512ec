"""R3: PostgreSQL goes away (a cut TCP proxy) while 16 outlet scanners scan through a running
``batterytrace serve``, and comes back.

During the outage every answer must be a 503 problem (no 500, no request hanging 10 s or more,
no connection dropped); afterwards the service must be ready again by itself within 30 s, each
refused scan must succeed when retried with its ``client_scan_id``, and every acknowledged scan
must be in the store exactly once. The scanners and the checks of a 503 problem are the e2e
outage test's (``tests/e2e/test_database_outage.py``); only the outage is made differently.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from bench.faults.common import Tally
from bench.faults.proxy import CuttableProxy
from bench.stores import fresh_store
from tests.e2e.test_database_outage import (
    RECOVERY_LIMIT,
    REFUSAL_LIMIT,
    Scanners,
    is_problem_503,
    retired_batteries,
)
from tests.utils.server import cast_with_keys, running_server

SCANNERS = 16


def through(proxy: CuttableProxy, database_url: str) -> str:
    """``database_url`` with the proxy's address in place of the server's."""
    parts = urlsplit(database_url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{proxy.port}"))


def wait_ready(base_url: str, timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return None


def run(batteries: int, outages: int, outage_seconds: float) -> Tally:
    tally = Tally("R3_database_outage", "postgres")
    with fresh_store("postgres") as url, tempfile.TemporaryDirectory(prefix="bt-faults-") as folder:
        cast, keys = cast_with_keys(url)
        codes = retired_batteries(url, cast, batteries)
        target = urlsplit(url)
        proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 5432)
        with proxy, running_server(through(proxy, url), Path(folder)) as server:
            scanners = Scanners(server.base_url, keys["outlet_operator"], cast.collection_point, codes)
            threads = scanners.run(SCANNERS)
            try:
                windows = cut_and_restore(tally, proxy, server.base_url, scanners, outages, outage_seconds)
            finally:
                scanners.stop.set()
                for thread in threads:
                    thread.join(70)
            check_answers(tally, scanners, windows)
            acknowledged = retry_refused(tally, scanners, server.base_url, keys["outlet_operator"])
        check_store(tally, url, acknowledged)
        refused = sum(s.status == 503 for s in scanners.scans)
        tally.context = (
            f"{outages} outage(s) of {outage_seconds:g} s, {len(scanners.scans)} scans, {refused} refused 503"
            + (", scanners ran out of batteries" if scanners.exhausted else "")
        )
    return tally


def cut_and_restore(
    tally: Tally, proxy: CuttableProxy, base_url: str, scanners: Scanners, outages: int, seconds: float
) -> list[tuple[float, float]]:
    """Cut the database ``outages`` times for ``seconds`` under load; the (cut, restore) times."""
    windows = []
    for number in range(outages):
        if not scanners.wait_for(lambda s: s.status == 201, after=time.monotonic(), timeout=30):
            tally.check(False, f"outage {number}: no scan succeeded before the cut")
        time.sleep(1.0)
        cut_at = time.monotonic()
        proxy.cut()
        time.sleep(seconds)
        health = httpx.get(f"{base_url}/healthz", timeout=REFUSAL_LIMIT)
        tally.check(health.status_code == 200, f"/healthz {health.status_code} during the outage")
        ready = httpx.get(f"{base_url}/readyz", timeout=REFUSAL_LIMIT)
        kind = ready.headers.get("content-type", "")
        body = ready.json() if "json" in kind else None
        tally.check(
            is_problem_503(ready.status_code, kind, body),
            f"/readyz during the outage: {ready.status_code} {ready.text[:120]}",
        )
        restored_at = time.monotonic()
        proxy.restore()
        windows.append((cut_at, restored_at))
        took = wait_ready(base_url, RECOVERY_LIMIT)
        tally.check(took is not None, f"outage {number}: not ready within {RECOVERY_LIMIT:g} s")
    return windows


def check_answers(tally: Tally, scanners: Scanners, windows: list[tuple[float, float]]) -> None:
    for scan in scanners.scans:
        in_outage = any(cut <= scan.started < back for cut, back in windows)
        tally.check(scan.status is not None, f"no HTTP answer: {scan.body}")
        tally.check(scan.seconds < REFUSAL_LIMIT, f"a scan took {scan.seconds:.1f} s")
        if scan.status == 503:
            tally.check(is_problem_503(scan.status, scan.content_type, scan.body), f"503 body {scan.body}")
        elif scan.status is not None:
            tally.check(scan.status == 201, f"status {scan.status} (in outage: {in_outage}): {scan.body}")
    for cut, back in windows:
        during = [s for s in scanners.scans if cut <= s.started < back]
        tally.check(any(s.status == 503 for s in during), f"no 503 among {len(during)} outage scans")


def retry_refused(tally: Tally, scanners: Scanners, base_url: str, key: str) -> dict[str, str]:
    """Retry each refused scan with its id; return the acknowledged scans, code -> scan id."""
    path = f"/api/v1/collection-points/{scanners.point}/scans"
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for scan in [s for s in scanners.scans if s.status != 201]:
            again = scanners.record(client, path, scan.code, scan.scan_id)
            tally.check(again.status in (200, 201), f"retry of a refused scan: {again.status} {again.body}")
    return {s.code: s.scan_id for s in scanners.scans if s.status in (200, 201)}


def check_store(tally: Tally, url: str, acknowledged: dict[str, str]) -> None:
    service = BatteryTrace(Settings(database_url=url))
    try:
        for code, scan_id in acknowledged.items():
            collected = [e.request_id for e in service.history(code) if type(e).__name__ == "Collected"]
            tally.check(collected == [f"scan:{scan_id}"], f"{code}: collected events {collected}")
    finally:
        service.close()
