"""Canonical record v1 is pinned: a fixed event gives fixed bytes and a fixed hash, so a release
that changes the record (and would orphan every proof already handed out) fails here first."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from batterytrace.events.battery import Battery
from batterytrace.events.ledger_record import (
    RecordError,
    canonical_json,
    es_number,
    leaf_hash,
    parse_record,
    record_of,
)
from tests.utils.ledger_events import collected

# Changed once before release (issue 15): ``request_id`` ("scan-1" here), a client's idempotency
# key, left the record, so evidence files no longer hand one company another's order numbers.
# The format was not released, so it stays v1; a change after release would need a new version.
PINNED = (
    '{"actor":"91110105MA00000011","aggregate":"3CAPB120A1B2C3R7F0000003","data":{"collection_point_id":'
    '"CP-110105-0001","condition":"intact","energy_kwh":15.3,"late_correction":false,"mass_kg":110.5,'
    '"operator_id":"91110105MA00000011","scanned_by":"张三","source_vin":null},'
    '"occurred_at":"2026-10-01T10:00:00.000000+08:00","prev":"' + "ab" * 32 + '",'
    '"recorded_at":"2026-10-01T10:00:00.123456+08:00","type":"Battery.Collected","v":1,"version":5}'
)
# the hash written out, so that a change of the hashing (not only of the bytes) fails too
PINNED_LEAF = "0fb70b4433d329e538ab8933f500925289a1e4998d3b13eee2e69c8de8f888ca"


def test_a_fixed_event_gives_fixed_bytes_and_hash() -> None:
    record = record_of(collected(), bytes.fromhex("ab" * 32))
    assert record.record == PINNED.encode()
    assert record.leaf == hashlib.sha256(b"\x00" + PINNED.encode()).digest() == leaf_hash(record.record)
    assert record.leaf.hex() == PINNED_LEAF
    assert (record.aggregate, record.version) == ("3CAPB120A1B2C3R7F0000003", 5)


def test_the_first_record_of_a_stream_has_no_previous() -> None:
    assert b'"prev":null' in record_of(collected(), None).record


def test_every_fact_changes_the_record() -> None:
    base = record_of(collected(), None).record
    for change in (
        {"mass_kg": 110.50001},
        {"scanned_by": "李四"},
        {"occurred_at": datetime(2026, 10, 1, 10, 0, 1, tzinfo=UTC)},
        {"originator_version": 6},
        {"actor_id": "91110105MA00000012"},
    ):
        facts = vars(collected()) | change
        assert record_of(Battery.Collected(**facts), None).record != base, change


def test_the_request_id_is_no_fact_of_the_history() -> None:
    """A client's retry key stays out of the record (and so out of every evidence file)."""
    base = record_of(collected(), None).record
    other = record_of(Battery.Collected(**(vars(collected()) | {"request_id": "A-SECRET-123"})), None)
    assert other.record == base and b"request_id" not in base and b"scan-1" not in base


def test_one_instant_has_one_text_whatever_its_zone() -> None:
    event = collected()
    facts = vars(event) | {"occurred_at": event.occurred_at.astimezone(UTC)}
    assert record_of(Battery.Collected(**facts), None).record == record_of(event, None).record


def test_rfc_8785_number_and_string_forms() -> None:
    # RFC 8785 §3.2.2.3 and appendix B: ECMAScript number forms, minimal string escapes
    assert canonical_json({"b": [1e30, 4.5, 0.002, 1e-7, 333333333.3333333], "a": "\u20ac$\u000f\n"}) == (
        '{"a":"€$\\u000f\\n","b":[1e+30,4.5,0.002,1e-7,333333333.3333333]}'.encode()
    )


def test_a_value_without_a_canonical_form_is_refused() -> None:
    facts = vars(collected()) | {"mass_kg": float("nan")}
    with pytest.raises(RecordError):
        record_of(Battery.Collected(**facts), None)
    facts = vars(collected()) | {"condition": object()}
    with pytest.raises(RecordError):
        record_of(Battery.Collected(**facts), None)


def test_parse_accepts_only_canonical_v1() -> None:
    assert parse_record(PINNED.encode())["version"] == 5
    with pytest.raises(RecordError):
        parse_record(PINNED.replace('"v":1,', '"v":1, ').encode())  # not canonical
    with pytest.raises(RecordError):
        parse_record(PINNED.replace('"v":1', '"v":2').encode())
    with pytest.raises(RecordError):
        parse_record(b"not json")


# ------------------------------------------------ RFC 8785 against the reference implementation
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_canonical_json_is_the_reference_implementations(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError):
        with pytest.raises(RecordError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_are_written_as_ecmascript_does(number: float) -> None:
    assert es_number(number).encode() == rfc8785.dumps(number)
    assert canonical_json([number]) == b"[" + rfc8785.dumps(number) + b"]"


def test_keys_beyond_the_basic_plane_sort_by_utf16() -> None:
    value = {"\U0001f600": 1, "\ufb01": 2, "a": 3}  # U+1F600 is D83D DE00 in UTF-16: before U+FB01
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value).decode().index("\U0001f600") < canonical_json(value).decode().index("\ufb01")
