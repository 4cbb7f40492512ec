"""P4 rebuild and P3 lookup: projection rebuild rate against reading the same events raw, and one
battery's lifecycle lookup at two store sizes.

    python -m bench.rebuild_rate [--batteries 100000] [--small 10000] [--store sqlite|postgres|both]
                                 [--breakdown] [--per-view]

The baseline reads every notification of the store in batches of 1,000, without decoding or
applying it. The rebuild is ``ViewRunner.rebuild()`` of every default view: set-wise for the views
that have a builder (``projections/rebuild.py``), through the follower's path for the others.
Lookups time ``queries.battery_lifecycle`` for random codes (median of many), at ``--small``
batteries and at ``--batteries``.

``--breakdown`` also times the set-wise rebuild's steps one by one on the large store (CPU time
of this process, microseconds per event): reading, decoding, and each view's folding and
writing, so that a miss says which step to work on.

``--per-view`` also rebuilds each view alone on the large store (``projections rebuild NAME``,
what a release that changes one view's tables does) and prints its rate and its ratio to the raw
read: which view bounds the rebuild of all of them.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from batterytrace.demo.national import generate_demo
from batterytrace.projections.queries import battery_lifecycle
from batterytrace.projections.runner import DEFAULT_BATCH_SIZE, ViewRunner
from batterytrace.projections.tables import lifecycle_batteries
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from bench.results import figure
from bench.stores import fresh_store

GOAL_REBUILD_RATIO = 0.25  # issue 13 (stretch: 0.5)
GOAL_LOOKUP_GROWTH = 1.5


@dataclass
class StoreFigures:
    store: str
    batteries: int
    events: int
    raw_read_rate: float
    rebuild_rate: float
    lookup_ms: float

    @property
    def ratio(self) -> float:
        return self.rebuild_rate / self.raw_read_rate


def raw_read_rate(app: BatteryTrace, batch_size: int = DEFAULT_BATCH_SIZE) -> float:
    started = time.perf_counter()
    count, start = 0, 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=batch_size)
        if not page:
            break
        count += len(page)
        start = page[-1].id + 1
    return count / (time.perf_counter() - started)


def lookup_ms(runner: ViewRunner, samples: int = 300, seed: int = 1) -> float:
    with runner.engine.connect() as connection:
        codes = list(connection.execute(select(lifecycle_batteries.c.code)).scalars())
    rng = random.Random(seed)
    picked = [rng.choice(codes) for _ in range(samples)]
    timings = []
    for code in picked:
        started = time.perf_counter()
        assert battery_lifecycle(runner.engine, code) is not None
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def measure(store: str, batteries: int, *, breakdown: bool = False, per_view: bool = False) -> StoreFigures:
    with fresh_store(store) as url:
        app = BatteryTrace(Settings(database_url=url))
        generate_demo(app, seed=11, batteries=batteries)
        events = app.recorder.max_notification_id() or 0
        raw = raw_read_rate(app)
        runner = ViewRunner(app)
        started = time.perf_counter()
        runner.rebuild()
        rebuild = events / (time.perf_counter() - started)
        lookup = lookup_ms(runner)
        if breakdown:
            for step, micros in rebuild_steps(app, runner).items():
                print(f"  {store} {step:<28} {micros:7.2f} us/event")
        if per_view:
            for name, rate in view_rates(runner, events).items():
                print(f"  {store} {name + ' alone':<28} {rate:9,.0f} events/s  ratio {rate / raw:.3f}")
        runner.engine.dispose()
        app.close()
    return StoreFigures(store, batteries, events, raw, rebuild, lookup)


def view_rates(runner: ViewRunner, events: int) -> dict[str, float]:
    """Events/s of rebuilding each of ``runner``'s views alone (one process: a single view has
    nothing to share the fold with)."""
    rates = {}
    for name in runner.views:
        started = time.perf_counter()
        runner.rebuild([name])
        rates[name] = events / (time.perf_counter() - started)
    return rates


def rebuild_steps(app: BatteryTrace, runner: ViewRunner) -> dict[str, float]:
    """CPU microseconds per event of each step of a set-wise rebuild, run step by step into
    throwaway fresh tables (which are dropped after), and of each follower-path view's rebuild."""
    clock = time.process_time
    steps: dict[str, float] = {}
    gc.disable()  # as the rebuild does (projections/rebuild.py)
    try:
        _time_steps(app, runner, steps, clock)
    finally:
        gc.enable()
    return steps


def _time_steps(app: BatteryTrace, runner: ViewRunner, steps: dict[str, float], clock: Any) -> None:
    from batterytrace.projections.fresh_tables import FreshTables
    from batterytrace.projections.rebuild import PAGE_SIZE, has_setwise_rebuild
    from batterytrace.projections.stored_decoding import decode_all, fast_decoder
    from batterytrace.projections.tables import VIEW_TABLES

    started, pages, start = clock(), [], 1
    while page := app.recorder.select_notifications(start=start, limit=PAGE_SIZE):
        pages.append(page)
        start = page[-1].id + 1
    events = sum(map(len, pages)) or 1
    steps["read"] = clock() - started
    decode = fast_decoder(app.mapper)
    started = clock()
    decoded = [decode_all(decode, page) for page in pages]
    steps["decode"] = clock() - started
    for name, view in runner.views.items():
        if not has_setwise_rebuild(view):
            started = clock()
            runner.rebuild([name])
            steps[f"{name} (follower path, all)"] = clock() - started
            continue
        fresh = FreshTables(runner.engine, VIEW_TABLES[name])
        fresh.create()
        try:
            writes = _timed_writes(fresh)
            builder = view.builder(fresh)  # type: ignore[attr-defined]
            started = clock()
            for page in decoded:
                builder.add(page)
            builder.finish()
            total = clock() - started
            steps[f"{name} fold"] = total - writes[0]
            steps[f"{name} write"] = writes[0]
        finally:
            fresh.drop()
    for step, seconds in steps.items():
        steps[step] = seconds / events * 1e6


def _timed_writes(fresh: Any) -> list[float]:
    """Make ``fresh.write`` and ``fresh.write_tuples`` (the ledger's way) add their CPU time to
    the returned one-element list."""
    spent = [0.0]

    def timed(write: Any) -> Any:
        def timed_write(*args: Any, **kwargs: Any) -> None:
            started = time.process_time()
            write(*args, **kwargs)
            spent[0] += time.process_time() - started

        return timed_write

    fresh.write = timed(fresh.write)
    fresh.write_tuples = timed(fresh.write_tuples)
    return spent


def json_rows(small: StoreFigures, large: StoreFigures) -> list[dict[str, Any]]:
    """P3 from both sizes (lookup time at the large store over the small one), P4 from the large."""
    growth = large.lookup_ms / small.lookup_ms
    return [
        figure(
            f"P3_lookup_{large.batteries // 1000}k_vs_{small.batteries // 1000}k",
            large.store,
            large.lookup_ms,
            "ms",
            baseline=small.lookup_ms,
            ratio=growth,
            goal=f"<= {GOAL_LOOKUP_GROWTH} x",
            ok=growth <= GOAL_LOOKUP_GROWTH,
        ),
        figure(
            "P4_rebuild_rate",
            large.store,
            large.rebuild_rate,
            "events/s",
            baseline=large.raw_read_rate,
            ratio=large.ratio,
            goal=f">= {GOAL_REBUILD_RATIO} x baseline",
            ok=large.ratio >= GOAL_REBUILD_RATIO,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batteries", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--breakdown", action="store_true", help="Time the rebuild's steps too.")
    parser.add_argument("--per-view", action="store_true", help="Rebuild each view alone too.")
    args = parser.parse_args()
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    print(
        f"{'store':<9} {'batteries':>9} {'events':>8} {'raw read ev/s':>13} {'rebuild ev/s':>12} "
        f"{'ratio':>6} {'lookup ms':>9}"
    )
    for store in stores:
        for size in (args.small, args.batteries):
            large = size == args.batteries
            f = measure(store, size, breakdown=args.breakdown and large, per_view=args.per_view and large)
            print(
                f"{f.store:<9} {f.batteries:>9} {f.events:>8} {f.raw_read_rate:>13,.0f} "
                f"{f.rebuild_rate:>12,.0f} {f.ratio:>6.3f} {f.lookup_ms:>9.2f}"
            )


if __name__ == "__main__":
    main()
