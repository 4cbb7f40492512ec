"""P1: bulk production import rate against the ``eventsourcing`` library's raw rate.

The baseline saves the same number of bare aggregates (one created event each, keyed by the same
codes) in batches of the same size into the same kind of store, in the same run. The ratio says
what parsing, validating and building real production events costs on top of the library.

On PostgreSQL the service records through its own recorder (``batterytrace/postgres_recorder.py``:
the library's insert, its events bound in binary), while the baseline is the library's save as
it ships. So that the ratio cannot hide where it comes from, a context row
(``P1_bare_save_service_recorder``) gives the same bare save through the service's recorder: its
ratio to the library's save is what the recorder alone gains.

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
from batterytrace.postgres_recorder import RECORDER_TOPIC
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
    service_recorder_rate: float | None = None  # the bare save through the service's recorder

    @property
    def ratio(self) -> float:
        return self.import_rate / self.baseline_rate


def baseline_rate(
    database_url: str, codes: list[str], batch_size: int, recorder_topic: str | None = None
) -> float:
    """Rows per second for the library saving bare aggregates in batches (through the recorder
    ``recorder_topic`` names, else the library's own)."""
    env = {**eventsourcing_env(database_url), "CREATE_TABLE": "y"}
    if recorder_topic:
        env["APPLICATION_RECORDER_TOPIC"] = recorder_topic
    app = Application(env=env)
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
        service_recorder = None
        if store == "postgres":
            with fresh_store(store) as url:
                service_recorder = baseline_rate(url, codes, batch_size, RECORDER_TOPIC)
    return ImportFigures(store, rows, report.rows / report.seconds, raw, service_recorder)


def json_rows(f: ImportFigures) -> list[dict[str, Any]]:
    rows = [
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
    if f.service_recorder_rate is not None:  # context: what the service's recorder alone gains
        rows.append(
            figure(
                "P1_bare_save_service_recorder",
                f.store,
                f.service_recorder_rate,
                "rows/s",
                baseline=f.baseline_rate,
                ratio=f.service_recorder_rate / f.baseline_rate,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    header = f"{'store':<9} {'rows':>8} {'import rows/s':>14} {'library rows/s':>15} {'ratio':>6}"
    print(f"{header}  bare save, service recorder")
    for store in stores:
        f = measure(store, args.rows, args.batch_size)
        context = f"{f.service_recorder_rate:>12,.0f} rows/s" if f.service_recorder_rate else ""
        line = f"{f.store:<9} {f.rows:>8} {f.import_rate:>14,.0f} {f.baseline_rate:>15,.0f} {f.ratio:>6.2f}"
        print(f"{line}  {context}")


if __name__ == "__main__":
    main()
