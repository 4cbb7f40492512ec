"""P6: how long ``batterytrace demo --batteries N`` takes until its views are built, on PostgreSQL.

A deployment is judged by how fast a national-scale demo (a million packs and their lives) can
be loaded and made queryable. Both ways are the real CLI in child processes on an empty schema:
``batterytrace demo`` (the views rebuilt beside the generation, standing at the last event when it
ends; checked with ``projections status``), and, as the baseline of the same run, the two steps
one after the other: ``demo --no-views`` then ``projections rebuild``. With ``--extrapolate-to``
the minutes are scaled linearly from the measured size (labelled as such; growth may not be
linear). ``--no-baseline`` leaves the baseline out (a full-size run takes ~12 minutes more).

    python -m bench.demo_time [--batteries 1000000] [--extrapolate-to 1000000] [--store postgres]

Goal: at most 10 minutes for 1,000,000 batteries.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from bench.results import figure
from bench.stores import fresh_store
from tests.utils.server import batterytrace_command

GOAL_MINUTES = 10.0
TARGET = 1_000_000


@dataclass
class DemoFigures:
    store: str
    batteries: int
    seconds: float  # ``demo``, its views built beside the generation
    target: int
    baseline_seconds: float | None = None  # ``demo --no-views`` then ``projections rebuild``

    @property
    def minutes(self) -> float:
        """Measured minutes, scaled linearly to ``target`` batteries when smaller."""
        return self.seconds / 60 * self.target / self.batteries

    @property
    def baseline_minutes(self) -> float | None:
        if self.baseline_seconds is None:
            return None
        return self.baseline_seconds / 60 * self.target / self.batteries


def timed(database_url: str, *args: str) -> float:
    started = time.perf_counter()
    run(database_url, *args)
    return time.perf_counter() - started


def run(database_url: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
    env.update(BATTERYTRACE_DATABASE_URL=database_url, NO_COLOR="1", COLUMNS="200")
    done = subprocess.run(
        [batterytrace_command(), *args], env=env, capture_output=True, text=True, timeout=6 * 3600
    )
    if done.returncode != 0:
        raise RuntimeError(f"batterytrace {' '.join(args)} failed: {done.stderr[-500:]}")
    return done.stdout


def measure(store: str, batteries: int, target: int = TARGET, *, baseline: bool = True) -> DemoFigures:
    with fresh_store(store) as url:
        seconds = timed(url, "demo", "--batteries", str(batteries))
        lagging = [
            row for row in json.loads(run(url, "projections", "status", "--format", "json")) if row["lag"]
        ]
        if lagging:
            raise RuntimeError(f"the demo ended with views behind the last event: {lagging}")
    figures = DemoFigures(store, batteries, seconds, target)
    if baseline:
        with fresh_store(store) as url:
            figures.baseline_seconds = timed(
                url, "demo", "--batteries", str(batteries), "--no-views"
            ) + timed(url, "projections", "rebuild")
    return figures


def json_rows(f: DemoFigures) -> list[dict[str, Any]]:
    label = (
        f"P6_demo_{f.target // 1000}k_with_views"
        if f.batteries >= f.target
        else f"P6_demo_{f.target // 1000}k_with_views_extrapolated_from_{f.batteries // 1000}k"
    )
    return [
        figure(
            label,
            f.store,
            f.minutes,
            "min",
            baseline=f.baseline_minutes,  # the steps one after the other, scaled alike
            ratio=f.minutes / GOAL_MINUTES,
            goal=f"<= {GOAL_MINUTES:g} min",
            ok=f.minutes <= GOAL_MINUTES,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batteries", type=int, default=TARGET)
    parser.add_argument("--extrapolate-to", type=int, default=TARGET)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--no-baseline", action="store_true", help="skip demo --no-views + rebuild")
    args = parser.parse_args()
    f = measure(
        args.store, args.batteries, max(args.extrapolate_to, args.batteries), baseline=not args.no_baseline
    )
    scaled = " (extrapolated linearly)" if f.target > f.batteries else ""
    print(
        f"{f.store}: {f.batteries} batteries: demo with views {f.seconds:.1f} s; "
        f"{f.minutes:.2f} min for {f.target}{scaled}"
    )
    if f.baseline_seconds is not None:
        print(
            f"baseline, same run: demo --no-views then projections rebuild {f.baseline_seconds:.1f} s "
            f"(with views beside: {f.seconds / f.baseline_seconds:.2f} of it)"
        )


if __name__ == "__main__":
    main()
