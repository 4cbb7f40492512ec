"""The rebuild's faster writes give what the plain ones gave: a binary ``COPY`` only for values
its packing takes exactly as the text would be read, rows as tuples converted as rows as dicts,
and kept float thousandths equal to computed ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import JSON, Column, Integer, MetaData, Table, create_engine
from sqlalchemy.dialects.postgresql import JSONB

from batterytrace.projections.fresh_tables import _as_tuples, _binary_types
from batterytrace.projections.quantities import thousandths
from batterytrace.projections.tables import lifecycle_events

CHINA = timezone(timedelta(hours=8))
MOMENT = datetime(2024, 3, 1, 8, 0, tzinfo=CHINA)


def timeline_row(**changes: object) -> tuple[object, ...]:
    row = {
        "code": "001PEBC120A1B2C3C4010001",
        "version": 2,
        "position": 17,
        "event": "Installed",
        "occurred_at": MOMENT,
        "recorded_at": MOMENT.astimezone(UTC),
        "actor_id": "91440300MAQPE5QAQY",
        "late_correction": False,
        "reported_late": True,
        "details": '{"vin": "LSVAA1234567890AB"}',
        **changes,
    }
    return tuple(row.values())


def test_binary_copy_is_used_only_for_values_packed_exactly_as_their_text_is_read() -> None:
    types = ["text", "int4", "int8", "text", "timestamptz", "timestamptz", "text", "bool", "bool", "text"]
    assert _binary_types(lifecycle_events, [timeline_row(), timeline_row(details=None)]) == types
    as_text = [
        timeline_row(occurred_at=MOMENT.replace(tzinfo=None)),  # naive: read in the session's zone
        timeline_row(late_correction=0),  # an int where a bool goes
        timeline_row(version=True),  # a bool where an int goes
        timeline_row(details={"vin": "x"}),  # JSON not yet text
        timeline_row(occurred_at="2024-03-01 00:00:00"),  # a time as text
    ]
    for row in as_text:
        assert _binary_types(lifecycle_events, [timeline_row(), row]) is None, row
    assert _binary_types(lifecycle_events, iter([timeline_row()])) is None  # type: ignore[arg-type]


def test_a_column_whose_server_type_may_differ_is_copied_as_text() -> None:
    """JSON with a PostgreSQL variant is JSONB there, whose binary format is not its text's."""
    documents = Table(
        "documents",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("body", JSON().with_variant(JSONB(), "postgresql")),
        Column("plain", JSON()),
    )
    assert _binary_types(documents, [(1, '{"a": 1}', '{"b": 2}')]) is None
    plain = Table("plain", MetaData(), Column("id", Integer, primary_key=True), Column("body", JSON()))
    assert _binary_types(plain, [(1, '{"a": 1}')]) == ["int4", "text"]


def test_rows_as_tuples_are_converted_as_rows_as_dicts() -> None:
    names = [c.name for c in lifecycle_events.columns]
    tuples = [timeline_row(), timeline_row(details=None, occurred_at=MOMENT + timedelta(microseconds=5))]
    dicts = [dict(zip(names, row, strict=True)) for row in tuples]
    with create_engine("sqlite://").connect() as connection:
        converted = _as_tuples(connection.dialect, lifecycle_events, tuples)
        assert converted == _as_tuples(connection.dialect, lifecycle_events, dicts)
    assert converted[0][4:6] == ("2024-03-01 00:00:00.000000", "2024-03-01 00:00:00.000000")
    assert converted[1][4] == "2024-03-01 00:00:00.000005"


def decimal_thousandths(value: float) -> int:
    return int((Decimal(repr(value)) * 1000).to_integral_value(ROUND_HALF_UP))


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_kept_float_thousandths_equal_computed_ones(value: float) -> None:
    assert thousandths(value) == decimal_thousandths(value)
    assert thousandths(value) == decimal_thousandths(value)  # the second time from what was kept


def test_thousandths_of_other_values_are_not_taken_from_kept_floats() -> None:
    assert thousandths(0.0005) == 1 and thousandths(-0.0) == 0 and thousandths(1.0) == 1000
    assert thousandths(1) == 1000 and thousandths("0.0005") == 1 and thousandths(None) == 0
