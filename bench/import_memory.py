"""P5: peak memory of ``batterytrace import`` on a large file against a file ten times smaller.

A manufacturer's file may have millions of rows; the importer must stream it in batches, so its
peak resident memory should hardly depend on the file's length. Each import is the real CLI in a
child process on an empty store. Its peak RSS is the kernel's high-water mark of the child's own
address space (``VmHWM`` in /proc/<pid>/status), sampled every 20 ms until it exits. ``wait4``'s
``ru_maxrss`` is NOT used: Linux carries the parent's high-water mark over at exec, so a child of
a 100 MB parent reports at least 100 MB whatever it used itself. (``ImportProcess``, shared with
the integration test, samples VmHWM at every poll.)

    python -m bench.import_memory [--rows 1000000] [--small 100000] [--store sqlite|postgres|both]

Goals: large file's peak at most 1.2 x the small file's, and at most 300 MB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.sample_data import write_production_file
from batterytrace.trace.settings import Settings
from bench.results import figure
from bench.stores import fresh_store, register_manufacturer
from tests.integration.test_import_at_scale import ImportProcess

GOAL_GROWTH = 1.2
GOAL_PEAK_MB = 300.0


@dataclass
class MemoryFigures:
    store: str
    small_rows: int
    large_rows: int
    small_peak_mb: float
    large_peak_mb: float
    large_seconds: float

    @property
    def growth(self) -> float:
        return self.large_peak_mb / self.small_peak_mb


def peak_mb(store: str, rows: int, folder: Path) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of one CLI import of ``rows`` rows into an empty store."""
    path = write_production_file(folder / f"production-{rows}.csv", "3CA", rows)
    with fresh_store(store) as url:
        app = BatteryTrace(Settings(database_url=url))
        actor = register_manufacturer(app)
        app.close()
        started = time.perf_counter()
        running = ImportProcess(url, path, actor, folder)
        while (finished := running.poll()) is None:
            time.sleep(0.02)
        peak_kb = finished.max_rss_kb
        seconds = time.perf_counter() - started
    path.unlink()
    if finished.returncode != 0:
        raise RuntimeError(f"import of {rows} rows failed: {finished.stderr[-500:]}")
    summary = finished.summary()
    if summary["stored"] != rows:
        raise RuntimeError(f"import of {rows} rows stored {summary}")
    return peak_kb / 1024, seconds


def measure(store: str, rows: int, small: int) -> MemoryFigures:
    with tempfile.TemporaryDirectory(prefix="bt-bench-") as name:
        small_mb, _ = peak_mb(store, small, Path(name))
        large_mb, seconds = peak_mb(store, rows, Path(name))
    return MemoryFigures(store, small, rows, small_mb, large_mb, seconds)


def json_rows(f: MemoryFigures) -> list[dict[str, Any]]:
    return [
        figure(
            f"P5_import_rss_growth_{f.large_rows // 1000}k_vs_{f.small_rows // 1000}k",
            f.store,
            f.growth,
            "x",
            baseline=f.small_peak_mb,
            ratio=f.growth,
            goal=f"<= {GOAL_GROWTH} x",
            ok=f.growth <= GOAL_GROWTH,
        ),
        figure(
            f"P5_import_rss_peak_{f.large_rows // 1000}k",
            f.store,
            f.large_peak_mb,
            "MB",
            baseline=f.small_peak_mb,
            ratio=f.growth,
            goal=f"<= {GOAL_PEAK_MB:g} MB",
            ok=f.large_peak_mb <= GOAL_PEAK_MB,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    print(f"{'store':<9} {'small rows':>10} {'peak MB':>8} {'large rows':>10} {'peak MB':>8} {'growth':>6}")
    for store in stores:
        f = measure(store, args.rows, args.small)
        print(
            f"{f.store:<9} {f.small_rows:>10} {f.small_peak_mb:>8.1f} {f.large_rows:>10} "
            f"{f.large_peak_mb:>8.1f} {f.growth:>6.2f}"
        )


if __name__ == "__main__":
    main()
