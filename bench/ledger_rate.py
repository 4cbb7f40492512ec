"""Ledger figures: how fast the tamper-evidence log appends when rebuilt, and how long ``verify``
takes, on a demo store.

    python -m bench.ledger_rate [--batteries 20000] [--store sqlite|postgres|both]

- ``records``: canonical records and leaf hashes alone (CPU, events decoded beforehand);
- ``append``: ``LedgerView.apply`` in batches of 1,000 into empty tables, one transaction per
  batch as the runner does (records, tree, writes), events decoded beforehand;
- ``rebuild``: ``ViewRunner.rebuild(["ledger"])``: reading and decoding the store too;
- ``verify``: ``verify_store`` (recompute every leaf from the store, compare, check checkpoints).

Issue 15's goal for ``append`` is 100,000 events/s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from batterytrace.demo.national import generate_demo
from batterytrace.events.ledger_merkle import Frontier
from batterytrace.events.ledger_record import record_of
from batterytrace.projections.ledger_config import LedgerConfig, write_new_key
from batterytrace.projections.ledger_view import LedgerView
from batterytrace.projections.runner import ViewRunner, _reset_view
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.ledger.verify import verify_store
from batterytrace.trace.settings import Settings
from bench.stores import fresh_store

GOAL_APPEND_RATE = 100_000
BATCH = 1000


def measure(kind: str, batteries: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    with fresh_store(kind) as url, tempfile.TemporaryDirectory(prefix="bt-ledger-") as folder:
        key = Path(folder) / "ledger.key"
        signer = write_new_key(key, "bench/ledger")
        app = BatteryTrace(Settings(database_url=url))
        try:
            generate_demo(app, seed=11, batteries=batteries)
            notifications = []
            start = 1
            while page := app.recorder.select_notifications(start=start, limit=5000):
                notifications.extend(page)
                start = page[-1].id + 1
            events = [(n.id, app.mapper.to_domain_event(n)) for n in notifications]
            figures["events"] = len(events)

            started = time.perf_counter()
            heads: dict[str, bytes] = {}
            frontier = Frontier()
            for _, event in events:
                record = record_of(event, heads.get(event.originator_id))
                heads[event.originator_id] = record.leaf
                frontier.append(record.leaf)
            figures["records_per_s"] = len(events) / (time.perf_counter() - started)

            view = LedgerView(LedgerConfig(key, checkpoint_events=10_000))
            runner = ViewRunner(app, views={"ledger": view})
            with runner.engine.begin() as connection:
                _reset_view(connection, "ledger", runner.build_fingerprint("ledger"))
            started = time.perf_counter()
            for i in range(0, len(events), BATCH):
                with runner.engine.begin() as connection:
                    view.apply(connection, events[i : i + BATCH])
            figures["append_per_s"] = len(events) / (time.perf_counter() - started)

            started = time.perf_counter()
            runner.rebuild(["ledger"])
            figures["rebuild_per_s"] = len(events) / (time.perf_counter() - started)

            started = time.perf_counter()
            report = verify_store(app, runner.engine, signer.verifier())
            figures["verify_s"] = time.perf_counter() - started
            figures["verify_per_s"] = report.events / figures["verify_s"]
            runner.engine.dispose()
        finally:
            app.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batteries", type=int, default=20_000)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="sqlite")
    args = parser.parse_args()
    for kind in ("sqlite", "postgres") if args.store == "both" else (args.store,):
        f = measure(kind, args.batteries)
        print(
            f"{kind}: {int(f['events'])} events; records {f['records_per_s']:,.0f}/s; "
            f"append {f['append_per_s']:,.0f}/s (goal {GOAL_APPEND_RATE:,}); "
            f"rebuild {f['rebuild_per_s']:,.0f}/s; "
            f"verify {f['verify_s']:.1f} s ({f['verify_per_s']:,.0f} events/s)"
        )


if __name__ == "__main__":
    main()
