"""Fault runs R1, R2, R3, R6, R7 in one go: ``python -m bench.faults [--quick] [--json]``.

    python -m bench.faults [--quick] [--store sqlite|postgres|both] [--json] [--only R1,R2,R3,R6,R7]

R1 kills ``batterytrace import`` (10 SIGKILLs on 60,000 rows; quick 3 on 20,000), R2 kills the
projection worker while events arrive (50; quick 5), on each store; R3 cuts PostgreSQL under 16
scanners (3 outages of 8 s; quick 1 of 3 s) and R6 runs two services and two workers on one
schema (30 s of scans; quick 5 s), and R7 stops and restarts the streaming replica that answers
the service's reads under 16 scanners (3 times; quick once), on PostgreSQL only. Each figure
counts failures (goal 0); the first few are described under the table. Quick takes about four
minutes.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bench.faults import import_kill, outage, replica_stop, two_services, worker_kill
from bench.faults.common import Tally
from bench.results import failed, json_line, print_table

ALL_RUNS = ("R1", "R2", "R3", "R6", "R7")
POSTGRES_ONLY = {
    "R3": "a PostgreSQL outage",
    "R6": "two services on one schema",
    "R7": "streaming replication",
}


def guarded(name: str, store: str, work: Callable[[], Tally], notes: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        tally = work()
        notes += tally.details()
        row = tally.row()
    except Exception as error:  # a run that breaks is a failure found, reported with its error
        row = failed(name, store, error)
    print(f"[faults] {name} on {store}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="Short forms (~3 min).")
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--json", action="store_true", help="Print the figures as a JSON array last.")
    parser.add_argument("--only", default=",".join(ALL_RUNS), help="Comma-separated runs.")
    parser.add_argument("--seed", type=int, default=random.randrange(10**6), help="Random seed (printed).")
    args = parser.parse_args()
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    runs = tuple(r.strip().upper() for r in args.only.split(","))
    q = args.quick
    started = time.perf_counter()
    notes: list[str] = []
    plan: list[tuple[str, str, Callable[[], Tally]]] = []
    for store in stores:
        if "R1" in runs:
            size, kills = (20_000, 3) if q else (60_000, 10)
            plan.append(("R1_import_sigkill", store, partial(import_kill.run, store, size, kills, args.seed)))
        if "R2" in runs:
            kills, demo = (5, 300) if q else (50, 1000)
            plan.append(("R2_worker_sigkill", store, partial(worker_kill.run, store, kills, demo, args.seed)))
    if "postgres" in stores and "R3" in runs:
        work = partial(outage.run, 1500, 1, 3.0) if q else partial(outage.run, 8000, 3, 8.0)
        plan.append(("R3_database_outage", "postgres", work))
    if "postgres" in stores and "R6" in runs:
        work = partial(two_services.run, 1500, 5.0) if q else partial(two_services.run, 8000, 30.0)
        plan.append(("R6_two_services_two_workers", "postgres", work))
    if "postgres" in stores and "R7" in runs:
        work = partial(replica_stop.run, 1500, 1, 4.0) if q else partial(replica_stop.run, 8000, 3, 8.0)
        plan.append(("R7_replica_stop", "postgres", work))
    if "postgres" not in stores:
        for run in sorted(set(runs) & POSTGRES_ONLY.keys()):
            print(
                f"[faults] {run} skipped: it runs on PostgreSQL only ({POSTGRES_ONLY[run]})", file=sys.stderr
            )
    rows = [guarded(name, store, work, notes) for name, store, work in plan]
    mode = "QUICK short forms" if q else "long forms"
    print_table(
        rows, f"batterytrace fault runs ({mode}; seed {args.seed}; {time.perf_counter() - started:.0f} s)"
    )
    print("\n".join(notes) or "no failures found")
    if args.json:
        print(json_line(rows))


if __name__ == "__main__":
    main()
