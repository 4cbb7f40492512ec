"""The ledger's canonical record of one stored event (version "v1"), and its hash.

Why a canonical record and not the stored bytes: the stored form belongs to the ``eventsourcing``
library (its transcoder, its column layout on SQLite and PostgreSQL) and may change with it; the
record is what the platform vouches for, fixed here and pinned by a test, so that anyone can
recompute it from an evidence file with nothing but this definition. It is RFC 8785 (JCS)
canonical JSON of:

- ``v``: the record format, ``1``;
- ``aggregate``, ``version``: the stream (battery code, credit code, point id …) and the
  event's place in it;
- ``type``: the event's class, ``Battery.Collected``;
- ``occurred_at``, ``recorded_at``: when it happened (null for events without a real-world time)
  and when the platform stored it, ISO 8601 with microseconds in China Standard Time;
- ``actor``: who acted (null for events that name no actor field);
- ``data``: every other fact of the event, times written the same way, except the caller's
  ``request_id``;
- ``prev``: the hex leaf hash of the same aggregate's previous record (null for its first), so
  that each stream is a hash chain and one inclusion proof of its last record anchors all of it.

Why ``request_id`` is left out: it is the client's idempotency key (an outlet's scan id, an
ERP order number), transport metadata that makes a retry an answer rather than a second event,
not a fact of the battery's history. An evidence file hands a battery's records to every
participant involved with it, so a key in them would tell one company another's order numbers
(issue 15). What the battery went through, who acted and who was named stay in the record. So
the ledger does not vouch for request ids: an edit of one in the store changes no leaf, and can
change only whether a later retry is answered as a replay, never what the history says. The
format is not released yet, so this is still record v1.

Its leaf in the Merkle tree is ``SHA-256(0x00 || record)`` (``ledger_merkle.leaf_hash``). Pure: no
I/O, no database, no web framework.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring as _encode_string  # type: ignore[attr-defined]
from typing import Any
from uuid import UUID

import orjson

from batterytrace.events.zone import in_china_time

RECORD_VERSION = 1
# Attributes the record names in fields of their own, the library's bookkeeping, or transport
# metadata that is no fact of the history (``request_id``: see above). Every writer of the
# record leaves these out of ``data`` (``ledger_record_writer`` reads this set too).
_OWN_FIELDS = {
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "actor_id",
    "occurred_at",
    "request_id",
}
MAX_RECORD_BYTES = 1_000_000  # an evidence file's record larger than this is refused unread


class RecordError(ValueError):
    """An event (or an evidence file's record) that has no canonical record."""


@dataclass(frozen=True)
class LedgerRecord:
    """One event's canonical bytes and what the chain needs of them."""

    aggregate: str
    version: int
    record: bytes

    @property
    def leaf(self) -> bytes:
        """The record's Merkle leaf hash (RFC 9162 §2.1.1): ``SHA-256(0x00 || record)``."""
        return leaf_hash(self.record)


def leaf_hash(record: bytes) -> bytes:
    """RFC 9162 leaf hash; defined here (not in ``ledger_merkle``) so that the chain's ``prev``
    and the tree's leaves are one definition."""
    return hashlib.sha256(b"\x00" + record).digest()


def canonical_time(moment: datetime) -> str:
    """``2026-11-28T23:22:30.053435+08:00``: always microseconds and the +08:00 offset, so one
    instant has one text (a time without a zone is China Standard Time, the platform's rule)."""
    return in_china_time(moment).isoformat(timespec="microseconds")


def es_number(value: float) -> str:
    """A number as RFC 8785 writes it (ECMAScript's Number.prototype.toString): the shortest
    digits that read back the same double (Python's ``repr`` finds them), placed by the
    ECMAScript rules: ``1e+30``, ``1e-7``, ``0.000001``, ``100`` for 100.0, ``0`` for -0.0."""
    if value != value or value in (float("inf"), float("-inf")):
        raise RecordError(f"{value!r} has no JSON form")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    stripped = digits.lstrip("0")
    n = len(whole) + int(exponent or 0) - (len(digits) - len(stripped))
    s = stripped.rstrip("0")
    k = len(s)
    if k <= n <= 21:
        text = s + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{s[:n]}.{s[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * -n + s
    else:
        e = n - 1
        text = f"{s[0]}{'.' + s[1:] if k > 1 else ''}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text


def _utf16_order(key: str) -> bytes:
    """RFC 8785 sorts member names by their UTF-16 code units (code points differ only beyond
    the Basic Multilingual Plane)."""
    return key.encode("utf-16-be", "surrogatepass")


def _write(value: Any, path: str, out: list[str]) -> None:
    """Append ``value``'s RFC 8785 text to ``out``: one pass, no intermediate tree (the ledger
    view serialises every event; the reference library was 20x slower)."""
    if isinstance(value, str):
        out.append(_string(value, path))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value) if -(2**53) < value < 2**53 else es_number(float(value)))
    elif isinstance(value, float):
        try:
            out.append(es_number(value))
        except RecordError:
            raise RecordError(f"{path}: {value!r} has no JSON form") from None
    elif isinstance(value, datetime):
        out.append(_string(canonical_time(value), path))
    elif isinstance(value, date):
        out.append(_string(value.isoformat(), path))
    elif isinstance(value, UUID | Decimal):
        out.append(_string(str(value), path))
    elif isinstance(value, Mapping):
        keys = {str(key): item for key, item in value.items()}
        out.append("{")
        for i, key in enumerate(sorted(keys, key=_utf16_order)):
            if i:
                out.append(",")
            out.append(_string(key, path))
            out.append(":")
            _write(keys[key], f"{path}.{key}", out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, f"{path}[{i}]", out)
        out.append("]")
    elif isinstance(value, set | frozenset):  # no order of its own: its members' texts, sorted
        texts = sorted(canonical_json(item).decode() for item in value)
        out.append("[" + ",".join(texts) + "]")
    else:
        raise RecordError(f"{path}: a {type(value).__name__} has no canonical form in record v1")


def _string(text: str, path: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError(f"{path}: a string with a lone surrogate has no UTF-8 form") from None
    return _encode_string(text)


def record_fields(event: Any, prev: bytes | None) -> dict[str, Any]:
    """The record's fields for a domain event (before serialisation)."""
    facts = vars(event)
    occurred = facts.get("occurred_at")
    actor = facts.get("actor_id")
    return {
        "v": RECORD_VERSION,
        "aggregate": str(event.originator_id),
        "version": int(event.originator_version),
        "type": type(event).__qualname__,
        "occurred_at": canonical_time(occurred) if isinstance(occurred, datetime) else None,
        "recorded_at": canonical_time(event.timestamp),
        "actor": actor if isinstance(actor, str) else None,
        "data": {key: value for key, value in facts.items() if key not in _OWN_FIELDS},
        "prev": prev.hex() if prev is not None else None,
    }


class _NeedsCareful(Exception):
    """A value the fast path cannot write exactly as RFC 8785 does."""


_PLAIN = frozenset({str, bool, type(None)})
_FAST_FLOAT_LOW, _FAST_FLOAT_HIGH = 1e-4, 1e16  # Python's repr is positional here, as ECMAScript's is


def _prepared(value: Any) -> Any:
    """``value`` made ready for the C JSON encoder, whose output is then RFC 8785's: times as
    their text, integral floats as ints (``150.0`` is written ``150``). Anything it would write
    differently (exponent floats, big integers, sets, keys beyond ASCII) goes the careful way."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if -(2**53) < value < 2**53:
            return value
        raise _NeedsCareful
    if kind is float:
        if value.is_integer():
            if -(2**53) < value < 2**53:
                return int(value)
            raise _NeedsCareful
        if _FAST_FLOAT_LOW <= abs(value) < _FAST_FLOAT_HIGH:
            return value
        raise _NeedsCareful
    if kind is dict:
        if not all(type(key) is str and key.isascii() for key in value):
            raise _NeedsCareful
        # plain texts, flags and nulls (most of an event) pass without a call
        return {key: item if type(item) in _PLAIN else _prepared(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [item if type(item) in _PLAIN else _prepared(item) for item in value]
    if isinstance(value, datetime):
        return canonical_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)  # as the event store's transcoder keeps them: text
    raise _NeedsCareful


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON (sorted keys, no spaces, ECMAScript numbers, UTF-8).

    Two paths that write the same bytes (a property test holds them to the ``rfc8785`` library):
    ``orjson`` for the values every event has (once ``_prepared``), and a careful writer for the
    rest."""
    try:
        return orjson.dumps(_prepared(value), option=orjson.OPT_SORT_KEYS)
    except _NeedsCareful:
        pass
    except orjson.JSONEncodeError as error:
        raise RecordError(f"no canonical JSON: {error}") from None  # a lone surrogate
    out: list[str] = []
    _write(value, "record", out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError("a string with a lone surrogate has no UTF-8 form") from None


def record_of(event: Any, prev: bytes | None) -> LedgerRecord:
    """The canonical record of a stored domain event, chained to ``prev`` (the previous
    record's leaf hash of the same aggregate, None for its first event)."""
    fields = record_fields(event, prev)
    return LedgerRecord(fields["aggregate"], fields["version"], canonical_json(fields))


def parse_record(record: bytes) -> dict[str, Any]:
    """An evidence file's record read back, checked to be canonical record v1 exactly (the
    bytes re-serialise to themselves), so that two texts never stand for one record."""
    if len(record) > MAX_RECORD_BYTES:
        raise RecordError(f"a record of {len(record)} bytes is larger than {MAX_RECORD_BYTES}")
    try:
        fields = json.loads(record)
    except (ValueError, UnicodeDecodeError) as error:
        raise RecordError(f"not JSON: {error}") from None
    if not isinstance(fields, dict) or fields.get("v") != RECORD_VERSION:
        raise RecordError("not a ledger record v1")
    missing = {"aggregate", "version", "type", "recorded_at", "data", "prev"} - fields.keys()
    if missing:
        raise RecordError(f"a record v1 without {', '.join(sorted(missing))}")
    if canonical_json(fields) != record:
        raise RecordError("the record is not in RFC 8785 canonical form")
    return fields
