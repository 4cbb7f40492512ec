"""The fast record writer (``ledger_record_writer``) gives ``record_of``'s bytes, or its refusal,
for any event: generated facts of every kind a decoded event can hold (texts beyond ASCII and the
Basic Multilingual Plane, control characters, lone surrogates, integers past 2^53, every float,
NaN, times in any zone, at whole seconds or not, decimals, UUIDs, sets, nested values, keys that
sort differently in UTF-16). A demo store's events are compared in
``tests/integration/test_ledger_record_writer.py``. The tree it feeds (``ledger_log``) is held to
``Frontier.append`` here too."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batterytrace.events.ledger_log import append_events
from batterytrace.events.ledger_merkle import TILE_HEIGHT, Frontier
from batterytrace.events.ledger_record import RecordError, record_of
from batterytrace.events.ledger_record_writer import record_and_leaf, record_bytes
from tests.utils.ledger_events import collected


class Sampled:
    """A stand-in for a decoded domain event: only its ``__dict__`` and class name matter."""

    def __init__(self, facts: dict[str, Any]) -> None:
        self.__dict__.update(facts)


ZONES = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30)), timezone.min]
)
MOMENTS = st.builds(
    lambda moment, zone, whole: (moment.replace(microsecond=0) if whole else moment).replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    ZONES,
    st.booleans(),
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats()
    | st.sampled_from([150.0, -0.0, 1e16, 1e-7, 0.0001, 110.5, 15.3, 2.0**53, float("inf")])
    | st.text()
    | MOMENTS
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.uuids()
)
KEYS = st.text(max_size=6) | st.sampled_from(["\U0001f600", "\ufb01", "a", "é", "mass_kg"])
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.frozensets(st.integers(-5, 5) | st.text(max_size=3), max_size=3)
        | st.dictionaries(KEYS, inner, max_size=3)
    ),
    max_leaves=8,
)
FACTS = st.fixed_dictionaries(
    {
        "originator_id": st.text(min_size=1, max_size=24),
        "originator_version": st.integers(min_value=1, max_value=2**60),
        "timestamp": MOMENTS,
    },
    optional={
        "occurred_at": MOMENTS | st.none() | st.text(max_size=3),
        "actor_id": st.text(max_size=18) | st.none() | st.integers(),
        "originator_topic": st.text(max_size=5),
        "request_id": st.text(max_size=5) | st.none(),
    },
).flatmap(lambda own: st.dictionaries(KEYS, VALUES, max_size=6).map(lambda data: data | own))
PREVS = st.none() | st.binary(min_size=32, max_size=32)


def reference(event: Any, prev: bytes | None) -> tuple[str, int, bytes] | type[Exception]:
    try:
        record = record_of(event, prev)
    except RecordError:
        return RecordError
    return record.aggregate, record.version, record.record


def fast(event: Any, prev: bytes | None) -> tuple[str, int, bytes] | type[Exception]:
    try:
        return record_bytes(event, prev)
    except RecordError:
        return RecordError


@settings(max_examples=400, deadline=None)
@given(FACTS, PREVS)
def test_the_fast_writer_gives_the_reference_records_bytes_or_its_refusal(
    facts: dict[str, Any], prev: bytes | None
) -> None:
    event = Sampled(facts)
    assert fast(event, prev) == reference(event, prev)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(0.5, 500.0)), min_size=1, max_size=40))
def test_the_fold_builds_the_tree_frontier_append_builds(streams: list[tuple[str, float]]) -> None:
    """Leaves chained per stream, nodes and right edge as ``Frontier.append`` gives them."""
    _check_fold(streams)


def test_the_fold_keeps_the_tiles_levels_of_a_larger_tree() -> None:
    """Past 256 leaves the first stored interior nodes (level 8) appear, and only those."""
    streams = [("abc"[i % 3], 1.0 + i) for i in range(700)]
    nodes = _check_fold(streams)
    assert [(level, index) for level, index, _ in nodes] == [(8, 0), (8, 1)]


def _check_fold(streams: list[tuple[str, float]]) -> list[tuple[int, int, bytes]]:
    events, versions = [], {}
    for i, (stream, mass) in enumerate(streams):
        versions[stream] = versions.get(stream, 0) + 1
        facts = {"originator_id": stream, "originator_version": versions[stream], "mass_kg": mass}
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i)
        events.append((100 + i, Sampled(facts | {"timestamp": moment})))
    heads: dict[str, tuple[int, bytes]] = {}
    frontier, leaves, nodes = Frontier(), [], []
    append_events(events, heads, frontier, leaves, nodes)

    expected, chain, expected_nodes = Frontier(), {}, []
    for index, (notification_id, event) in enumerate(events):
        record = record_of(event, chain.get(event.originator_id))
        chain[event.originator_id] = record.leaf
        expected_nodes += [
            node for node in expected.append(record.leaf) if node[0] and not node[0] % TILE_HEIGHT
        ]
        assert leaves[index] == (index, notification_id, record.aggregate, record.version, record.leaf)
    assert nodes == expected_nodes
    assert (frontier.size, frontier.edge, frontier.root()) == (expected.size, expected.edge, expected.root())
    assert heads == {stream: (versions[stream], leaf) for stream, leaf in chain.items()}
    return nodes


def test_a_real_event_and_the_helpers_agree() -> None:
    event = collected(timestamp=datetime(2026, 10, 1, 2, 0, 0, 0, tzinfo=UTC), mass_kg=110.0)
    expected = record_of(event, b"\x01" * 32)
    aggregate, version, record, leaf = record_and_leaf(event, b"\x01" * 32)
    assert (aggregate, version, record) == (expected.aggregate, expected.version, expected.record)
    assert leaf == hashlib.sha256(b"\x00" + record).digest() == expected.leaf
    assert b'"mass_kg":110,' in record and b'"recorded_at":"2026-10-01T10:00:00.000000+08:00"' in record


def test_values_without_a_canonical_form_are_refused_as_the_reference_refuses_them() -> None:
    base = {"originator_id": "x", "originator_version": 1, "timestamp": datetime(2026, 1, 1, tzinfo=UTC)}
    for bad in ({"mass_kg": float("nan")}, {"note": "\ud800"}, {"thing": object()}, {"n": [float("inf")]}):
        event = Sampled(base | bad)
        with pytest.raises(RecordError):
            record_of(event, None)
        with pytest.raises(RecordError):
            record_bytes(event, None)
    kept = Sampled(base | {"id": UUID(int=7), "amount": Decimal("NaN")})  # as the store keeps them: texts
    assert record_bytes(kept, None) == reference(kept, None)
