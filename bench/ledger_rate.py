"""Ledger figures: how fast the tamper-evidence log appends, rebuilt and followed, and how long
``verify`` takes, on a demo store.

    python -m bench.ledger_rate [--batteries 20000] [--store sqlite|postgres|both]

Events are read and decoded once beforehand (as a rebuild decodes them, ``stored_decoding``) for
the first four figures, so that they time the ledger alone:

- ``records``: canonical records, leaf hashes and the tree in memory, no writes (CPU;
  ``ledger_log.append_events``), and
  ``records_reference``: the same by the reference ``record_of``, for comparison;
- ``rebuild_append``: the set-wise rebuild's part, ``LedgerView.builder``: every event folded into
  the tree and its rows written to fresh tables (COPY / executemany). Issue 15's goal, the log's
  append rate when rebuilding: 100,000 events/s;
- ``follower_append``: ``LedgerView.apply`` in batches of 1,000 into empty tables, one transaction
  per batch as the runner does (right edge and chain heads read back each batch);
- ``rebuild``: ``ViewRunner.rebuild(["ledger"])`` whole: reading and decoding the store too, the
  swap and the checkpoint signed after it;
- ``verify``: ``verify_store`` (every leaf recomputed from the store and compared, checkpoints
  checked): events/s, from which a store of any size's time follows (it is linear).

``python -m bench`` shows them as its P9 rows (``json_rows``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from batterytrace.demo.national import generate_demo
from batterytrace.events.ledger_log import append_events
from batterytrace.events.ledger_merkle import Frontier
from batterytrace.events.ledger_record import record_of
from batterytrace.projections.fresh_tables import FreshTables
from batterytrace.projections.ledger_config import LedgerConfig, write_new_key
from batterytrace.projections.ledger_view import LedgerView
from batterytrace.projections.rebuild import PAGE_SIZE
from batterytrace.projections.runner import ViewRunner, _reset_view
from batterytrace.projections.stored_decoding import decode_all, fast_decoder
from batterytrace.projections.tables import VIEW_TABLES
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.ledger.verify import verify_store
from batterytrace.trace.settings import Settings
from bench.results import figure
from bench.stores import fresh_store

GOAL_APPEND_RATE = 100_000  # issue 15: the log's append when rebuilding, events/s
BATCH = 1000


def measure(kind: str, batteries: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"store": kind, "batteries": batteries}
    with fresh_store(kind) as url, tempfile.TemporaryDirectory(prefix="bt-ledger-") as folder:
        key = Path(folder) / "ledger.key"
        signer = write_new_key(key, "bench/ledger")
        app = BatteryTrace(Settings(database_url=url))
        try:
            generate_demo(app, seed=11, batteries=batteries)
            decode = fast_decoder(app.mapper)
            pages = []
            start = 1
            while page := app.recorder.select_notifications(start=start, limit=PAGE_SIZE):
                pages.append(decode_all(decode, page))
                start = page[-1].id + 1
            events = [pair for page in pages for pair in page]
            figures["events"] = len(events)

            started = time.perf_counter()
            append_events(events, {}, Frontier(), [], [])
            figures["records_per_s"] = len(events) / (time.perf_counter() - started)
            started = time.perf_counter()
            heads: dict[str, bytes] = {}
            for _, event in events:
                record = record_of(event, heads.get(event.originator_id))
                heads[event.originator_id] = record.leaf
            figures["records_reference_per_s"] = len(events) / (time.perf_counter() - started)

            view = LedgerView(LedgerConfig(key, checkpoint_events=10_000))
            runner = ViewRunner(app, views={"ledger": view})
            fresh = FreshTables(runner.engine, VIEW_TABLES["ledger"])
            fresh.create()
            try:
                started = time.perf_counter()
                builder = view.builder(fresh)
                for page in pages:
                    builder.add(page)
                builder.finish()
                figures["rebuild_append_per_s"] = len(events) / (time.perf_counter() - started)
            finally:
                fresh.drop()

            with runner.engine.begin() as connection:
                _reset_view(connection, "ledger", runner.build_fingerprint("ledger"))
            started = time.perf_counter()
            for i in range(0, len(events), BATCH):
                with runner.engine.begin() as connection:
                    view.apply(connection, events[i : i + BATCH])
            figures["follower_append_per_s"] = len(events) / (time.perf_counter() - started)

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


def json_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures as ``python -m bench`` rows: the goal on the rebuild's append, the rest context."""
    store = f["store"]
    rows = [
        figure(
            "P9_ledger_append_rate",
            store,
            f["rebuild_append_per_s"],
            "events/s",
            goal=f">= {GOAL_APPEND_RATE:,} events/s",
            ok=f["rebuild_append_per_s"] >= GOAL_APPEND_RATE,
        )
    ]
    for metric, key in (
        ("P9_ledger_records_rate", "records_per_s"),
        ("P9_ledger_follower_append_rate", "follower_append_per_s"),
        ("P9_ledger_rebuild_rate", "rebuild_per_s"),
        ("P9_ledger_verify_rate", "verify_per_s"),
    ):
        rows.append(figure(metric, store, f[key], "events/s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batteries", type=int, default=20_000)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="sqlite")
    args = parser.parse_args()
    for kind in ("sqlite", "postgres") if args.store == "both" else (args.store,):
        f = measure(kind, args.batteries)
        print(
            f"{kind}: {f['events']} events; records {f['records_per_s']:,.0f}/s "
            f"(reference {f['records_reference_per_s']:,.0f}/s); "
            f"rebuild append {f['rebuild_append_per_s']:,.0f}/s (goal {GOAL_APPEND_RATE:,}); "
            f"follower append {f['follower_append_per_s']:,.0f}/s; "
            f"rebuild {f['rebuild_per_s']:,.0f}/s; "
            f"verify {f['verify_s']:.1f} s ({f['verify_per_s']:,.0f} events/s)"
        )


if __name__ == "__main__":
    main()
