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
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from eventsourcing.utils import get_topic

from batterytrace.events.battery import Battery
from batterytrace.events.custody import NOBODY, Custody, custody_after
from batterytrace.events.disclosure import FULL, Disclosure
from batterytrace.events.epcis_mapping import MAPPING, IdKind
from batterytrace.events.participant import Participant
from batterytrace.projections.event_data import event_details
from batterytrace.projections.stored_decoding import fast_decoder
from batterytrace.read_ahead import one_ahead
from batterytrace.stored_rows import select_page
from batterytrace.trace.access import disclosure_of
from batterytrace.trace.epcis.events import Seen, event_name
from batterytrace.trace.epcis.stored import Logged, LogReader, kept_state
from batterytrace.trace.ledger.leaf_hashes import LeafReader, leaf_reader

PAGE = 500  # notifications read at a time
# notifications read at a time by the operator's export of the whole log: four times fewer reads and
# read sessions (their own cost was a tenth of an export), two pages of ~1 MB held at most
PAGE_AHEAD = 2000
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
    seen: Logged  # read as a ``Seen`` is, its domain event made only when asked for


def logged_events(
    app: Any,
    caller: Participant | None,
    *,
    after: int = 0,
    codes: Iterable[str] = (),
    leaves: LeafReader | None = None,
    stop: int | None = None,
) -> Iterator[Positioned]:
    """Battery events in the order they were recorded, after position ``after`` (up to ``stop``
    when given: one range of the log, ``whole_store.py``), of ``codes`` only when given, as
    ``caller`` may read them, each with its ledger leaf (read from ``leaves``, by default on the
    application's views engine). Memory stays bounded: a page of the log at a time, its leaves
    in one read, and the disclosures of the last batteries met. The events are read from their
    stored state (``stored.py``), not made domain events, unless a reader asks for
    ``seen.event``. The operator's export of the whole log (``caller`` None, no ``codes``: the
    CLI) reads the next page (as plain rows, ``stored_rows.select_page``) and its leaves on a thread
    while this one is written (``_pages_ahead``)."""
    wanted = set(codes)
    disclosures: OrderedDict[str, Disclosure] = OrderedDict()
    holders: dict[str, _Last] = {}  # code -> its last event met, oldest first
    topics = battery_topics()
    read = LogReader(app.mapper, fast_decoder(app.mapper)).read
    page_leaves = leaves or leaf_reader(app)
    everything = caller is None or caller.is_regulator
    positioned = Positioned._make  # tuple's own constructor, one per event
    whole_log = caller is None and not wanted
    if whole_log:
        pages = _pages_ahead(app, after + 1, topics, page_leaves, stop)
    else:
        pages = ((page, None) for page in _pages(app, after + 1, topics, stop))
    for page, page_found in pages:
        if whole_log and page_found is not None:  # every event, as it comes: nothing to choose
            leaf_of = page_found.get
            for notification in page:
                logged = read(notification, str(notification.originator_id))
                logged.before = _holder_before(app, logged, notification.originator_version, holders)
                logged.leaf = leaf_of(notification.id)
                yield positioned((notification.id, logged))
            continue
        chosen: list[tuple[Any, str, Disclosure]] = []
        for notification in page:
            code = str(notification.originator_id)
            if not wanted or code in wanted:
                chosen.append(
                    (notification, code, FULL if everything else _known(app, caller, code, disclosures))
                )
        found = page_found
        if found is None:
            found = page_leaves.of_page(
                [n.id for n, _, shown in chosen if everything or shown.visible(n.originator_version)]
            )
        # Each event read as it is yielded: a page of them made at once would outlive the
        # garbage collector's young generations, and the full collections cost an export a tenth.
        for notification, code, shown in chosen:
            logged = read(notification, code)
            version = notification.originator_version
            logged.before = _holder_before(app, logged, version, holders)
            if everything or shown.visible(version):
                logged.knows_vin = shown.knows_vin
                logged.leaf = found.get(notification.id)
                yield positioned((notification.id, logged))


def _pages(app: Any, start: int, topics: list[str], stop: int | None = None) -> Iterator[list[Any]]:
    """The battery events' notifications from position ``start`` (to ``stop``), a page at a time."""
    while True:
        page = app.recorder.select_notifications(start=start, limit=PAGE, stop=stop, topics=topics)
        if not page:
            return
        yield page
        start = page[-1].id + 1


def _pages_ahead(
    app: Any, start: int, topics: list[str], page_leaves: LeafReader, stop: int | None = None
) -> Iterator[tuple[list[Any], Mapping[int, Any]]]:
    """``_pages`` with each page's leaves (the range of the log it spans), the next page read on
    a thread while the caller uses this one (``read_ahead.one_ahead``): reading a page is mostly
    waiting for the database (PostgreSQL: a third of an export's time), which the thread does
    while this one writes."""

    def with_leaves() -> Iterator[tuple[list[Any], Mapping[int, Any]]]:
        first = start
        while page := select_page(app.recorder, first, PAGE_AHEAD, stop, topics):
            yield page, page_leaves.between(page[0].id, page[-1].id)
            first = page[-1].id + 1

    return one_ahead(with_leaves(), "epcis-log")


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


# A battery's last event met in the log, what the holder before its next event needs: its
# version, name, state (as ``Logged.kept``) and the holder before it (a plain tuple: one is made
# per event).
_Last = tuple[int, str, bytes | Mapping[str, Any], Custody]


def _holder_before(app: Any, logged: Logged, version: int, holders: dict[str, _Last]) -> Custody:
    """The battery's holder before ``logged`` (a removal names the vehicle it left by it), NOBODY
    for an event that names no holder before it. Followed through the log for the last batteries
    met, each as its last event (and the holder before that, when it was needed): the holder after
    it is worked out only when a removal follows, as few events need it and a whole store's export
    meets every event. Read from the battery's stream otherwise. (An assembly's holder, a pack, is
    the one holder whose party depends on the holder before it; no removal names a pack, so it is
    not followed further back.) The last event is kept as its stored state (its text, read again
    only when a removal follows), which the custody rules read as they read the event's
    attributes (its ids only)."""
    code, name = logged.code, logged.event_class.__name__
    known = holders.pop(code, None)
    before = NOBODY
    if name in _NEEDS_HOLDER_BEFORE:
        if known is not None and known[0] == version - 1:
            _, last_name, last_kept, last_before = known
            before = custody_after(last_name, kept_state(last_kept), last_before)
        else:
            for earlier in app.events.get(logged.event.originator_id, lte=version - 1):
                if event_name(earlier) in MAPPING:
                    before = custody_after(event_name(earlier), _facts(earlier), before)
    holders[code] = (version, name, logged.kept, before)
    if len(holders) > KNOWN_BATTERIES:
        del holders[next(iter(holders))]
    return before
