"""P2: scan throughput and latency of the real service over HTTP, against a bare FastAPI app.

The service runs as ``serve`` deploys it (uvicorn, the factory ``create_app_from_environment``
without a follower, the view follower a process beside it: ``cli/follower.py``) on a fresh store
with a few thousand batteries produced, installed and retired beforehand; an outlet operator's
scanners (``--clients`` connections) then scan a distinct battery each time, as JSON
(``{"text": code, "client_scan_id": …}``), for ``--seconds``.
The load comes from ``wrk`` (a C program, one thread, script ``bench/scan.lua``) where it is
installed, so the load generator takes little of the cores the server needs; without it, from an
async httpx client in this process, said so in the output (that client holds the bare app to a
few hundred requests per second on 2 cores, flattering the ratio). The baseline, measured in the
same run with the same uvicorn settings and the same generator, is a bare FastAPI app (this
module's ``bare_app``) with one POST endpoint that parses a body of the same shape and answers a
small JSON: the ratio says what authentication, decoding the code, loading and saving the battery
and building the answer cost on top of the web stack.

The same server then takes a mixed write load (``bench/writes.lua``, with wrk only): scans,
installs and retirements by the vehicle maker, and hand-overs to a whitelisted recycler, in turn,
each on a battery prepared in the state it needs; the bare app answers the same requests. Its
figures are rows of their own (``mix_*``; ``scan_*`` for the scans alone).

    python -m bench.scan_rate [--store sqlite|postgres|both] [--clients 16] [--seconds 10]
                              [--workers 1] [--batteries N] [--client auto|wrk|python] [--no-mix]
                              [--json]

Goals: scans at least a quarter of the bare app's request rate (wrk); p99 latency at most 50 ms. Server CPU is
the server processes' (workers included) CPU time over the run, in cores (1.0 = one core busy);
client CPU is this process's, to tell when the load generator itself was the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from batterytrace.cli.follower import FollowerSupervisor
from batterytrace.trace.api.http_protocol import PROBLEM_PROTOCOL
from bench.profiling import Profiles
from bench.results import figure
from bench.stores import fresh_store, register_manufacturer, register_outlet_and_recycler
from tests.utils.server import free_port

ROOT = Path(__file__).resolve().parent.parent
SERVICE_FACTORY = "batterytrace.trace.api.app:create_app_from_environment"
BARE_FACTORY = "bench.scan_rate:bare_app"
POINT = "CP-110105-0001"
VIN = "LSVAU2180N2183294"
WARMUP_SECONDS = 1.0
START_SECONDS = 180  # each worker catches the views up at start: slow on a busy machine
GOAL_RATIO = 0.25  # issue 13: a quarter of the bare app's rate, measured with wrk
GOAL_P99_MS = 50.0
GOAL_LEDGER_RATIO = 0.95  # issue 15: the log may cost scans at most 5 %


# ------------------------------------------------------------------------------ the baseline
class BareScan(BaseModel):
    """The scan body's shape, as the real endpoint's (``ScanRequest``) declares it."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2048)
    client_scan_id: str = Field(min_length=1, max_length=100)
    mass_kg: float | None = Field(None, gt=0)
    condition: str = Field("intact", min_length=1, max_length=200)
    source_vin: str | None = Field(None, max_length=40)
    scanned_by: str | None = Field(None, max_length=100)
    occurred_at: datetime | None = None


class BareWrite(BaseModel):
    """The bodies of the mixed load's install, retire and hand-over, in one shape."""

    model_config = ConfigDict(extra="forbid")

    vin: str | None = Field(None, max_length=40)
    reason: str | None = Field(None, min_length=1, max_length=500)
    receiver_id: str | None = Field(None, min_length=18, max_length=18)
    activity: str | None = Field(None, max_length=20)
    request_id: str | None = Field(None, max_length=200)
    occurred_at: datetime | None = None


def bare_app() -> FastAPI:
    """A FastAPI app with one POST endpoint: parse a scan-shaped JSON body, answer a small JSON."""
    app = FastAPI()

    @app.post("/api/v1/collection-points/{point_id}/scans", status_code=201)
    async def scan(point_id: str, body: BareScan) -> dict[str, Any]:
        return {"code": body.text[-24:], "state": "collected", "collection_point": point_id}

    @app.post("/api/v1/batteries/{code}/{action}")
    async def write(code: str, action: str, body: BareWrite) -> dict[str, Any]:
        return {"code": code, "state": action, "request_id": body.request_id}

    return app


# ------------------------------------------------------------------------------ the store
KINDS = ("scan", "install", "retire", "handover")  # the mixed load's writes, in turn (bench/writes.lua)
RECYCLER_FIRST17 = "91320500MA1X00005"


@dataclass
class Prepared:
    """What the loads need: retired batteries for the scans and the operator's key; for the mixed
    load, ``(kind, code)`` jobs in turn, each battery in the state its kind needs, the vehicle
    maker's key (install, retire) and the whitelisted recycler that hand-overs go to."""

    codes: list[str]
    key: str
    jobs: list[tuple[str, str]]
    maker_key: str
    recycler: str


def prepare(database_url: str, batteries: int, mixed: int = 0) -> Prepared:
    """Produce (bulk importer) and deliver to a vehicle maker ``batteries`` packs, installed and
    retired for the scans, and ``mixed`` more per kind of the mixed load: left delivered (to be
    installed), installed (to be retired), retired (to be scanned) or collected at the outlet
    (to be handed over); register the outlet, its operator and a whitelisted recycler."""
    from batterytrace.events.credit_code import credit_code_check_character
    from batterytrace.trace.application import BatteryTrace
    from batterytrace.trace.bulk_import import ProductionImporter
    from batterytrace.trace.sample_data import production_rows
    from batterytrace.trace.settings import Settings

    def credit(first17: str) -> str:
        return first17 + credit_code_check_character(first17)

    app = BatteryTrace(Settings(database_url=database_url))
    try:
        maker = register_manufacturer(app)
        regulator = credit("11100000000013127")
        vehicle_maker, operator = credit("91440300MA5F00003"), credit("91110105MA0000004")
        recycler = credit(RECYCLER_FIRST17)
        app.register_participant(
            actor_id=regulator, credit_code=vehicle_maker, name="Bench Motors", roles=["vehicle_maker"]
        )
        register_outlet_and_recycler(
            app, regulator, operator=operator, recycler=recycler, point=POINT, capacity_kg=10_000_000
        )
        now = app.clock()
        rows = list(production_rows("3CA", batteries + 4 * mixed, seed=5))
        report = ProductionImporter(app, maker).run(enumerate(rows, start=2))
        assert report.stored == len(rows), report.refused[:3]
        codes = [row["code"] for row in rows]
        # how far each battery goes: 0 delivered, 1 installed, 2 retired, 3 collected
        stage = {code: 2 for code in codes[:batteries]}
        jobs: list[tuple[str, str]] = []
        for n in range(mixed):
            for k, kind in enumerate(KINDS):
                code = codes[batteries + n * len(KINDS) + k]
                stage[code] = {"install": 0, "retire": 1, "scan": 2, "handover": 3}[kind]
                jobs.append((kind, code))
        installer, manufacturer = app.participant(vehicle_maker), app.participant(maker)
        outlet, point = app.participant(operator), app.collection_point(POINT)
        for start in range(0, len(codes), 500):
            batch = [app.battery(code) for code in codes[start : start + 500]]
            for battery in batch:
                battery.deliver(actor=manufacturer, receiver=installer, occurred_at=now - timedelta(days=3))
                if stage[battery.code] >= 1:
                    battery.install(actor=installer, vin=VIN, occurred_at=now - timedelta(days=2))
                if stage[battery.code] >= 2:
                    battery.retire(actor=installer, reason="worn", occurred_at=now - timedelta(days=1))
                if stage[battery.code] >= 3:
                    battery.collect(
                        actor=outlet, collection_point=point, occurred_at=now - timedelta(hours=12)
                    )
            app.save(*batch)
        key = app.issue_api_key(actor_id=None, participant_id=operator, label="bench").token
        maker_key = app.issue_api_key(actor_id=None, participant_id=vehicle_maker, label="bench").token
    finally:
        app.close()
    return Prepared(codes[:batteries], key, jobs, maker_key, recycler)


# ------------------------------------------------------------------------------ servers


# Both servers run as ``serve`` runs the service: uvicorn with the service's HTTP protocol, which
# sets TCP_NODELAY on each connection (``trace/api/http_protocol.py``; without it, two workers or
# more wait ~40 ms per keep-alive response). uvicorn's command line cannot name a protocol class.
RUNNER = (
    "import sys, uvicorn; uvicorn.run(sys.argv[1], factory=True, host='127.0.0.1', port=int(sys.argv[2]), "
    "workers=int(sys.argv[3]), log_level='warning', timeout_graceful_shutdown=20, http=sys.argv[4])"
)


@contextmanager
def uvicorn_server(
    factory: str, workers: int, env: dict[str, str], ready_path: str
) -> Iterator[tuple[str, int]]:
    """uvicorn serving FACTORY on a free port, as ``serve`` runs it; yields its URL and pid."""
    port = free_port()
    command = [sys.executable, "-c", RUNNER, factory, str(port), str(workers), PROBLEM_PROTOCOL]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{factory} exited: {log.read().decode(errors='replace')}")
                try:
                    if httpx.get(url + ready_path, timeout=2).status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    log.seek(0)
                    said = log.read().decode(errors="replace")[-1500:]
                    raise RuntimeError(f"{factory} did not start within {START_SECONDS} s: {said}")
                time.sleep(0.1)
            yield url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def follower_beside(env: dict[str, str]) -> Iterator[None]:
    """The view follower process ``serve`` starts (``cli/follower.py``), for the same store."""
    supervisor = FollowerSupervisor(env={**os.environ, **env})
    supervisor.start()
    try:
        yield
    finally:
        supervisor.stop()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    queue.extend(int(child) for child in children.read().split())
        except OSError:
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes: psutil when installed (portable), else
    /proc/<pid>/stat (Linux), so the benchmark needs no extra package on the CI image."""
    try:
        import psutil
    except ImportError:
        return _proc_cpu_seconds(pids)
    seconds = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        seconds += times.user + times.system
    return seconds


def _proc_cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------ the load
@dataclass
class RunFigures:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu: float
    client_cpu: float
    exhausted: bool
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        return {0.5: self.p50_ms, 0.99: self.p99_ms}[share]


def quantile_ms(latencies_ms: list[float], share: float) -> float:
    if len(latencies_ms) < 2:
        return latencies_ms[0] if latencies_ms else float("nan")
    return statistics.quantiles(latencies_ms, n=1000, method="inclusive")[round(share * 1000) - 1]


async def drive(
    url: str, key: str, codes: Iterator[str], clients: int, seconds: float, server_pid: int
) -> RunFigures:
    """``clients`` tasks scanning the next battery each, for ``seconds``, after a warm-up."""
    path = f"/api/v1/collection-points/{POINT}/scans"
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {key}"}
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    state: dict[str, Any] = {"errors": 0, "exhausted": False, "first_error": None}

    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30.0) as client:

        async def scanner(until: float, record: bool) -> None:
            while loop.time() < until:
                code = next(codes, None)
                if code is None:
                    state["exhausted"] = True
                    return
                body = {"text": code, "client_scan_id": uuid.uuid4().hex}
                started = time.perf_counter()
                try:
                    answer = await client.post(path, json=body)
                    failed = answer.status_code not in (200, 201)
                    why = f"{answer.status_code} {answer.text[:200]}"
                except httpx.HTTPError as error:
                    failed, why = True, repr(error)
                if not record:
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if failed:
                    state["errors"] += 1
                    state["first_error"] = state["first_error"] or why

        warm_until = loop.time() + WARMUP_SECONDS
        await asyncio.gather(*(scanner(warm_until, False) for _ in range(clients)))
        pids = process_tree(server_pid)
        cpu_before, client_before = cpu_seconds(pids), time.process_time()
        started = time.perf_counter()
        until = loop.time() + seconds
        await asyncio.gather(*(scanner(until, True) for _ in range(clients)))
        elapsed = time.perf_counter() - started
        server_cpu = (cpu_seconds(pids) - cpu_before) / elapsed
        client_cpu = (time.process_time() - client_before) / elapsed
    return RunFigures(
        requests=len(latencies),
        errors=state["errors"],
        seconds=elapsed,
        p50_ms=quantile_ms(latencies, 0.5),
        p99_ms=quantile_ms(latencies, 0.99),
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        exhausted=state["exhausted"],
        first_error=state["first_error"],
    )


WRK_SCRIPT = ROOT / "bench" / "scan.lua"
MIX_SCRIPT = ROOT / "bench" / "writes.lua"
WARMUP_CODES = 1000
SCANS_PER_SECOND_AT_MOST = 2000  # per worker: the batteries prepared for a run (more cost only set-up)


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


@dataclass
class WrkLoad:
    """A wrk script and what it is given: its input lines (the first ``WARMUP_CODES`` warm the
    server up, the measured run takes the rest; None: made-up codes, for the bare app), the path
    it is pointed at, and its arguments after the source for a run id."""

    script: Path
    path: str
    lines: list[str] | None
    args: Callable[[str], list[str]]


def scan_load(key: str, codes: list[str] | None) -> WrkLoad:
    """Scans of distinct retired batteries (``bench/scan.lua``)."""
    return WrkLoad(WRK_SCRIPT, f"/api/v1/collection-points/{POINT}/scans", codes, lambda run: [key, run, "1"])


def mix_load(prepared: Prepared, *, bare: bool = False) -> WrkLoad:
    """Scans, installs, retirements and hand-overs in turn (``bench/writes.lua``)."""
    lines = None if bare else [f"{kind} {code}" for kind, code in prepared.jobs]
    recycler = prepared.recycler

    def args(run: str) -> list[str]:
        return [prepared.key, prepared.maker_key, run, POINT, VIN, recycler]

    return WrkLoad(MIX_SCRIPT, "/", lines, args)


def drive_wrk(url: str, load: WrkLoad, clients: int, seconds: float, server_pid: int) -> RunFigures:
    """The load from ``wrk`` (a C program, one thread, ``clients`` connections), so the load
    generator takes little of the cores the server runs on. The first ``WARMUP_CODES`` lines warm
    the server up; the measured run takes the rest."""
    with tempfile.TemporaryDirectory() as folder:
        sources = ["fake", "fake"]
        if load.lines is not None:
            sources = []
            for name, part in (("warm", load.lines[:WARMUP_CODES]), ("run", load.lines[WARMUP_CODES:])):
                path = Path(folder) / f"{name}.txt"
                path.write_text("\n".join(part) + "\n", encoding="ascii")
                sources.append(str(path))

        def run(source: str, duration: float) -> tuple[dict[str, Any], float]:
            command = [
                "wrk", "-t", "1", "-c", str(clients), "-d", f"{max(1, round(duration))}s",
                "--timeout", "30s", "--latency", "-s", str(load.script), url + load.path,
                "--", source, *load.args(uuid.uuid4().hex[:12]),
            ]  # fmt: skip
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - started
            line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
            if done.returncode != 0 or line is None:
                raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
            return json.loads(line.removeprefix("WRK_JSON ")), elapsed

        run(sources[0], WARMUP_SECONDS)
        pids = process_tree(server_pid)
        cpu_before, client_before = cpu_seconds(pids), _children_cpu_seconds()
        result, elapsed = run(sources[1], seconds)
        server_cpu = (cpu_seconds(pids) - cpu_before) / elapsed
        client_cpu = (_children_cpu_seconds() - client_before) / elapsed
    failures = result["non_2xx"] + result["socket_errors"]
    return RunFigures(
        requests=result["requests"],
        errors=failures,
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        exhausted=bool(result["exhausted"]),
        first_error=result["first_failure"] or None,
    )


def _children_cpu_seconds() -> float:
    """CPU time of finished child processes (wrk), to report the load generator's share."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------------------ one store
@dataclass
class LedgerCost:
    """Issue 15: the scan rate with the tamper-evidence log on (the measured scan run) against
    runs with it off just before and just after (the mean of the two, so that the store's growth
    and the machine's warming weigh on both sides alike)."""

    with_log: RunFigures
    without_log: list[RunFigures]

    @property
    def rate_without(self) -> float:
        return statistics.mean(r.rate for r in self.without_log)

    @property
    def ratio(self) -> float:
        return self.with_log.rate / self.rate_without


@dataclass
class StoreFigures:
    """One store's runs: the scans and, when measured, the mixed writes, each with the bare app
    under the same load."""

    store: str
    scan: RunFigures
    bare: RunFigures
    mix: RunFigures | None = None
    mix_bare: RunFigures | None = None
    ledger: LedgerCost | None = None

    @property
    def ratio(self) -> float:
        return self.scan.rate / self.bare.rate

    def runs(self) -> list[tuple[str, RunFigures, RunFigures]]:
        """(load, service, bare app) for each load measured: "scan", then "mix"."""
        found = [("scan", self.scan, self.bare)]
        if self.mix is not None and self.mix_bare is not None:
            found.append(("mix", self.mix, self.mix_bare))
        return found


def measure(
    store: str,
    clients: int,
    seconds: float,
    workers: int,
    batteries: int,
    generator: str,
    profiles: Profiles | None = None,
    *,
    mixed: bool = True,
    ledger_cost: bool = False,
) -> StoreFigures:
    """The service and the bare app under the same loads: scans, then (``mixed``, with wrk) the
    mixed writes on as many batteries again; with ``profiles``, the service is sampled by py-spy
    while the loads run (``bench/profiling.py``). ``ledger_cost`` (wrk only): the scans also run
    with the follower's tamper-evidence log turned off (``BATTERYTRACE_LEDGER=off``), before and
    after the measured run with it on, each on batteries of its own (see ``LedgerCost``)."""
    profiles = profiles or Profiles(None)
    mixed = mixed and generator == "wrk"
    ledger_cost = ledger_cost and generator == "wrk"
    parts = 3 if ledger_cost else 1
    with fresh_store(store) as database_url:
        prepared_at = time.perf_counter()
        prepared = prepare(database_url, batteries * parts, batteries // len(KINDS) if mixed else 0)
        slices = [prepared.codes[i * batteries : (i + 1) * batteries] for i in range(parts)]
        print(
            f"[{store}] {batteries + len(prepared.jobs)} batteries produced and brought to the states the "
            f"loads need in {time.perf_counter() - prepared_at:.1f} s",
            file=sys.stderr,
        )
        # As ``serve`` runs it: HTTP workers without a follower, the follower a process beside them.
        env = {"BATTERYTRACE_DATABASE_URL": database_url, "BATTERYTRACE_NO_PROJECTIONS": "1"}
        mix = mix_bare = None
        cost = None
        # /readyz waits for the views, which only the follower beside builds: with the log's cost
        # measured, the followers come and go around a running server, so it starts on /healthz
        # and each run waits for its follower to catch up (``wait_for_views``).
        ready = "/healthz" if ledger_cost else "/readyz"
        with uvicorn_server(SERVICE_FACTORY, workers, env, ready) as (url, pid):
            if ledger_cost:
                without = [drive_wrk_without_ledger(url, prepared.key, slices[0], clients, seconds, pid, env)]
            with follower_beside(env), profiles.other_process(f"P2-{store}", pid):
                if generator == "wrk":
                    if ledger_cost:
                        wait_for_views(database_url)  # the log caught up on the run without it
                    scan = drive_wrk(
                        url, scan_load(prepared.key, slices[-1 if ledger_cost else 0]), clients, seconds, pid
                    )
                    if mixed:
                        mix = drive_wrk(url, mix_load(prepared), clients, seconds, pid)
                else:
                    scan = asyncio.run(drive(url, prepared.key, iter(prepared.codes), clients, seconds, pid))
            if ledger_cost:
                without.append(
                    drive_wrk_without_ledger(url, prepared.key, slices[1], clients, seconds, pid, env)
                )
                cost = LedgerCost(scan, without)
        with uvicorn_server(BARE_FACTORY, workers, {}, "/docs") as (url, pid):
            if generator == "wrk":
                bare = drive_wrk(url, scan_load(prepared.key, None), clients, seconds, pid)
                if mixed:
                    mix_bare = drive_wrk(url, mix_load(prepared, bare=True), clients, seconds, pid)
            else:
                fake = (f"3CAPB{n:019d}" for n in range(10**9))  # the bare app does not look codes up
                bare = asyncio.run(drive(url, prepared.key, fake, clients, seconds, pid))
    for load, run in (("scan", scan), ("mix", mix)):
        if run is not None and run.exhausted:
            print(
                f"[{store}] note: the {load} load used up its batteries before the time was up "
                "(later requests repeated codes and were refused; give --batteries)",
                file=sys.stderr,
            )
        if run is not None and run.first_error:
            print(f"[{store}] first {load} error: {run.first_error}", file=sys.stderr)
    return StoreFigures(store, scan, bare, mix, mix_bare, cost)


def drive_wrk_without_ledger(
    url: str, key: str, codes: list[str], clients: int, seconds: float, server_pid: int, env: dict[str, str]
) -> RunFigures:
    """The scan load with the view follower running every view but the tamper-evidence log."""
    with follower_beside({**env, "BATTERYTRACE_LEDGER": "off"}):
        wait_for_views(env["BATTERYTRACE_DATABASE_URL"], ledger=False)
        return drive_wrk(url, scan_load(key, codes), clients, seconds, server_pid)


def wait_for_views(database_url: str, timeout: float = START_SECONDS, *, ledger: bool = True) -> None:
    """Until every view (but the log, unless ``ledger``) holds every stored event: the follower
    beside has caught up."""
    from batterytrace.projections.runner import ViewRunner
    from batterytrace.trace.application import BatteryTrace
    from batterytrace.trace.settings import Settings

    app = BatteryTrace(Settings(database_url=database_url))
    runner = ViewRunner(app)
    try:
        deadline = time.monotonic() + timeout
        while any(s.lag for s in runner.status() if ledger or s.view != "ledger"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the views did not catch up within {timeout:g} s")
            time.sleep(0.2)
    finally:
        runner.engine.dispose()
        app.close()


def choose_generator(asked: str) -> str:
    """``wrk`` where installed (``auto``), else the Python client, saying so."""
    if asked == "python" or (asked == "auto" and not wrk_available()):
        if asked == "auto":
            print(
                "note: wrk is not installed (scripts/setup installs it); using the Python client, which "
                "competes with the server for the cores and holds the bare app far below its rate",
                file=sys.stderr,
            )
        return "python"
    if not wrk_available():
        raise SystemExit("--client wrk: wrk is not installed (apt-get install wrk, or bash scripts/setup)")
    return "wrk"


def json_rows(figures: list[StoreFigures]) -> list[dict[str, Any]]:
    """Five rows per load and store: ``scan_*`` for the scans, ``mix_*`` for the mixed writes."""
    rows: list[dict[str, Any]] = []
    for f in figures:
        for load, run, bare in f.runs():
            ratio = run.rate / bare.rate
            p99, bare_p99 = run.percentile(0.99), bare.percentile(0.99)
            p50, bare_p50 = run.percentile(0.5), bare.percentile(0.5)
            rows += [
                figure(
                    f"{load}_rate",
                    f.store,
                    run.rate,
                    "req/s",
                    baseline=bare.rate,
                    ratio=ratio,
                    goal=f">= {GOAL_RATIO} x baseline",
                    ok=ratio >= GOAL_RATIO,
                ),
                figure(
                    f"{load}_p99",
                    f.store,
                    p99,
                    "ms",
                    baseline=bare_p99,
                    ratio=p99 / bare_p99,
                    goal=f"<= {GOAL_P99_MS:g} ms",
                    ok=p99 <= GOAL_P99_MS,
                ),
                figure(f"{load}_p50", f.store, p50, "ms", baseline=bare_p50, ratio=p50 / bare_p50),
                figure(
                    f"{load}_errors",
                    f.store,
                    run.errors,
                    "requests",
                    baseline=bare.errors,
                    goal="0",
                    ok=run.errors == 0,
                ),
                figure(
                    f"{load}_server_cpu",
                    f.store,
                    run.server_cpu,
                    "cores",
                    baseline=bare.server_cpu,
                    ratio=run.server_cpu / bare.server_cpu if bare.server_cpu else None,
                ),
            ]
        if f.ledger is not None:
            rows.append(
                figure(
                    "scan_rate_log_on_vs_off",
                    f.store,
                    f.ledger.with_log.rate,
                    "req/s",
                    baseline=f.ledger.rate_without,
                    ratio=f.ledger.ratio,
                    goal=f">= {GOAL_LEDGER_RATIO} x without the log",
                    ok=f.ledger.ratio >= GOAL_LEDGER_RATIO,
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--batteries", type=int, default=0, help="Retired batteries to prepare (default: enough for the run)."
    )
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="Load generator: wrk (C, default where installed) or the Python client.",
    )
    parser.add_argument(
        "--no-mix",
        action="store_true",
        help="Scans only, without the mixed writes (install, retire, hand-over).",
    )
    parser.add_argument(
        "--ledger-cost",
        action="store_true",
        help="Also scan with the tamper-evidence log off, before and after, to show what it costs.",
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as a JSON array last.")
    args = parser.parse_args()
    generator = choose_generator(args.client)
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    per_run = int(SCANS_PER_SECOND_AT_MOST * args.workers * (args.seconds + WARMUP_SECONDS))
    batteries = args.batteries or per_run + WARMUP_CODES + 1000
    figures = [
        measure(
            s,
            args.clients,
            args.seconds,
            args.workers,
            batteries,
            generator,
            mixed=not args.no_mix,
            ledger_cost=args.ledger_cost,
        )
        for s in stores
    ]
    print(
        f"{generator}: {args.clients} connections, {args.seconds:g} s each, {args.workers} worker(s)"
        ", "
        f"{os.cpu_count()} cores; "
        f"goals: service/bare >= {GOAL_RATIO}, service p99 <= {GOAL_P99_MS:g} ms"
    )
    print(
        f"{'store':<9} {'load':<5} {'app':<8} {'requests':>8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'server cpu':>10} {'client cpu':>10}"
    )
    for f in figures:
        for load, service, bare in f.runs():
            for name, run in (("service", service), ("bare", bare)):
                print(
                    f"{f.store:<9} {load:<5} {name:<8} {run.requests:>8} {run.rate:>8,.0f} "
                    f"{run.percentile(0.5):>7.1f} {run.percentile(0.99):>7.1f} {run.errors:>6} "
                    f"{run.server_cpu:>10.2f} {run.client_cpu:>10.2f}"
                )
            ratio, p99 = service.rate / bare.rate, service.percentile(0.99)
            met = ratio >= GOAL_RATIO and p99 <= GOAL_P99_MS and not service.errors
            print(
                f"{f.store:<9} {load:<5} ratio service/bare {ratio:.2f}  p99 {p99:.1f} ms  -> "
                f"{'ok' if met else 'MISSED'}"
            )
        if f.ledger is not None:
            print(
                f"{f.store:<9} scan  with the log {f.ledger.with_log.rate:,.0f} req/s, without "
                + " / ".join(f"{r.rate:,.0f}" for r in f.ledger.without_log)
                + f" req/s: ratio {f.ledger.ratio:.3f} (goal >= {GOAL_LEDGER_RATIO})"
            )
    if args.json:
        print(json.dumps(json_rows(figures)))


if __name__ == "__main__":
    main()
