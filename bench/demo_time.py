"""P6: how long ``batterytrace demo --batteries N`` takes, views built, on PostgreSQL.

A deployment is judged by how fast a national-scale demo (a million packs and their lives) can
be loaded and made queryable. Both steps are the real CLI in child processes on an empty schema:
``batterytrace demo`` then ``batterytrace projections rebuild``. With ``--extrapolate-to`` the
minutes are scaled linearly from the measured size (labelled as such; growth may not be linear).

    python -m bench.demo_time [--batteries 1000000] [--extrapolate-to 1000000] [--store postgres]

Goal: at most 10 minutes for 1,000,000 batteries.
"""

from __future__ import annotations

import argparse
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
    demo_seconds: float
    views_seconds: float
    target: int

    @property
    def minutes(self) -> float:
        """Measured minutes, scaled linearly to ``target`` batteries when smaller."""
        return (self.demo_seconds + self.views_seconds) / 60 * self.target / self.batteries


def timed(database_url: str, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
    env.update(BATTERYTRACE_DATABASE_URL=database_url, NO_COLOR="1", COLUMNS="200")
    started = time.perf_counter()
    done = subprocess.run(
        [batterytrace_command(), *args], env=env, capture_output=True, text=True, timeout=6 * 3600
    )
    if done.returncode != 0:
        raise RuntimeError(f"batterytrace {' '.join(args)} failed: {done.stderr[-500:]}")
    return time.perf_counter() - started


def measure(store: str, batteries: int, target: int = TARGET) -> DemoFigures:
    with fresh_store(store) as url:
        demo = timed(url, "demo", "--batteries", str(batteries))
        views = timed(url, "projections", "rebuild")
    return DemoFigures(store, batteries, demo, views, target)


def json_rows(f: DemoFigures) -> list[dict[str, Any]]:
    label = (
        f"P6_demo_{f.target // 1000}k_with_views"
        if f.batteries >= f.target
        else f"P6_demo_{f.target // 1000}k_with_views_extrapolated_from_{f.batteries // 1000}k"
    )
    measured = (f.demo_seconds + f.views_seconds) / 60
    return [
        figure(
            label,
            f.store,
            f.minutes,
            "min",
            baseline=round(measured, 3),
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
    args = parser.parse_args()
    f = measure(args.store, args.batteries, max(args.extrapolate_to, args.batteries))
    print(
        f"{f.store}: {f.batteries} batteries: demo {f.demo_seconds:.1f} s, views {f.views_seconds:.1f} s; "
        f"{f.minutes:.2f} min for {f.target}" + (" (extrapolated linearly)" if f.target > f.batteries else "")
    )


if __name__ == "__main__":
    main()
