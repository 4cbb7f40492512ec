"""Events for ledger tests: one Collected event with every kind of fact a record writes (a
non-ASCII text, a float, a None, a time with microseconds, a request id the record leaves out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from batterytrace.events.battery import Battery


def collected(**changes: Any) -> Battery.Collected:
    """``changes``: facts to give other values than these."""
    facts: dict[str, Any] = dict(
        originator_id="3CAPB120A1B2C3R7F0000003",
        originator_version=5,
        timestamp=datetime(2026, 10, 1, 2, 0, 0, 123456, tzinfo=UTC),
        collection_point_id="CP-110105-0001",
        operator_id="91110105MA00000011",
        mass_kg=110.5,
        energy_kwh=15.3,
        condition="intact",
        source_vin=None,
        scanned_by="张三",
        actor_id="91110105MA00000011",
        occurred_at=datetime(2026, 10, 1, 10, 0, tzinfo=timezone(timedelta(hours=8))),
        request_id="scan-1",
        late_correction=False,
    )
    return Battery.Collected(**{**facts, **changes})
