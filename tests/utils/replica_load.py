"""Load on a ``batterytrace serve`` whose reads go to a streaming replica, and what the service
says about that replica: shared by the replica failover test
(``tests/reliability/test_read_replica_failover.py``) and fault run R7
(``bench/faults/replica_stop.py``), which stop the replica under it.

Outlet scanners scan retired batteries in and read each one back with ``?after=`` (read-your-
writes) and on the public page; a regulator reads reports. Every answer of every attempt is kept
(status, the phase of the run it came in, ``Retry-After``), because what the runs judge is
exactly which 503s came when, and whether their retry was answered.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.utils.replication import Replication

SCANNERS = 2
PAUSE = 0.05  # seconds between one scanner's scans
RETRIES = 3  # a request answered 503 is retried (the documented fallback); never more than this
RETRY_PAUSE = 0.2  # seconds before a retry (the primary answers it: no need to wait Retry-After's 5)
SWITCH_LIMIT = 20.0  # seconds for /readyz to show the replica down, or usable again
PROBLEM_JSON = "application/problem+json"


def scan_id(code: str) -> str:
    """The ``client_scan_id`` the scanners send for ``code`` (its retries send the same)."""
    return f"replica-{code}"


@dataclass(frozen=True)
class Answer:
    """One attempt's answer: ``status`` None when there was no HTTP answer at all."""

    status: int | None
    phase: str  # the run's phase when the answer came
    retry_after: str | None = None
    problem: bool = False  # an application/problem+json body


@dataclass
class Call:
    """One request as the client saw it: every attempt's answer, and the last body."""

    method: str
    path: str
    answers: list[Answer]
    body: Any

    @property
    def status(self) -> int | None:
        return self.answers[-1].status

    @property
    def attempts(self) -> int:
        return len(self.answers)

    @property
    def phase(self) -> str:
        return self.answers[-1].phase


@dataclass
class Load:
    """``scanners`` threads that scan a battery in and read it back (``?after=``) and the public
    page, and a regulator reading reports; every request retried on 503, at most ``retries``
    times. ``phase`` names the moment of the run; each answer is labelled with it."""

    base_url: str
    keys: dict[str, str]
    point: str
    codes: list[str]
    scanners: int = SCANNERS
    pause: float = PAUSE
    retries: int = RETRIES
    phase: str = "replica up"
    calls: list[Call] = field(default_factory=list)
    acknowledged: dict[str, int] = field(default_factory=dict)  # code -> notification id
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    exhausted: bool = False

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._scan, args=(self.codes[i :: self.scanners],), daemon=True)
            for i in range(self.scanners)
        ]
        threads.append(threading.Thread(target=self._report, daemon=True))
        for thread in threads:
            thread.start()
        return threads

    def request(self, client: httpx.Client, method: str, path: str, **options: Any) -> Call:
        answers: list[Answer] = []
        body: Any = None
        while len(answers) < self.retries:
            try:
                answer = client.request(method, path, **options)
                kind = answer.headers.get("content-type", "")
                body = answer.json() if "json" in kind else answer.text
                answers.append(
                    Answer(
                        answer.status_code,
                        self.phase,
                        answer.headers.get("retry-after"),
                        kind.startswith(PROBLEM_JSON),
                    )
                )
            except httpx.TransportError as error:
                body = repr(error)
                answers.append(Answer(None, self.phase))
            if answers[-1].status != 503:
                break
            time.sleep(RETRY_PAUSE)
        call = Call(method, path.split("?")[0], answers, body)
        with self.lock:
            self.calls.append(call)
        return call

    def _scan(self, codes: list[str]) -> None:
        headers = {"Authorization": f"Bearer {self.keys['outlet_operator']}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=60.0) as client:
            for code in codes:
                if self.stop.is_set():
                    return
                scanned = self.request(
                    client,
                    "POST",
                    f"/api/v1/collection-points/{self.point}/scans",
                    json={"text": code, "client_scan_id": scan_id(code)},
                )
                if scanned.status in (200, 201):
                    with self.lock:
                        self.acknowledged[code] = scanned.body["notification_id"]
                    after = scanned.body["notification_id"]
                    self.request(client, "GET", f"/api/v1/batteries/{code}", params={"after": after})
                    self.request(client, "GET", f"/b/{code}", params={"format": "json"})
                self.stop.wait(self.pause)
        self.exhausted = True

    def _report(self) -> None:
        headers = {"Authorization": f"Bearer {self.keys['regulator']}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=60.0) as client:
            while not self.stop.is_set():
                self.request(client, "GET", "/api/v1/reports/network")
                self.request(client, "GET", "/api/v1/reports/regions", params={"format": "csv"})
                self.stop.wait(self.pause)


def view_reads(client: httpx.Client) -> dict[str, float]:
    """``batterytrace_view_reads_total`` from /metrics, by the database chosen."""
    text = client.get("/metrics").text
    found = re.findall(r'^batterytrace_view_reads_total\{database="([^"]+)"\} (\S+)$', text, re.MULTILINE)
    return {database: float(value) for database, value in found}


def wait_for_reads(client: httpx.Client, database: str, more_than: float) -> dict[str, float]:
    """The read counters once ``database`` has been chosen for more than ``more_than`` reads."""
    deadline = time.monotonic() + SWITCH_LIMIT
    while (reads := view_reads(client)).get(database, 0) <= more_than:
        assert time.monotonic() < deadline, f"{database} not chosen for {more_than:g} reads: {reads}"
        time.sleep(0.2)
    return reads


def replica_state(client: httpx.Client) -> tuple[int, str | None]:
    answer = client.get("/readyz")
    replicas = answer.json().get("read_replicas") or [{}]
    return answer.status_code, replicas[0].get("state")


def wait_for_state(client: httpx.Client, wanted: str) -> float:
    """Seconds until /readyz shows the replica in ``wanted`` state; /readyz must stay 200."""
    started = time.monotonic()
    seen = []
    while time.monotonic() - started < SWITCH_LIMIT:
        status, state = replica_state(client)
        seen.append((status, state))
        assert status == 200, f"/readyz answered {status} while the replica was {state}"
        if state == wanted:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"/readyz did not show the replica {wanted} within {SWITCH_LIMIT:g} s: {seen[-5:]}")


def service_sessions_on(clusters: Replication) -> int:
    """The service's sessions on the replica (``application_name`` batterytrace-read)."""
    with clusters.replica.connect() as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'batterytrace-read'"
        ).fetchone()
    return int(row[0])


def collected_on_replica(clusters: Replication, point: str) -> int:
    """Batteries the replica's views show collected at ``point``, once it has replayed all."""
    clusters.wait_replayed()
    with clusters.replica.connect() as connection:
        row = connection.execute(
            "SELECT count(*) FROM lifecycle_batteries WHERE state = 'collected' AND collection_point_id = %s",
            (point,),
        ).fetchone()
    return int(row[0])


def summary(calls: list[Call], phases: list[str]) -> str:
    """Requests, statuses and retries per phase, one line each."""
    lines = []
    for phase in phases:
        chosen = [c for c in calls if c.phase == phase]
        statuses: dict[Any, int] = {}
        for call in chosen:
            statuses[call.status] = statuses.get(call.status, 0) + 1
        retried = sum(1 for c in chosen if c.attempts > 1)
        lines.append(
            f"{phase:<20} requests {len(chosen):>4}  statuses {statuses}  retried after 503: {retried}"
        )
    return "\n".join(lines)
