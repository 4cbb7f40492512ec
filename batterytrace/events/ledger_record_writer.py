"""Canonical records (``ledger_record``, v1) written fast, for the ledger's rebuild and ``verify``.

Why a second writer: a rebuild and ``verify`` compute the record of every stored event, and the
reference path (``record_of``: the fields as a dict, every value walked by ``_prepared``, every
time formatted by ``isoformat``) cost more CPU than everything else the ledger does. This writer
gives the very same bytes with fewer steps:

- the event's facts are copied once and its own fields deleted, instead of a comprehension;
  which of them it has, and whether its attributes' names are ASCII, is found once for each
  "shape" (the names in their order: every event of a class, as a rule);
- the data's values are checked by their types in one C call (``issuperset(map(type, …))``):
  strings, flags, nulls and integers (orjson's ``OPT_STRICT_INTEGER`` refuses those RFC 8785
  writes otherwise) go to orjson as they are; floats are checked one by one; anything else
  (lists, mappings, datetimes, decimals) is made ready by ``ledger_record._prepared``;
- times are formatted by orjson (C), a UTC timestamp moved on eight hours rather than converted:
  its text is RFC 3339 with the offset and six digits of microseconds, except at a whole second,
  where it leaves them out and they are put back here;
- whatever it is not sure of (a key beyond ASCII, a value orjson refuses, a float written with an
  exponent) goes the reference way, ``record_of``, so no input is ever written differently.

``tests/unit/test_ledger_record_writer.py`` holds it equal to ``record_of`` on every event of a
demo store and on generated values. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from batterytrace.events import ledger_record
from batterytrace.events.ledger_record import RECORD_VERSION, record_of
from batterytrace.events.zone import CHINA_STANDARD_TIME, china_local

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_DIRECT = frozenset({str, bool, int, type(None)})  # written by orjson exactly as RFC 8785 writes them
_FLOAT_LOW, _FLOAT_HIGH = 1e-4, 1e16  # as ``ledger_record._prepared``: positional in both writers
_SAFE_INTEGER = 2.0**53  # RFC 8785 writes larger integral numbers with an exponent
_prepared = ledger_record._prepared
_NeedsCareful = ledger_record._NeedsCareful
_sha256 = hashlib.sha256
_all_direct = _DIRECT.issuperset  # over an iterator: no set made; stops at the first other type
_EIGHT_HOURS = timedelta(hours=8)
# The own fields to leave out of ``data``, by an event's attribute names in their order (its
# "shape"): found once a shape, instead of popping all seven and checking the keys are ASCII.
_SHAPES: dict[tuple[str, ...], tuple[str, ...]] = {}
_SHAPES_KEPT = 4_096


class _Reference(Exception):
    """This event is written by the reference path."""


def record_bytes(event: Any, prev: bytes | None) -> tuple[str, int, bytes]:
    """``(aggregate, version, record)``: the same as ``record_of(event, prev)``'s fields."""
    try:
        facts = event.__dict__
        shape = tuple(facts)
        own = _SHAPES.get(shape)
        if own is None:
            own = _shape(shape)
        data = facts.copy()
        for key in own:
            del data[key]
        if not _all_direct(map(type, data.values())):
            _make_ready(data)
        aggregate = str(facts["originator_id"])
        version = facts["originator_version"]
        if type(version) is not int:
            version = int(version)
        occurred = facts.get("occurred_at")
        actor = facts.get("actor_id")
        return (
            aggregate,
            version,
            orjson.dumps(
                {
                    "actor": actor if isinstance(actor, str) else None,
                    "aggregate": aggregate,
                    "data": data,
                    "occurred_at": _time(occurred) if isinstance(occurred, datetime) else None,
                    "prev": prev.hex() if prev is not None else None,
                    "recorded_at": _time(facts["timestamp"]),
                    "type": type(event).__qualname__,
                    "v": RECORD_VERSION,
                    "version": version,
                },
                option=_OPTIONS,
            ),
        )
    except (_Reference, _NeedsCareful, orjson.JSONEncodeError, TypeError, ValueError, AttributeError):
        record = record_of(event, prev)  # the reference path: the same bytes, or its RecordError
        return record.aggregate, record.version, record.record


def _shape(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The own fields among an event's attributes ``keys`` (in their order), kept in ``_SHAPES``
    for the next event with the same attributes (every event of a class, as a rule); raises
    ``_Reference`` for attributes beyond ASCII (RFC 8785 orders such keys by UTF-16, orjson by
    code point), or that are not all strings."""
    if not all(type(key) is str for key in keys) or not "".join(keys).isascii():
        raise _Reference
    if len(_SHAPES) >= _SHAPES_KEPT:
        _SHAPES.clear()
    own = _SHAPES[keys] = tuple(key for key in keys if key in ledger_record._OWN_FIELDS)
    return own


def record_and_leaf(event: Any, prev: bytes | None) -> tuple[str, int, bytes, bytes]:
    """``(aggregate, version, record, leaf hash)``."""
    aggregate, version, record = record_bytes(event, prev)
    return aggregate, version, record, _sha256(b"\x00" + record).digest()


def _make_ready(data: dict[str, Any]) -> None:
    """``data``'s values made ready for orjson in place (it is the writer's copy): integral
    floats as integers (``150.0`` is written ``150``), lists and mappings as ``_prepared``
    makes them; ``_Reference`` for a float orjson would write otherwise (an exponent, NaN)."""
    for key, value in data.items():  # values replaced, keys unchanged: iterating stays valid
        kind = type(value)
        if kind in _DIRECT:  # most of the values: one test
            continue
        if kind is float:
            if value.is_integer():
                if not -_SAFE_INTEGER < value < _SAFE_INTEGER:
                    raise _Reference
                data[key] = int(value)
            elif not _FLOAT_LOW <= abs(value) < _FLOAT_HIGH:
                raise _Reference
        elif (kind is not list and kind is not tuple) or value:
            data[key] = _prepared(value)  # an empty list or tuple is written [] as it is


def _time(moment: datetime) -> datetime | str:
    """``canonical_time``, as orjson is to write it: the moment in China Standard Time, given to
    orjson as it is when it has microseconds (its text is then RFC 3339 with all six digits and
    ``+08:00``, written in C), else as orjson's text with the ``.000000`` it leaves out at a whole
    second. A moment already at +08:00 (as reported times are stored) is not converted: its text
    depends only on the offset.

    A moment in UTC (every stored event's timestamp) is moved on by eight hours instead, which
    gives it China Standard Time's fields, and its text's ``+00:00`` made ``+08:00``: converting
    it (``astimezone``), and orjson asking the converted moment's zone for its offset, were half
    the cost of the record's two times. Past year 9999 it raises OverflowError, as ``astimezone``
    (and so ``record_of``) does."""
    zone = moment.tzinfo
    if zone is UTC:  # as the library stores timestamps (``recorded_at``)
        text = orjson.dumps(moment + _EIGHT_HOURS)  # b'"2026-10-01T10:00:00.123456+00:00"'
        if moment.microsecond:
            return (text[1:27] + b"+08:00").decode()
        return (text[1:20] + b".000000+08:00").decode()
    moment = moment.replace(tzinfo=CHINA_STANDARD_TIME) if zone is None else china_local(moment)
    if moment.microsecond:
        return moment
    text = orjson.dumps(moment)  # b'"2026-10-01T10:00:00+08:00"'
    return (text[1:20] + b".000000" + text[20:-1]).decode()
