"""The PostgreSQL event recorder, with the library's insert sending its events in binary.

Why: the ``eventsourcing`` library inserts a batch of events as one array of its composite type
``stored_event_text`` bound with ``%s``, and psycopg then dumps that array as *text*: every
event's state becomes hex, is quoted and regex-escaped once as a field of the composite and again
as an element of the array, in Python. That costs ~50 µs per event of 550 bytes (a production),
more than PostgreSQL takes to insert it, and grows with the event; it was most of what a bulk
import on PostgreSQL cost beyond SQLite (issue 13, bench P1). Bound with ``%b`` the same array
goes in psycopg's binary format (state bytes as they are, no escaping): ~12 µs per event.

Everything else is the library's: the statement (read from the library's own recorder, so an
upgrade that changes it is followed, and refused loudly if it no longer has the one placeholder),
the table lock that keeps notification ids in commit order, NOTIFY, the unique (stream, version)
key and its ``IntegrityError``, the returned notification ids. Used by ``BatteryTrace`` through
the library's ``APPLICATION_RECORDER_TOPIC`` (``RECORDER_TOPIC``) on PostgreSQL only.
"""

from __future__ import annotations

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL

RECORDER_TOPIC = "batterytrace.postgres_recorder:BinaryInsertRecorder"
_TEXT_ARRAY = "unnest(%s::"
_BINARY_ARRAY = "unnest(%b::"


def binary_insert_statement(library_statement: str) -> str:
    """The library's insert with its one array parameter bound in binary."""
    if library_statement.count("%s") != 1 or library_statement.count(_TEXT_ARRAY) != 1:
        raise RuntimeError(
            "the eventsourcing library's insert statement changed (expected one "
            f"'{_TEXT_ARRAY}…' parameter): {library_statement!r}; update batterytrace/postgres_recorder.py"
        )
    return library_statement.replace(_TEXT_ARRAY, _BINARY_ARRAY)


class BinaryInsertRecorder(PostgresApplicationRecorder):
    """``PostgresApplicationRecorder`` whose insert binds the events' array in binary format."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        library = self.insert_events_statement.as_string()
        self.insert_events_statement = SQL(binary_insert_statement(library))  # type: ignore[arg-type]
