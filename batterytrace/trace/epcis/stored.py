"""Battery events read from the store's log for an export, without being made domain events.

Why: a whole store's export reads every stored event only to write its EPCIS form, and making the
domain event (reviving its transcoded values, its times as datetimes, then the object) costs
about as much as reading the row. Here the stored JSON is parsed (by ``stored_decoding``'s orjson
reader) and its state kept as the writer reads it: the event's attributes by name, its two times
as stored (``{"_type_": "datetime_iso", "_data_": text}``), which ``events.iso_in_china_time``
turns into the document's text directly. The domain event is made only when asked for
(``Logged.event``: a query's filters, a removal's holder looked up in the stream).

Only the common case is read this way: a state whose transcoded values are exactly its two
times, of a class without upcasting. Anything else (another transcoded value, a class version,
a mapper that enciphers or compresses) is decoded as the mapper would, and its state is the
event's own attributes, so the writer reads both alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import resolve_topic

from batterytrace.events.custody import NOBODY, Custody
from batterytrace.projections.stored_decoding import Decode, parse_stored_state
from batterytrace.trace.ledger.leaf_hashes import LoggedLeaf

_TRANSCODED = b'"_type_"'
_TIMES = ("occurred_at", "timestamp")
_TRANSCODED_TIMES = len(_TIMES)
_DATETIME = "datetime_iso"


class Logged:
    """A battery event of the log as the export reads it: like ``events.Seen`` (``before``,
    ``knows_vin``, ``leaf``, ``event``), with its state read from the store and its domain
    event made only when asked for."""

    __slots__ = (
        "_decode",
        "_event",
        "_stored",
        "before",
        "code",
        "event_class",
        "kept",
        "knows_vin",
        "leaf",
        "state",
    )

    def __init__(
        self,
        stored: Any,
        event_class: type,
        code: str,
        state: Mapping[str, Any],
        decode: Decode,
        event: Any = None,
        kept: bytes | Mapping[str, Any] | None = None,
    ) -> None:
        self._stored = stored
        self.event_class = event_class
        self.code = code
        self.state = state
        self._decode = decode
        self._event = event
        # What a later event of the battery may need of this one (its state, for the holder
        # before a removal), as the least the garbage collector tracks: the stored text (bytes)
        # when the state was read from it (``kept_state`` reads it again), else the state.
        self.kept = state if kept is None else kept
        self.before: Custody = NOBODY
        self.knows_vin = True
        self.leaf: LoggedLeaf | None = None

    @property
    def version(self) -> int:
        return self._stored.originator_version

    @property
    def event(self) -> Any:
        """The domain event, made on first use (as the mapper makes it)."""
        if self._event is None:
            self._event = self._decode(self._stored)
        return self._event

    def parts(self) -> tuple[type, Mapping[str, Any], str, int]:
        """What the writer reads: as ``Seen.parts``, from the stored state."""
        return self.event_class, self.state, self.code, self._stored.originator_version


class LogReader:
    """Stored notifications as ``Logged`` events, for one application's mapper."""

    def __init__(self, mapper: Any, decode: Decode) -> None:
        self._decode = decode
        self._classes: dict[str, tuple[type, bool]] = {}  # topic -> (class, read from its state)
        transcoder = getattr(mapper, "transcoder", None)
        self._plain_json = (
            type(transcoder) is JSONTranscoder
            and not getattr(mapper, "cipher", None)
            and not getattr(mapper, "compressor", None)
        )

    def read(self, stored: Any, code: str) -> Logged:
        """The stored event ``stored`` of the battery ``code``."""
        topic = stored.topic
        known = self._classes.get(topic)
        if known is None:
            cls = resolve_topic(topic)
            known = self._classes[topic] = (cls, self._plain_json and getattr(cls, "class_version", 1) == 1)
        cls, readable = known
        raw = stored.state  # bytes from both recorders; anything else is decoded
        if readable and type(raw) is bytes and raw.count(_TRANSCODED) == _TRANSCODED_TIMES:
            state = parse_stored_state(raw)
            if _times_as_stored(state):
                return Logged(stored, cls, code, state, self._decode, None, raw)
        event = self._decode(stored)
        return Logged(stored, cls, code, vars(event), self._decode, event)


def kept_state(kept: bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    """The state ``Logged.kept`` holds: read again from the stored text, or as it is."""
    return parse_stored_state(kept) if type(kept) is bytes else kept


def _times_as_stored(state: dict[str, Any]) -> bool:
    """Whether the state's two transcoded values (the text holds two, ``LogReader.read``) are its
    times as datetimes, and the class has no version to upcast from."""
    occurred, recorded = state.get("occurred_at"), state.get("timestamp")
    return (
        type(occurred) is dict
        and type(recorded) is dict
        and occurred.get("_type_") == _DATETIME
        and recorded.get("_type_") == _DATETIME
        and "class_version" not in state
    )
