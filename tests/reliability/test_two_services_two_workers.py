"""R6, short form: two ``batterytrace serve --no-projections`` processes and two ``projections
run`` workers on one PostgreSQL schema, scans through both services at once for a few seconds.

No event may be lost or applied twice: every acknowledged scan is in the store once and, once
the workers have caught up, the views equal a rebuild from the events. The long form (30 s) is
``python -m bench.faults --only R6``; both run the same code (``bench/faults/two_services.py``).
"""

from __future__ import annotations

import pytest

from bench.faults.two_services import run

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_two_services_and_two_view_workers_lose_and_double_nothing(postgres_server: str) -> None:
    tally = run(batteries=300, seconds=4.0)
    assert tally.failures == [], "\n".join(tally.details())
    scans = int(tally.context.split()[0])  # "N scans through 2 services …"
    assert scans >= 20, f"too few scans to show anything: {tally.context}"
