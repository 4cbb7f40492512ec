"""Codes to try in a store that already holds data, read from the views.

``run-demo`` generates the demo data set only into an empty store; started again on the same
store it must still show where to look. What ``generate_demo`` returned the first time is gone,
so the examples are found again: the first pack in each lifecycle state and the first battery
with each kind of compliance finding (the cases the demo plants; ``unverified_custody`` is found
only in stores written before vehicle scrapping was recorded). The passport example is the first
pack in service by code: the demo always reports readings for that one (``passports.py``), so its
passport shows every aspect, the performance one included.
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from batterytrace.events.lifecycle import State
from batterytrace.projections.queries import Filters
from batterytrace.projections.report_queries import SCRAPPED_NOT_HANDED_OVER, compliance
from batterytrace.projections.tables import lifecycle_batteries, report_findings

PASSPORT_EXAMPLE = "passport"
FINDING_EXAMPLES = ("non_compliant_handover", "late_report", "backwards_date", "unverified_custody")


def examples_from_views(engine: Engine) -> dict[str, str]:
    """Lifecycle state or finding kind -> a battery code, for those the views hold."""
    examples: dict[str, str] = {}
    with engine.connect() as connection:
        for state in State:
            code = connection.execute(
                select(lifecycle_batteries.c.code)
                .where(lifecycle_batteries.c.state == state.value, lifecycle_batteries.c.level == "pack")
                .order_by(lifecycle_batteries.c.code)
                .limit(1)
            ).scalar()
            if code:
                examples[state.name.lower()] = code
        if State.INSTALLED.name.lower() in examples:
            examples[PASSPORT_EXAMPLE] = examples[State.INSTALLED.name.lower()]
        for kind in FINDING_EXAMPLES:
            code = connection.execute(
                select(report_findings.c.code)
                .where(report_findings.c.kind == kind)
                .order_by(report_findings.c.code)
                .limit(1)
            ).scalar()
            if code:
                examples[kind] = code
    # Not a stored finding: it arises as time passes (report_queries), as of now.
    found = compliance(engine, Filters(limit=1), kind=SCRAPPED_NOT_HANDED_OVER)
    if found:
        examples[SCRAPPED_NOT_HANDED_OVER] = found[0]["code"]
    return examples


def passport_hint(examples: dict[str, str], address: str | None = None) -> str | None:
    """How to fetch the passport example's EU battery passport: the CLI command, and over HTTP
    when the service runs at ``address``. None when the demo has no battery in service."""
    code = examples.get(PASSPORT_EXAMPLE)
    if code is None:
        return None
    lines = [
        f"EU battery passport of {code} (in service, with its readings): batterytrace passport {code} "
        "[--public | --as CREDIT_CODE]"
    ]
    if address is not None:
        lines.append(
            f"  curl {address}/api/v1/batteries/{code}/passport   (no key: what anyone may read; "
            f'with -H "Authorization: Bearer KEY": what that participant may read)'
        )
    return "\n".join(lines)
