"""How long a CLI command takes from start to answer, and which imports it spends the time on.

A person typing ``batterytrace code X`` or ``show X`` waits for the whole interpreter start, every
module the entry point imports and the command's own work. This measures each command's wall time
and CPU time (user + system: less disturbed by other work on a busy machine), the median of
several runs, on a small demo store whose views are up to date (SQLite, or a PostgreSQL schema),
and, with ``python -X importtime``, the slowest top-level imports of one run.

    python -m bench.cli_startup [--runs 5] [--batteries 40] [--imports 8] [--store sqlite|postgres|both]
                                [--json]

Goal: ``code``, ``show`` and ``report`` answer in under 0.5 s on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from bench.results import figure, json_line, print_table
from bench.stores import fresh_store

GOAL_SECONDS = 0.5
EXAMPLE_CODE = "3CAPB120A1B2C3R7F0000123"
# command label -> arguments; {code} is a battery of the demo store
COMMANDS: dict[str, tuple[str, ...]] = {
    "--help": ("--help",),
    "code": ("code", EXAMPLE_CODE),
    "show": ("show", "{code}"),
    "show --as-of": ("show", "{code}", "--as-of", "2024-01-01"),
    "report compliance": ("report", "compliance", "--limit", "5"),
}
WITH_GOAL = ("code", "show", "report compliance")
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)")


@dataclass
class Startup:
    command: str
    store: str
    median_seconds: float  # wall time: what a person waits
    median_cpu_seconds: float  # user + system: what it costs, less disturbed by a busy machine
    runs: list[float]
    slowest_imports: list[tuple[str, float]]  # package, seconds of its modules' own import time


def _environment(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
    env.update(BATTERYTRACE_DATABASE_URL=database_url, NO_COLOR="1", COLUMNS="200")
    return env


def _cli(
    *args: str, env: dict[str, str], python_options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    command = [sys.executable, *python_options, "-m", "batterytrace", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode not in (0, 1):  # code X may exit 1 for an invalid code: still an answer
        raise RuntimeError(f"batterytrace {' '.join(args)} failed: {done.stderr[-500:]}")
    return done


def slowest_imports(importtime_log: str, count: int) -> list[tuple[str, float]]:
    """The packages (first name segment) whose own modules took the most import time: each
    module's self time, added up by package, so the figures add up to the whole import cost."""
    totals: dict[str, float] = {}
    for match in IMPORT_LINE.finditer(importtime_log):
        own, module = int(match.group(1)), match.group(2)
        root = module.split(".")[0]
        totals[root] = totals.get(root, 0.0) + own / 1e6
    return sorted(totals.items(), key=lambda item: -item[1])[:count]


def measure(runs: int, batteries: int, import_count: int, store: str = "sqlite") -> list[Startup]:
    with fresh_store(store) as database_url:
        env = _environment(database_url)
        _cli("demo", "--batteries", str(batteries), env=env)
        _cli("projections", "rebuild", env=env)
        # a battery of the store (the first finding may be an outlet's, with no battery code)
        listed = _cli("report", "compliance", "--format", "json", "--limit", "50", env=env).stdout
        code = re.search(r'"code": "([0-9A-Z]{24})"', listed)
        battery = code.group(1) if code else EXAMPLE_CODE
        figures = []
        for label, template in COMMANDS.items():
            args = tuple(arg.replace("{code}", battery) for arg in template)
            _cli(*args, env=env)  # warm the file cache
            seconds, cpu = [], []
            for _ in range(runs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                _cli(*args, env=env)
                seconds.append(time.perf_counter() - started)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            log = _cli(*args, env=env, python_options=("-X", "importtime")).stderr
            figures.append(
                Startup(
                    label,
                    store,
                    statistics.median(seconds),
                    statistics.median(cpu),
                    seconds,
                    slowest_imports(log, import_count),
                )
            )
        return figures


def json_rows(figures: list[Startup]) -> list[dict]:
    """Wall time against the goal, with the CPU time beside it as context."""
    rows = []
    for f in figures:
        goal = f.command in WITH_GOAL
        rows.append(
            figure(
                f"cli {f.command}",
                f.store,
                f.median_seconds,
                "s",
                goal=f"< {GOAL_SECONDS} s" if goal else None,
                ok=f.median_seconds < GOAL_SECONDS if goal else None,
            )
        )
        rows.append(figure(f"cli {f.command} (CPU)", f.store, f.median_cpu_seconds, "s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cli_startup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=5, help="Runs per command (the median is shown).")
    parser.add_argument("--batteries", type=int, default=40, help="Demo store size.")
    parser.add_argument("--imports", type=int, default=8, help="Slowest top-level imports to list.")
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--json", action="store_true", help="Print the figures as a JSON array last.")
    args = parser.parse_args()
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    figures = [f for store in stores for f in measure(args.runs, args.batteries, args.imports, store)]
    print_table(json_rows(figures), f"CLI start-up, median of {args.runs} runs")
    for f in figures:
        spent = ", ".join(f"{name} {seconds:.2f}" for name, seconds in f.slowest_imports)
        print(f"{f.command} ({f.store}): slowest imports (s): {spent}")
    if args.json:
        print(json_line(json_rows(figures)))


if __name__ == "__main__":
    main()
