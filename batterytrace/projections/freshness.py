"""Whether the views already hold every stored event, answered without the event-sourcing
application.

Read-only commands (``show``, ``report``) would otherwise build the application and a view runner
only to learn that there is nothing to catch up, and that is most of their start-up (the
aggregates' classes, the library's recorders). Two plain reads answer it: each view's position and
fingerprint (``view_positions``) and the newest notification id in the event store. Anything
unexpected (a table missing, another fingerprint, one event not applied yet) answers "no", and the
caller takes the full path, which catches up or rebuilds.

The same question is asked in two ways: through SQLAlchemy here (``views_are_current``), and
through the DB-API driver alone by the CLI's quick reads (``plain_reads.open_current_views``, with
the tables' fingerprints written down in ``plain_schema``); both decide with ``holds_every_event``.
So this module loads SQLAlchemy and the tables only inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from batterytrace.events.working_days import WorkingCalendar

if TYPE_CHECKING:
    from sqlalchemy import Engine

# The views whose rows depend on the working calendar and deadline table: the lifecycle view's
# late-report flags and the reports view's findings (the runner checks that its views agree).
CALENDAR_VIEWS = frozenset({"lifecycle", "reports"})
SETTINGS_SEPARATOR = "+"  # between the tables' and the settings' parts of a stored fingerprint

# The event store's newest notification id, in the eventsourcing library's own table (9.5: SQLite
# ``stored_events``, numbered by rowid; PostgreSQL ``<application name>_events``, numbered in
# ``notification_id``, in the URL's schema, which the view engine's search path names).
# tests/integration/test_view_freshness.py checks both against the library's recorder.
_STORE_HEAD = {
    "sqlite": "SELECT MAX(rowid) FROM stored_events",
    "postgresql": "SELECT MAX(notification_id) FROM batterytrace_events",
}


def calendar_fingerprint(calendar: WorkingCalendar) -> str:
    """A short digest of the settings a calendar view's rows depend on: the reporting deadline
    table (BATTERYTRACE_DEADLINES over the defaults), the holidays and the working weekends."""
    settings = {
        "deadlines": calendar.deadlines.rows(),
        "holidays": sorted(day.isoformat() for day in calendar.holidays),
        "working_weekends": sorted(day.isoformat() for day in calendar.working_weekends),
    }
    digest = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(digest.encode()).hexdigest()[:16]


def expected_fingerprint(
    name: str, calendar: WorkingCalendar, tables_fingerprint: Callable[[str], str] | None = None
) -> str:
    """The fingerprint a default view built by this release with these settings stores: its
    tables' part from ``tables_fingerprint`` (default: ``tables.schema_fingerprint``)."""
    if tables_fingerprint is None:
        from batterytrace.projections.tables import schema_fingerprint as tables_fingerprint
    tables = tables_fingerprint(name)
    if name in CALENDAR_VIEWS:
        return f"{tables}{SETTINGS_SEPARATOR}{calendar_fingerprint(calendar)}"
    return tables


def holds_every_event(
    stored: Mapping[str, tuple[int, str]], head: int, expected: Mapping[str, str], views: Iterable[str]
) -> bool:
    """Whether each of ``views`` has a position row (``stored``: view -> (position, fingerprint))
    with the ``expected`` fingerprint and a position at the store's ``head`` or past it."""
    return all(
        name in stored and stored[name][1] == expected[name] and stored[name][0] >= head for name in views
    )


def views_are_current(engine: Engine, calendar: WorkingCalendar, store: Engine | None = None) -> bool:
    """True when every view was built by this release with these settings and has applied the
    newest stored event; False when anything must be caught up, rebuilt or cannot be read.
    ``store``: an engine on the event store's database when the views are in another one (the
    head is then read there, after the positions: a later head can only make the views look
    behind, never ahead)."""
    from sqlalchemy import select, text
    from sqlalchemy.exc import SQLAlchemyError

    from batterytrace.projections.database import read_session
    from batterytrace.projections.tables import VIEWS, positions

    head_sql = _STORE_HEAD.get((store or engine).dialect.name)
    if head_sql is None:
        return False
    try:
        with read_session(engine) as connection:
            rows = connection.execute(select(positions.c.view, positions.c.position, positions.c.schema))
            stored = {row.view: (row.position, row.schema) for row in rows}
            if store is None:
                head = connection.execute(text(head_sql)).scalar() or 0
        if store is not None:
            with read_session(store) as connection:
                head = connection.execute(text(head_sql)).scalar() or 0
    except SQLAlchemyError:  # no views yet, no store yet: the full path creates them
        return False
    expected = {name: expected_fingerprint(name, calendar) for name in VIEWS}
    return holds_every_event(stored, head, expected, VIEWS)
