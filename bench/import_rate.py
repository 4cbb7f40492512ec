"""P1: bulk production import rate against the ``eventsourcing`` library's raw rate.

The baseline saves the same number of bare aggregates (one created event each, keyed by the same
codes) in batches of the same size into the same kind of store, in the same run. The ratio says
what parsing, validating and building real production events costs on top of the library.

    python -m bench.import_rate [--rows 100000] [--batch-size 500] [--store sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import event

from batterytrace.events.base import TraceAggregate
from batterytrace.store import eventsourcing_env
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.bulk_import import import_file
from batterytrace.trace.sample_data import production_rows, write_production_file
from batterytrace.trace.settings import Settings
from bench.results import figure
from bench.stores import fresh_store, register_manufacturer

GOAL_RATIO = 0.6


class BareAggregate(TraceAggregate):
    """The least an aggregate can be: an id and a created event."""

    @staticmethod
    def create_id(code: str) -> str:
        return code

    @event("Created")
    def __init__(self, code: str) -> None:
        pass


@dataclass
class ImportFigures:
    store: str
    rows: int
    import_rate: float
    baseline_rate: float

    @property
    def ratio(self) -> float:
        return self.import_rate / self.baseline_rate


def baseline_rate(database_url: str, codes: list[str], batch_size: int) -> float:
    """Rows per second for the library saving bare aggregates in batches."""
    app = Application(env={**eventsourcing_env(database_url), "CREATE_TABLE": "y"})
    started = time.perf_counter()
    for start in range(0, len(codes), batch_size):
        app.save(*[BareAggregate(code=c) for c in codes[start : start + batch_size]])
    seconds = time.perf_counter() - started
    app.close()
    return len(codes) / seconds


def measure(store: str, rows: int, batch_size: int) -> ImportFigures:
    with tempfile.TemporaryDirectory(prefix="bt-bench-") as folder:
        path = write_production_file(Path(folder) / "production.csv", "3CA", rows)
        codes = [row["code"] for row in production_rows("3CA", rows)]
        with fresh_store(store) as url:
            app = BatteryTrace(Settings(database_url=url, import_batch_size=batch_size))
            actor = register_manufacturer(app)
            report = import_file(app, actor, path)
            assert report.stored == rows, report.refused[:3]
            app.close()
        with fresh_store(store) as url:
            raw = baseline_rate(url, codes, batch_size)
    return ImportFigures(store, rows, report.rows / report.seconds, raw)


def json_rows(f: ImportFigures) -> list[dict[str, Any]]:
    return [
        figure(
            "P1_import_rate",
            f.store,
            f.import_rate,
            "rows/s",
            baseline=f.baseline_rate,
            ratio=f.ratio,
            goal=f">= {GOAL_RATIO} x baseline",
            ok=f.ratio >= GOAL_RATIO,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    print(f"{'store':<9} {'rows':>8} {'import rows/s':>14} {'library rows/s':>15} {'ratio':>6}")
    for store in stores:
        f = measure(store, args.rows, args.batch_size)
        print(f"{f.store:<9} {f.rows:>8} {f.import_rate:>14,.0f} {f.baseline_rate:>15,.0f} {f.ratio:>6.2f}")


if __name__ == "__main__":
    main()
