"""One battery document: read from the lifecycle view or rebuilt from the event store, a battery's
summary, timeline and lineage are the same (``projections/battery_document.py`` builds both), for
every battery of a varied store, on both stores. The view adds only what the store has not got at
hand: participants' names, the holding point, each event's position and lateness."""

from __future__ import annotations

from datetime import UTC, datetime

from batterytrace.projections import queries
from batterytrace.projections.battery_document import SUMMARY_KEYS, shared_part
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.presenters import battery_document
from tests.utils.cast import NationalCast
from tests.utils.views import varied_store


def test_the_view_and_the_store_give_the_same_document_for_every_battery(
    app: BatteryTrace, cast: NationalCast
) -> None:
    store = varied_store(app, cast)
    runner = ViewRunner(app)
    try:
        runner.catch_up()
        now = datetime(2026, 1, 1, tzinfo=UTC)  # before any battery could be overdue
        for code in store.codes:
            from_view = queries.battery_lifecycle(runner.engine, code, now=now)
            from_store = battery_document(app, code)
            assert from_view is not None, code
            assert shared_part(from_view) == shared_part(from_store), code
            # The store's flags are the domain's; the view adds its findings (late report …).
            assert set(from_store["battery"]["flags"]) <= set(from_view["battery"]["flags"]), code
            assert list(from_store["battery"])[: len(SUMMARY_KEYS)] == list(SUMMARY_KEYS)
            assert list(from_view["battery"])[: len(SUMMARY_KEYS)] == list(SUMMARY_KEYS)
            assert from_view["lineage"] == from_store["lineage"], code
    finally:
        runner.engine.dispose()
