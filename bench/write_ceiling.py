"""P8: the write ceiling of one event store — how many battery writes per second one primary takes.

Issue 16 calls this metric P7; P7 was already the EPCIS export (``bench/epcis_export.py``) when
it was built, so it runs as P8 (``python -m bench --only P8``).

Why it is measured this way: the ``eventsourcing`` PostgreSQL recorder takes ``LOCK TABLE …
IN EXCLUSIVE MODE`` in every insert transaction (notification order must be commit order, or the
views' followers could skip an event), so one store's writes are serial whatever the number of
clients; SQLite serialises writers with its file lock. Concurrency then buys only the overlap of
the clients' own work (loading, deciding, encoding) with one another's transactions; batching
pays the transaction's fixed cost (round trips, lock, commit, fsync) once for many batteries.

Rows, per store, from one run (each client is a process of its own with its own application, as
service workers are; clients start together at a barrier; rate = all writes / wall time):

- ``P8_library_save_c{N}``: the baseline — the library's own ``Application.save`` of one bare
  aggregate (one event, one transaction) per call, N clients;
- ``P8_single_c{N}``: hand-overs of one battery each through the application service
  (``BatteryTrace.execute(HandOver)``: load the battery and the receiver, decide, save), N
  clients; baseline: the library's save at the same N;
- ``P8_batch{B}_c{N}``: batteries handed over per second in batches of B
  (``BatteryTrace.execute_batch``: one command, one transaction); baseline as above;
- ``P8_db_functions_c{N}`` (PostgreSQL): the library's save with ``POSTGRES_ENABLE_DB_FUNCTIONS``
  (one function call instead of a pipelined transaction), baseline: the same save without. In
  eventsourcing 9.5.6 that function inserts *without* the table lock (``postgres.py``:
  ``es_insert_events_*`` sets ``lock_timeout`` and NOTIFYs, but takes no ``LOCK TABLE``), so
  concurrent writers may commit notification ids out of order and a view follower reading past a
  gap would skip an event for good: whatever it measures, it is not safe for this service's
  exactly-once views, and the service leaves it off.

No goals: these are the figures README's sizing table is made from. ``--quick`` runs 1 and 4
clients with a few hundred writes each: indicative only.

    python -m bench.write_ceiling [--quick] [--store sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.application import Application

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import Battery, ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import HandOver
from batterytrace.events.credit_code import credit_code_check_character
from batterytrace.store import eventsourcing_env
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.batches import Batch
from batterytrace.trace.settings import Settings
from bench.import_rate import BareAggregate
from bench.results import figure
from bench.stores import fresh_store, register_manufacturer, register_outlet_and_recycler


@dataclass(frozen=True)
class Plan:
    """How much each level writes."""

    clients: tuple[int, ...]  # single writes and the library's save at each of these
    writes_per_level: int  # single writes per client count, spread over the clients
    batch_sizes: tuple[int, ...]
    batch_clients: tuple[int, ...]
    batteries_per_batch_level: int  # batteries handed over in batches, per (size, clients)


FULL = Plan((1, 4, 16, 32), 3000, (10, 100), (1, 4), 10_000)
QUICK = Plan((1, 4), 200, (10, 100), (1, 4), 800)
PRODUCED_ON = datetime(2024, 7, 15, 10, tzinfo=CHINA_STANDARD_TIME)
RETIRED_AT = datetime(2025, 6, 1, 10, tzinfo=CHINA_STANDARD_TIME)
COLLECTED_AT = datetime(2025, 6, 15, 10, tzinfo=CHINA_STANDARD_TIME)
POINT = "CP-110105-0001"
PREPARE_CHUNK = 500


def _credit(first17: str) -> str:
    return first17 + credit_code_check_character(first17)


OUTLET = _credit("91110105MA0000004")
RECYCLER = _credit("91360700MA3500006")


# ------------------------------------------------------------------------------- the store
def prepare_store(url: str) -> str:
    """The participants a hand-over needs: a manufacturer, an outlet with its point, a
    whitelisted recycler. Returns the manufacturer's id."""
    app = BatteryTrace(Settings(database_url=url))
    try:
        maker = register_manufacturer(app)
        regulator = app.regulators()[0].id
        register_outlet_and_recycler(
            app, regulator, operator=OUTLET, recycler=RECYCLER, point=POINT, capacity_kg=5000
        )
    finally:
        app.close()
    return maker


def collected_batteries(url: str, maker_id: str, first_serial: int, count: int) -> list[str]:
    """``count`` packs made, retired by their maker and taken in at the bench point, ready to be
    handed over; built in memory and saved ``PREPARE_CHUNK`` at a time (preparation is not timed)."""
    app = BatteryTrace(Settings(database_url=url))
    try:
        maker, outlet = app.participant(maker_id), app.participant(OUTLET)
        point = app.collection_point(POINT)
        codes: list[str] = []
        for start in range(first_serial, first_serial + count, PREPARE_CHUNK):
            made = []
            for serial in range(start, min(start + PREPARE_CHUNK, first_serial + count)):
                spec = ProductionSpec(
                    code=make_battery_code("3CA", "P", "B", "12", "0A1B2C3", PRODUCED_ON.date(), serial),
                    rated_capacity_ah=150,
                    nominal_voltage_v=100,
                    energy_kwh=15,
                    mass_kg=110,
                    occurred_at=PRODUCED_ON,
                )
                battery = Battery.produce(spec, actor=maker, code_owner_id=maker.id, today=app.today())
                battery.retire(actor=maker, occurred_at=RETIRED_AT, reason="bench")
                battery.collect(actor=outlet, collection_point=point, occurred_at=COLLECTED_AT)
                made.append(battery)
            app.commit(*made)
            codes += [b.code for b in made]
        return codes
    finally:
        app.close()


# ------------------------------------------------------------------------------ the clients
def _hand_over(code: str) -> HandOver:
    return HandOver(actor_id=OUTLET, code=code, receiver_id=RECYCLER, activity="recycling")


def _single_client(url: str, work: list[Any]) -> Callable[[], int]:
    app = BatteryTrace(Settings(database_url=url))
    actor = app.participant(OUTLET)  # the API's authentication has it already
    return lambda: sum(bool(app.execute(_hand_over(code), actor=actor).events) for code in work)


def _batch_client(url: str, work: list[Any]) -> Callable[[], int]:
    app = BatteryTrace(Settings(database_url=url))
    actor = app.participant(OUTLET)

    def run() -> int:
        done = 0
        for codes in work:
            batch = Batch(actor_id=OUTLET, collection_point_id=POINT, commands=tuple(map(_hand_over, codes)))
            done += len(app.execute_batch(batch, actor=actor).write.events)
        return done

    return run


def library_env(url: str, *, db_functions: bool = False, create: bool = False) -> dict[str, str]:
    """The library's own settings for the store (its own recorder, not the service's)."""
    env = {**eventsourcing_env(url), "CREATE_TABLE": "y" if create else "n", "POSTGRES_POOL_SIZE": "1"}
    if db_functions:
        env["POSTGRES_ENABLE_DB_FUNCTIONS"] = "y"
    return env


def create_library_tables(url: str, *, db_functions: bool = False) -> None:
    """Tables (and the insert function) made once, before the clients start: clients creating
    them at the same moment collide in PostgreSQL's catalogue."""
    Application(env=library_env(url, db_functions=db_functions, create=True)).close()


def _library_client(url: str, work: list[Any], db_functions: bool = False) -> Callable[[], int]:
    app = Application(env=library_env(url, db_functions=db_functions))

    def run() -> int:
        for code in work:
            app.save(BareAggregate(code=code))
        return len(work)

    return run


CLIENTS: dict[str, Callable[..., Callable[[], int]]] = {
    "single": _single_client,
    "batch": _batch_client,
    "library": _library_client,
    "db_functions": lambda url, work: _library_client(url, work, db_functions=True),
}


def _client(kind: str, url: str, work: list[Any], barrier: Any, results: Any) -> None:
    """One client process: open its application, wait for the others, write, report. Each
    client is one thread, so one connection: 32 clients with the default pool of 5 would ask
    PostgreSQL for more than its 100 connections."""
    os.environ["BATTERYTRACE_POSTGRES_POOL_SIZE"] = "1"
    try:
        run = CLIENTS[kind](url, work)
        barrier.wait(timeout=300)
        started = time.monotonic()
        written = run()
        results.put((written, started, time.monotonic(), None))
    except Exception as error:  # reported to the parent, which fails the row
        barrier.abort()
        results.put((0, 0.0, 0.0, f"{type(error).__name__}: {error}"))


def concurrent_rate(kind: str, url: str, shares: list[list[Any]]) -> float:
    """Writes per second of ``len(shares)`` client processes, each writing its share, started
    together: all writes over the wall time from the first start to the last finish."""
    context = multiprocessing.get_context("fork")  # cheap; no connection is open in this process
    barrier = context.Barrier(len(shares))
    results = context.Queue()
    processes = [
        context.Process(target=_client, args=(kind, url, share, barrier, results)) for share in shares
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=1800) for _ in processes]
    for process in processes:
        process.join()
    errors = sorted((error for *_, error in reports if error), key=lambda e: e.startswith("BrokenBarrier"))
    if errors:
        raise RuntimeError(f"{kind} client failed: {errors[0]}")
    written = sum(report[0] for report in reports)
    expected = sum(len(item) if kind == "batch" else 1 for share in shares for item in share)
    if written != expected:
        raise RuntimeError(f"{kind}: {written} writes recorded, {expected} expected")
    return written / (max(r[2] for r in reports) - min(r[1] for r in reports))


def split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts)]


def chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# ------------------------------------------------------------------------------- measuring
def measure(store: str, plan: Plan) -> dict[str, float]:
    """Every rate of ``plan`` on a fresh store of kind ``store``, keyed as the rows' metrics."""
    rates: dict[str, float] = {}
    with fresh_store(store) as url:
        create_library_tables(url)
        for clients in plan.clients:
            ids = [f"bench-{clients}-{i}" for i in range(plan.writes_per_level)]
            rates[f"library_save_c{clients}"] = concurrent_rate("library", url, split(ids, clients))
    if store == "postgres":
        with fresh_store(store) as url:
            create_library_tables(url, db_functions=True)
            for clients in plan.clients:
                ids = [f"dbf-{clients}-{i}" for i in range(plan.writes_per_level)]
                rates[f"db_functions_c{clients}"] = concurrent_rate("db_functions", url, split(ids, clients))
    with fresh_store(store) as url:
        maker = prepare_store(url)
        serial = 1
        for clients in plan.clients:
            codes = collected_batteries(url, maker, serial, plan.writes_per_level)
            serial += plan.writes_per_level
            rates[f"single_c{clients}"] = concurrent_rate("single", url, split(codes, clients))
        for size in plan.batch_sizes:
            for clients in plan.batch_clients:
                codes = collected_batteries(url, maker, serial, plan.batteries_per_batch_level)
                serial += plan.batteries_per_batch_level
                shares = split(chunks(codes, size), clients)
                rates[f"batch{size}_c{clients}"] = concurrent_rate("batch", url, shares)
    return rates


def json_rows(store: str, rates: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for name, rate in rates.items():
        clients = name.rsplit("_c", 1)[1]
        if name.startswith("library_save"):
            rows.append(figure(f"P8_{name}", store, rate, "writes/s"))
            continue
        baseline = rates[f"library_save_c{clients}"]
        unit = "batteries/s" if name.startswith("batch") else "writes/s"
        rows.append(figure(f"P8_{name}", store, rate, unit, baseline=baseline, ratio=rate / baseline))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog="Figures from a busy machine are indicative only."
    )
    parser.add_argument("--quick", action="store_true", help="1 and 4 clients, a few hundred writes.")
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    from bench.results import print_table

    rows = []
    for store in ("sqlite", "postgres") if args.store == "both" else (args.store,):
        rows += json_rows(store, measure(store, QUICK if args.quick else FULL))
    print_table(rows, "P8: the write ceiling")


if __name__ == "__main__":
    main()
