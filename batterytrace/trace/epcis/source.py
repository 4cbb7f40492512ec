"""Which stored battery events a caller may read as EPCIS events, read from the event store.

The event store, not the views: recordTime is the library's own timestamp, and a document must not
depend on how far a view has caught up. Access is the battery's other reads' (``trace/access.py``):
a regulator reads every event, a participant a battery's events from the one at which it became
involved (without the VIN unless it had the vehicle), the public none: an EPCIS event carries
exact times and parties, none of which the public page shows.

Each event carries the ledger leaf logged for it (``trace/ledger/leaf_hashes.py``), read once
per battery or per page of the log, never all at once; an event not logged yet carries none.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from eventsourcing.utils import get_topic

from batterytrace.events.battery import Battery
from batterytrace.events.custody import NOBODY, Custody, custody_after
from batterytrace.events.disclosure import FULL, Disclosure
from batterytrace.events.epcis_mapping import MAPPING, IdKind
from batterytrace.events.participant import Participant
from batterytrace.projections.event_data import event_details
from batterytrace.projections.stored_decoding import fast_decoder
from batterytrace.trace.access import disclosure_of
from batterytrace.trace.epcis.events import Seen, event_name
from batterytrace.trace.ledger.leaf_hashes import LeafReader, leaf_reader

PAGE = 500  # notifications read at a time
KNOWN_BATTERIES = 10_000  # disclosures remembered while scanning the log (bounded memory)
_NEEDS_HOLDER_BEFORE = {
    name
    for name, mapping in MAPPING.items()
    if any(link.kind == IdKind.HOLDER_BEFORE for link in mapping.parent)
}


def battery_topics() -> list[str]:
    """The topics of the battery events EPCIS exports."""
    return [get_topic(getattr(Battery, name)) for name in MAPPING]


def _facts(event: Any) -> dict[str, Any]:
    return {**event_details(event), "actor_id": event.actor_id}


def _timeline(events: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {
            "version": e.originator_version,
            "event": event_name(e),
            "actor_id": e.actor_id,
            "details": event_details(e),
        }
        for e in events
    ]


def disclosure(caller: Participant | None, events: list[Any]) -> Disclosure:
    """What ``caller`` (None: the operator's CLI, which reads everything) may read of a battery."""
    if caller is None:
        return FULL
    return disclosure_of(caller, _timeline(events))


def battery_events(
    app: Any, code: str, caller: Participant | None, *, leaves: LeafReader | None = None
) -> list[Seen]:
    """One battery's events as ``caller`` may read them, oldest first (none for the public:
    ``caller`` is a participant, or None for the operator), each with its ledger leaf (read from
    ``leaves``, by default on the application's views engine)."""
    events = [e for e in app.history(code) if event_name(e) in MAPPING]
    shown = disclosure(caller, events)
    visible = [
        (str(e.originator_id), e.originator_version) for e in events if shown.visible(e.originator_version)
    ]
    logged = (leaves or leaf_reader(app)).by_stream(visible)
    seen = []
    before: Custody = NOBODY
    for event in events:
        if shown.visible(event.originator_version):
            leaf = logged.get((str(event.originator_id), event.originator_version))
            seen.append(Seen(event, before, shown.knows_vin, leaf))
        before = custody_after(event_name(event), _facts(event), before)
    return seen


class Positioned(NamedTuple):
    """A readable event and its position (notification id) in the store's log."""

    position: int
    seen: Seen


def logged_events(
    app: Any,
    caller: Participant | None,
    *,
    after: int = 0,
    codes: Iterable[str] = (),
    leaves: LeafReader | None = None,
) -> Iterator[Positioned]:
    """Battery events in the order they were recorded, after position ``after``, of ``codes``
    only when given, as ``caller`` may read them, each with its ledger leaf (read from
    ``leaves``, by default on the application's views engine). Memory stays bounded: a page of
    the log at a time, its leaves in one read, and the disclosures of the last batteries met."""
    wanted = set(codes)
    disclosures: OrderedDict[str, Disclosure] = OrderedDict()
    holders: OrderedDict[str, tuple[int, Any, Custody]] = OrderedDict()  # code -> last event met
    start = after + 1
    topics = battery_topics()
    decode = fast_decoder(app.mapper)
    reader = leaves or leaf_reader(app)
    while True:
        page = app.recorder.select_notifications(start=start, limit=PAGE, topics=topics)
        if not page:
            return
        shown_here: list[tuple[int, Any, Custody, bool]] = []
        for notification in page:
            code = str(notification.originator_id)
            if wanted and code not in wanted:
                continue
            event = decode(notification)
            shown = _known(app, caller, code, disclosures)
            before = _holder_before(app, event, holders)
            if shown.visible(event.originator_version):
                shown_here.append((notification.id, event, before, shown.knows_vin))
        logged = reader.by_notification(position for position, *_ in shown_here) if shown_here else {}
        for position, event, before, knows_vin in shown_here:
            yield Positioned(position, Seen(event, before, knows_vin, logged.get(position)))
        start = page[-1].id + 1


def _known(
    app: Any, caller: Participant | None, code: str, disclosures: OrderedDict[str, Disclosure]
) -> Disclosure:
    if caller is None or caller.is_regulator:
        return FULL
    if code not in disclosures:
        disclosures[code] = disclosure(caller, list(app.history(code)))
        if len(disclosures) > KNOWN_BATTERIES:
            disclosures.popitem(last=False)
    return disclosures[code]


def _holder_before(app: Any, event: Any, holders: OrderedDict[str, tuple[int, Any, Custody]]) -> Custody:
    """The battery's holder before ``event`` (a removal names the vehicle it left by it), NOBODY
    for an event that names no holder before it. Followed through the log for the last batteries
    met, each as its last event (and the holder before that, when it was needed): the holder after
    it is worked out only when a removal follows, as few events need it and a whole store's export
    meets every event. Read from the battery's stream otherwise. (An assembly's holder, a pack, is
    the one holder whose party depends on the holder before it; no removal names a pack, so it is
    not followed further back.)"""
    name = event_name(event)
    code, version = str(event.originator_id), event.originator_version
    known = holders.pop(code, None)
    before = NOBODY
    if name in _NEEDS_HOLDER_BEFORE:
        if known is not None and known[0] == version - 1:
            _, last, last_before = known
            before = custody_after(event_name(last), vars(last), last_before)
        else:
            for earlier in app.events.get(event.originator_id, lte=version - 1):
                if event_name(earlier) in MAPPING:
                    before = custody_after(event_name(earlier), _facts(earlier), before)
    holders[code] = (version, event, before)
    if len(holders) > KNOWN_BATTERIES:
        holders.popitem(last=False)
    return before
