"""Stored notifications back into domain events, faster than the library's mapper, for rebuilds.

Why: a rebuild decodes every stored event, and parsing its JSON with the standard ``json`` module
(as the library's mapper does, eventsourcing 9.5) costs about twice as much as reading the row.
Here the JSON is parsed by orjson and only the objects that carry a transcoded value
(``{"_type_": …, "_data_": …}``: datetimes, decimals …) are revived afterwards, with the mapper's
own transcodings; the event is made the way the mapper makes it (topic resolved, id converted,
class versions upcast, ``__dict__`` set). ``tests/integration/test_setwise_rebuild.py`` checks
that every stored event of a varied store and of a demo decodes equal to the mapper's.

A mapper that enciphers or compresses, or whose transcoder is not the library's JSON one, is used
as it is: this module only speeds up the common case, it never guesses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, find_id_convertor
from eventsourcing.utils import resolve_topic

from batterytrace.projections.event_source import EventDecoder

Decode = Callable[[Any], Any]


def fast_decoder(mapper: EventDecoder) -> Decode:
    """A function from a stored notification to its domain event, equal to
    ``mapper.to_domain_event``."""
    transcoder = getattr(mapper, "transcoder", None)
    if (
        type(transcoder) is not JSONTranscoder
        or getattr(mapper, "cipher", None)
        or getattr(mapper, "compressor", None)
    ):
        return mapper.to_domain_event
    return _JSONDecoder(transcoder).decode


def decode_all(decode: Decode, notifications: Sequence[Any]) -> list[tuple[int, Any]]:
    """``(notification id, domain event)`` for each notification, in order."""
    return [(n.id, decode(n)) for n in notifications]


class _JSONDecoder:
    def __init__(self, transcoder: JSONTranscoder) -> None:
        self._names = transcoder.names
        self._classes: dict[str, tuple[type, Callable[[Any], Any]]] = {}
        # The library's own transcodings of a text (datetimes, decimals: two or three in every
        # event) made by their constructor directly, without the transcoding's method around it.
        self._from_text: dict[str, Callable[[str], Any]] = {
            name: _FROM_TEXT[type(transcoding)]
            for name, transcoding in transcoder.names.items()
            if type(transcoding) in _FROM_TEXT
        }

    def decode(self, stored: Any) -> Any:
        topic = stored.topic
        known = self._classes.get(topic)
        if known is None:
            cls = resolve_topic(topic)
            known = self._classes[topic] = (cls, find_id_convertor(cls, type(stored.originator_id)))
        cls, convert_id = known
        state = parse_stored_state(stored.state)
        revive = self._revive
        for key, value in state.items():
            if type(value) in _CONTAINERS:
                state[key] = revive(value)
        state["originator_id"] = convert_id(stored.originator_id)
        state["originator_version"] = stored.originator_version
        class_version = getattr(cls, "class_version", 1)
        from_version = state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event

    def _revive(self, value: Any) -> Any:
        """What the library's ``object_hook`` makes of ``value``: inner objects first."""
        if type(value) is list:
            return [self._revive(v) if type(v) in _CONTAINERS else v for v in value]
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            data = value["_data_"]
            if type(data) is str:
                from_text = self._from_text.get(value["_type_"])
                if from_text is not None:
                    return from_text(data)
            elif type(data) in _CONTAINERS:
                data = self._revive(data)
            return self._names[value["_type_"]].decode(data)
        for key, inner in value.items():
            if type(inner) in _CONTAINERS:
                value[key] = self._revive(inner)
        return value


_CONTAINERS = frozenset({dict, list})
# The library's transcodings that make their value from its text by one constructor (their
# ``decode`` checks it is a text and calls it): called directly for a text.
_FROM_TEXT: dict[type, Callable[[str], Any]] = {
    DatetimeAsISO: datetime.fromisoformat,
    DecimalAsStr: Decimal,
}


def parse_stored_state(state: Any) -> Any:
    """orjson where it can (a C parser, 3-4 times as fast as ``json``); ``json`` for what orjson
    reads otherwise or refuses (integers beyond 64 bits, NaN), as the mapper would read it."""
    text = state if isinstance(state, str | bytes) else bytes(state)  # as the recorder gives it
    if not _long_digits(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def _long_digits(text: str | bytes) -> bool:
    """A run of 19 digits or more (which an integer beyond 64 bits needs: orjson reads it as a
    float where ``json`` keeps it whole, so such an event goes to ``json``). Bytes (what both
    recorders give) are checked by one ``translate`` (every digit to ``0``, all else to a space)
    and one substring search, ten times as fast as the regular expression."""
    if isinstance(text, str):
        return _LONG_DIGITS_TEXT(text) is not None
    return _NINETEEN_ZEROS in text.translate(_DIGITS_AS_ZEROS)


_LONG_DIGITS_TEXT = re.compile(r"[0-9]{19}").search
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_NINETEEN_ZEROS = b"0" * 19
