"""Every performance figure of issue 7 in one run: ``python -m bench``.

    python -m bench [--quick] [--store sqlite|postgres|both] [--json] [--only P1,P2,...]
                    [--profile DIR]

Each metric is measured by its own module (which keeps its own CLI); this runner picks the sizes,
runs them store by store, prints one table and, with ``--json``, one JSON array as the last line
of stdout (``metric, store, value, unit, baseline, ratio, goal, ok``).

P1 import rows/s vs the library saving bare aggregates (>= 0.6 x); P2 scans over HTTP with 16
clients vs a bare FastAPI endpoint (>= 0.25 x, p99 <= 50 ms; the server's CPU share is context),
and a mixed write load (scan, install, retire, hand-over: ``P2_mix_*``) against the same goals;
P3 one battery's lookup at the large store vs the small (<= 1.5 x); P4 view rebuild events/s vs
reading the same events raw (>= 0.25 x, issue 13); P5 peak RSS of ``batterytrace import`` on a file ten
times larger (<= 1.2 x and <= 300 MB); P6 ``batterytrace demo --batteries 1000000`` with views
built, on PostgreSQL (<= 10 min); P7 an EPCIS 2.0 export of the whole store vs reading its events
raw (>= 0.3 x) and the export CLI's peak RSS (<= 300 MB); P8 the write ceiling (issue 16's "P7",
renumbered: P7 was taken): single-battery hand-overs/s at 1, 4, 16 and 32 client processes and
batched hand-overs of 10 and 100, beside the library's single-event save at the same
concurrency, and the library's DB functions on PostgreSQL (``bench/write_ceiling.py``; no goals,
the figures README's sizing table is made from); P9 the tamper-evidence ledger's append when
rebuilt (>= 100,000 events/s, issue 15; ``bench/ledger_rate.py``), with its records, follower,
whole-rebuild and ``verify`` rates as context (what a store of any size takes to verify follows).

``--quick`` uses small sizes so that the whole run fits in about two and a half minutes on two cores: its
figures are indicative only: fixed costs weigh more, P3 compares 5k with 1k batteries, P5 compares
200k with 20k rows on the first store only, P6 is extrapolated linearly from 10,000 batteries
(20,000 alone took ~30 s quiet, up to 77 s on a busy machine: over the budget).
``--profile DIR`` profiles each measurement while it runs (cProfile in process, py-spy on the P2
server; ``bench/profiling.py``) and prints, under the table, where the time went for every missed
goal. A metric that fails to run is reported as a missed goal with its error, and the
others still run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import (
    demo_time,
    epcis_export,
    import_memory,
    import_rate,
    ledger_rate,
    rebuild_rate,
    scan_rate,
    write_ceiling,
)
from bench.profiling import Profiles
from bench.results import failed, json_line, print_table


@dataclass(frozen=True)
class Sizes:
    """How big each measurement is; the full sizes are the issue's."""

    import_rows: int
    scan_seconds: float
    scan_clients: int
    lookup_small: int
    lookup_large: int
    memory_small: int
    memory_large: int
    demo_batteries: int
    export_batteries: int
    ledger_batteries: int = 20_000  # P9 (bench/ledger_rate.py)


FULL = Sizes(100_000, 10.0, 16, 10_000, 100_000, 100_000, 1_000_000, 1_000_000, 100_000)
QUICK = Sizes(10_000, 3.0, 16, 1_000, 5_000, 20_000, 200_000, 10_000, 5_000, 2_000)
ALL_METRICS = ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9")
Rows = list[dict[str, Any]]


PROFILES = Profiles(None)  # replaced by main() when --profile is given


def p1(store: str, sizes: Sizes) -> Rows:
    with PROFILES.in_process(f"P1-{store}"):
        figures = import_rate.measure(store, sizes.import_rows, 500)
    return import_rate.json_rows(figures)


def p2(store: str, sizes: Sizes) -> Rows:
    per_run = scan_rate.SCANS_PER_SECOND_AT_MOST * (sizes.scan_seconds + scan_rate.WARMUP_SECONDS)
    batteries = int(per_run) + scan_rate.WARMUP_CODES + 1000
    generator = scan_rate.choose_generator("auto")
    figures = scan_rate.measure(
        store,
        sizes.scan_clients,
        sizes.scan_seconds,
        1,
        batteries,
        generator,
        profiles=PROFILES,
        ledger_cost=True,
    )
    rows = scan_rate.json_rows([figures])
    for row in rows:
        row["metric"] = "P2_" + row["metric"]
    return rows


def p3_p4(store: str, sizes: Sizes) -> Rows:
    small = rebuild_rate.measure(store, sizes.lookup_small)
    with PROFILES.in_process(f"P3-{store}"):
        large = rebuild_rate.measure(store, sizes.lookup_large)
    return rebuild_rate.json_rows(small, large)


def p9(store: str, sizes: Sizes) -> Rows:
    """The ledger: its append rate when rebuilding (issue 15: >= 100,000 events/s), with its
    records, follower, whole-rebuild and ``verify`` rates as context."""
    with PROFILES.in_process(f"P9-{store}"):
        figures = ledger_rate.measure(store, sizes.ledger_batteries)
    return ledger_rate.json_rows(figures)


def p7(store: str, sizes: Sizes) -> Rows:
    with PROFILES.in_process(f"P7-{store}"):
        figures = epcis_export.measure(store, sizes.export_batteries)
    return epcis_export.json_rows(figures)


def p8(store: str, sizes: Sizes) -> Rows:
    plan = write_ceiling.QUICK if sizes == QUICK else write_ceiling.FULL
    return write_ceiling.json_rows(store, write_ceiling.measure(store, plan))  # clients: child processes


def p5(store: str, sizes: Sizes) -> Rows:
    return import_memory.json_rows(import_memory.measure(store, sizes.memory_large, sizes.memory_small))


def p6(sizes: Sizes, stores: tuple[str, ...], quick: bool) -> Rows:
    """On PostgreSQL always (it is the deployment store); the real million only in a full run
    that includes PostgreSQL, else extrapolated from the quick size."""
    batteries = sizes.demo_batteries if "postgres" in stores and not quick else QUICK.demo_batteries
    return demo_time.json_rows(demo_time.measure("postgres", batteries, demo_time.TARGET))


def guarded(name: str, store: str, work: Callable[[], Rows]) -> Rows:
    """Run one measurement; a failure becomes a missed-goal row instead of ending the run."""
    started = time.perf_counter()
    try:
        rows = work()
    except Exception as error:  # every failure is reported in the table, whatever it is
        rows = [failed(name, store, error)]
    print(f"[bench] {name} on {store}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return rows


def run(stores: tuple[str, ...], sizes: Sizes, quick: bool, metrics: tuple[str, ...]) -> Rows:
    per_store: dict[str, Callable[[str, Sizes], Rows]] = {
        "P1": p1,
        "P2": p2,
        "P3": p3_p4,
        "P5": p5,
        "P7": p7,
        "P8": p8,
        "P9": p9,
    }
    rows: Rows = []
    for name, measure in per_store.items():
        if name in metrics or (name == "P3" and "P4" in metrics):
            for store in stores[:1] if quick and name == "P5" else stores:
                rows += guarded(name, store, lambda m=measure, s=store: m(s, sizes))
    if "P6" in metrics:
        rows += guarded("P6", "postgres", lambda: p6(sizes, stores, quick))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="Small sizes (~2 min); indicative only.")
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--json", action="store_true", help="Print the figures as a JSON array last.")
    parser.add_argument("--only", default=",".join(ALL_METRICS), help="Comma-separated metrics.")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="Profile each measurement into DIR and print where the time went for missed goals.",
    )
    args = parser.parse_args()
    global PROFILES
    PROFILES = Profiles(args.profile)
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    sizes = QUICK if args.quick else FULL
    metrics = tuple(m.strip().upper() for m in args.only.split(","))
    started = time.perf_counter()
    rows = run(stores, sizes, args.quick, metrics)
    elapsed = time.perf_counter() - started
    mode = "QUICK: small sizes, figures indicative only" if args.quick else "full sizes"
    print_table(rows, f"batterytrace benchmarks ({mode}; {elapsed:.0f} s)")
    missed = [f"{r['metric']} ({r['store']})" for r in rows if r["ok"] is False]
    print(f"{len(missed)} goal(s) missed" + (": " + ", ".join(missed) if missed else ""))
    if PROFILES.enabled:
        print("\n".join(PROFILES.explain(rows)) or f"profiles written to {args.profile}")
    if args.json:
        print(json_line(rows))


if __name__ == "__main__":
    main()
