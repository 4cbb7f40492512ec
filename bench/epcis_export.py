"""P7: an EPCIS 2.0 export of the whole store, against reading the same events raw.

A partner (or the regulator's archive) takes every battery's life as one EPCIS document; it must
stream from the event store at the speed of reading it, in constant memory. Two figures, on a
demo store of ``--batteries`` packs:

- the export's rate in events/s, measured in this process (the document's chunks as the CLI
  makes them, ``trace/epcis/whole_store.py``: over two processes where two cores are usable,
  counted and thrown away), against reading the same notifications raw
  (``rebuild_rate.raw_read_rate``): goal >= 0.3 of it (issue 14);
- the ledger is caught up first, so that every event carries its leaf (``bt:ledgerLeaf``, read a
  page at a time) as in a real export;
- the peak resident memory of the real CLI (``batterytrace export epcis --output FILE``) in a child
  process, sampled from ``VmHWM`` (see ``import_memory.py`` for why not ``ru_maxrss``), its own
  and its export process's added (pages the fork shares counted twice: an upper bound): goal at
  most 300 MB whatever the store's size (P5's bound).

    python -m bench.epcis_export [--batteries 20000] [--store sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batterytrace.demo.national import generate_demo
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.epcis.identifiers import Identifiers
from batterytrace.trace.epcis.whole_store import whole_store_chunks
from batterytrace.trace.settings import Settings
from bench.rebuild_rate import raw_read_rate
from bench.results import figure
from bench.stores import fresh_store

GOAL_RATIO = 0.3
GOAL_PEAK_MB = 300.0
HEADER = "store       events   raw ev/s export ev/s  ratio  doc MB CLI peak MB"


@dataclass
class ExportFigures:
    store: str
    batteries: int
    events: int
    raw_rate: float
    export_rate: float
    document_mb: float
    cli_peak_mb: float
    cli_seconds: float

    @property
    def ratio(self) -> float:
        return self.export_rate / self.raw_rate


def export_in_process(app: BatteryTrace) -> tuple[int, float]:
    """Bytes of the whole store's document and the seconds it took to produce them."""
    ids = Identifiers(app.settings.public_url)
    started = time.perf_counter()
    size = 0
    for chunk in whole_store_chunks(app, ids, created=app.clock()):
        size += len(chunk)
    return size, time.perf_counter() - started


def log_every_event(app: BatteryTrace) -> None:
    """The ledger view caught up, as the service's follower keeps it."""
    runner = ViewRunner(app)
    try:
        runner.catch_up(["ledger"])
    finally:
        runner.engine.dispose()


def cli_peak(database_url: str, folder: Path) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of ``batterytrace export epcis --output FILE`` in a child."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
    env["BATTERYTRACE_DATABASE_URL"] = database_url
    target = folder / "export.jsonld"
    command = [sys.executable, "-m", "batterytrace", "export", "epcis", "--output", str(target)]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks: dict[int, int] = {}  # pid -> its peak (kB): the CLI and the processes it forks
    while child.poll() is None:
        for pid in (child.pid, *_children(child.pid)):
            peaks[pid] = max(peaks.get(pid, 0), _vm_hwm_kb(pid))
        time.sleep(0.02)
    peak_kb = sum(peaks.values())
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"export failed: {child.stderr.read().decode(errors='replace')[-500:]}")
    target.unlink(missing_ok=True)
    return peak_kb / 1024, seconds


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(store: str, batteries: int) -> ExportFigures:
    with fresh_store(store) as url, tempfile.TemporaryDirectory() as folder:
        app = BatteryTrace(Settings(database_url=url))
        try:
            generate_demo(app, seed=11, batteries=batteries)
            events = app.recorder.max_notification_id() or 0
            log_every_event(app)
            raw = raw_read_rate(app)
            size, seconds = export_in_process(app)
        finally:
            app.close()
        peak, cli_seconds = cli_peak(url, Path(folder))
    return ExportFigures(store, batteries, events, raw, events / seconds, size / 1e6, peak, cli_seconds)


def json_rows(figures: ExportFigures) -> list[dict[str, Any]]:
    f = figures
    return [
        figure(
            "P7_epcis_export_rate",
            f.store,
            f.export_rate,
            "events/s",
            baseline=f.raw_rate,
            ratio=f.ratio,
            goal=f">= {GOAL_RATIO} x baseline",
            ok=f.ratio >= GOAL_RATIO,
        ),
        figure(
            f"P7_epcis_export_peak_{f.events // 1000}k_events",
            f.store,
            f.cli_peak_mb,
            "MB",
            goal=f"<= {GOAL_PEAK_MB:g} MB",
            ok=f.cli_peak_mb <= GOAL_PEAK_MB,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batteries", type=int, default=20_000)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    print(HEADER)
    for store in stores:
        f = measure(store, args.batteries)
        print(
            f"{f.store:<9} {f.events:>8} {f.raw_rate:>10,.0f} {f.export_rate:>11,.0f} {f.ratio:>6.3f} "
            f"{f.document_mb:>7.1f} {f.cli_peak_mb:>11.1f}"
        )


if __name__ == "__main__":
    main()
