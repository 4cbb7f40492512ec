"""The PostgreSQL recorder that binds the library's insert in binary (``postgres_recorder.py``).

What must hold: it is the one the service uses on PostgreSQL; events go in and come back byte for
byte (non-ASCII text, every byte value of the state); a collision is still the library's
``IntegrityError`` with nothing of the batch stored; notification ids come back in the batch's
order; and a library upgrade that changes the statement is refused loudly, not bound wrongly.
"""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

from batterytrace.postgres_recorder import BinaryInsertRecorder, binary_insert_statement
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def service(postgres_url: str) -> BatteryTrace:
    app = BatteryTrace(Settings(database_url=postgres_url))
    yield app
    app.close()


def stored(stream: str, version: int, state: bytes) -> StoredEvent:
    return StoredEvent(originator_id=stream, originator_version=version, topic="t:T", state=state)


def test_the_service_records_through_the_binary_insert(service: BatteryTrace) -> None:
    assert type(service.recorder) is BinaryInsertRecorder
    statement = service.recorder.insert_events_statement.as_string()
    assert "unnest(%b::" in statement and "%s" not in statement
    assert statement.endswith("RETURNING notification_id")


def test_events_come_back_byte_for_byte_with_their_notification_ids_in_order(service: BatteryTrace) -> None:
    states = [bytes(range(256)), "宁德时代 — Ⅱ型 \\ \" ' , ( ) { }".encode(), b"", b"\x00\\x00"]
    events = [stored(f"S-{n}", 1, state) for n, state in enumerate(states)]
    events.append(stored("S-0", 2, b'{"a":"\\u5b81"}'))

    ids = service.recorder.insert_events(events)

    assert ids is not None and len(ids) == 5 and ids == sorted(ids) and len(set(ids)) == 5
    for event in events:
        [back] = [
            e
            for e in service.recorder.select_events(event.originator_id)
            if e.originator_version == event.originator_version
        ]
        assert (back.topic, bytes(back.state)) == (event.topic, event.state)
    notified = service.recorder.select_notifications(start=ids[0], limit=10)
    assert [(n.originator_id, n.originator_version) for n in notified] == [
        (e.originator_id, e.originator_version) for e in events
    ]


def test_a_collision_is_the_librarys_integrity_error_and_stores_nothing_of_the_batch(
    service: BatteryTrace,
) -> None:
    service.recorder.insert_events([stored("TAKEN", 1, b"first")])
    head = service.recorder.max_notification_id()

    with pytest.raises(IntegrityError):
        service.recorder.insert_events([stored("NEW", 1, b"x"), stored("TAKEN", 1, b"second")])

    assert service.recorder.select_events("NEW") == []
    assert [bytes(e.state) for e in service.recorder.select_events("TAKEN")] == [b"first"]
    assert service.recorder.max_notification_id() == head


def test_the_library_statement_is_rebound_only_when_it_has_the_one_expected_parameter(
    service: BatteryTrace,
) -> None:
    library = PostgresApplicationRecorder(service.recorder.datastore, events_table_name="other_events")
    text = library.insert_events_statement.as_string()
    assert binary_insert_statement(text) == text.replace("unnest(%s::", "unnest(%b::")
    with pytest.raises(RuntimeError, match="insert statement changed"):
        binary_insert_statement(text.replace("unnest(%s::", "unnest(%s, %s::"))
    with pytest.raises(RuntimeError, match="insert statement changed"):
        binary_insert_statement("INSERT INTO t SELECT * FROM somewhere_else(%s)")
