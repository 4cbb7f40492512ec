"""The EPCIS 2.0 query subset a partner needs: events by battery, business step and time, paged.

``MATCH_epc`` (a battery as object, input or output of the event), ``EQ_bizStep``,
``GE_eventTime``/``LT_eventTime`` and ``GE_recordTime``, over the events the caller may read
(``source.py``), in the order they were recorded. Paging follows the standard's REST binding: at
most ``perPage`` events, and a ``nextPageToken`` (opaque to the client: the log position to go on
after) while more may follow. A page also ends after ``SCAN_LIMIT`` events looked at, so that a
rare filter over a national store answers in bounded time, with a token to go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from batterytrace.events.epcis_mapping import IdKind
from batterytrace.events.errors import InvalidInput, NotFound
from batterytrace.events.participant import Participant
from batterytrace.trace.epcis.events import EventWriter, References
from batterytrace.trace.epcis.identifiers import Identifiers
from batterytrace.trace.epcis.source import logged_events

SCAN_LIMIT = 20_000
OBJECT_KEYS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")


@dataclass(frozen=True)
class EventQuery:
    """One query's filters; empty tuples and None match everything."""

    epcs: tuple[str, ...] = ()  # battery URIs
    biz_steps: tuple[str, ...] = ()  # as the events carry them (CBV word or URI)
    ge_event_time: datetime | None = None
    lt_event_time: datetime | None = None
    ge_record_time: datetime | None = None

    def matches(self, event: Any, written: dict[str, Any]) -> bool:
        if self.ge_event_time and event.occurred_at < self.ge_event_time:
            return False
        if self.lt_event_time and event.occurred_at >= self.lt_event_time:
            return False
        if self.ge_record_time and event.timestamp < self.ge_record_time:
            return False
        if self.biz_steps and written.get("bizStep") not in self.biz_steps:
            return False
        if self.epcs:
            named = {uri for key in OBJECT_KEYS for uri in written.get(key, ())}
            return bool(named & set(self.epcs))
        return True


@dataclass
class Page:
    events: list[dict[str, Any]] = field(default_factory=list)
    next_token: str | None = None
    references: References = field(default_factory=References)


def parse_token(token: str | None) -> int:
    if token is None:
        return 0
    if not (token.isascii() and token.isdigit()) or len(token) > 18:
        raise InvalidInput(f"nextPageToken {token!r} is not one this service gave")
    return int(token)


def streams_of(app: Any, ids: Identifiers, epcs: tuple[str, ...]) -> list[str]:
    """The battery streams whose events may name these batteries as object, input or output: the
    batteries themselves and the originals a second-life product was made from."""
    codes: list[str] = []
    for uri in epcs:
        code = ids.value(IdKind.BATTERY, uri)
        try:
            battery = app.battery(code)
        except (NotFound, InvalidInput):
            continue
        codes += [battery.code, *battery.derived_from]
    return codes


def run_query(app: Any, caller: Participant, query: EventQuery, *, token: str | None, per_page: int) -> Page:
    """One page of the events ``caller`` may read that match ``query``, after ``token``."""
    ids = Identifiers(app.settings.public_url)
    writer, scratch = EventWriter(ids), EventWriter(ids)  # scratch: the events not answered
    page = Page(references=writer.references)
    codes = streams_of(app, ids, query.epcs) if query.epcs else []
    if query.epcs and not codes:
        return page
    events = logged_events(app, caller, after=parse_token(token), codes=codes)
    for scanned, positioned in enumerate(events, start=1):
        if query.matches(positioned.seen.event, scratch.event(positioned.seen)):
            if len(page.events) == per_page:
                return page
            page.events.append(writer.event(positioned.seen))
        page.next_token = str(positioned.position)
        if scanned >= SCAN_LIMIT:
            return page
    page.next_token = None
    return page
