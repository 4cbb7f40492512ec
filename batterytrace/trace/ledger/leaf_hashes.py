"""The ledger leaf of stored events, read in bulk: which leaf of the tree an event is, and its hash.

An export (EPCIS, the passport) names, for each event it carries, the leaf the ledger logged for
it, so that whoever holds the export can ask for the evidence (an inclusion proof of that leaf in
a signed checkpoint) and check that the event it was given is the one logged. The hash is the
leaf's row's (``ledger_leaves.hash``, the tree's level 0, which every proof is built from); it is
read, not recomputed from the event (recomputing every record would cost an export more than the
rest of it). ``batterytrace verify`` is the check that the stored events still give these leaves.

One query per chunk of events (through the stream or notification index; a page of the log is one
range), so an export reads the leaves a page at a time in constant memory. An event the ledger has not logged
yet (the view is behind, or was never built on this store) has no leaf: it is left out of the
answer, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine, inspect, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from batterytrace.projections.database import read_session
from batterytrace.projections.tables import ledger_leaves

CHUNK = 500  # keys per IN (…) list, as the ledger view reads them
K = TypeVar("K")


class LoggedLeaf(NamedTuple):
    """An event's leaf in the ledger's Merkle tree: its index (the position in the log the
    inclusion proof is asked for) and ``SHA-256(0x00 || record)``. A tuple: a whole store's
    export makes one per event."""

    index: int
    hash: bytes

    @property
    def sha256(self) -> str:
        return self.hash.hex()


def leaves_by_stream(
    connection: Connection, events: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], LoggedLeaf]:
    """The logged leaves of events given as ``(aggregate, version)``; unlogged ones left out.
    Read by stream (``aggregate IN …``, the stream index's prefix) and cut to the versions
    asked for: a tuple ``IN`` is planned by SQLite as a scan of every leaf."""
    wanted = set(events)
    streams = sorted({aggregate for aggregate, _ in wanted})
    found: dict[tuple[str, int], LoggedLeaf] = {}
    for start in range(0, len(streams), CHUNK):
        rows = connection.execute(
            select(_AGGREGATE, _VERSION, _INDEX, _HASH).where(_AGGREGATE.in_(streams[start : start + CHUNK]))
        ).all()
        found.update({(a, v): LoggedLeaf(idx, bytes(h)) for a, v, idx, h in rows if (a, v) in wanted})
    return found


def leaves_by_notification(connection: Connection, notification_ids: Iterable[int]) -> dict[int, LoggedLeaf]:
    """The logged leaves of events given by their notification id; unlogged ones left out. A
    page of the log (ids close together) is read as one range."""
    ids = sorted(set(notification_ids))
    wanted = set(ids)
    found: dict[int, LoggedLeaf] = {}
    for where in _ranges_or_lists(_NOTIFICATION, ids):
        rows = connection.execute(select(_NOTIFICATION, _INDEX, _HASH).where(where)).all()
        found.update({n: LoggedLeaf(idx, bytes(h)) for n, idx, h in rows if n in wanted})
    return found


def leaves_between(connection: Connection, first: int, last: int) -> dict[int, LoggedLeaf]:
    """The logged leaves of every event from notification id ``first`` to ``last`` (a page of
    the log), in one range query, the rows taken as tuples: for a whole store's export."""
    rows = connection.execute(
        select(_NOTIFICATION, _INDEX, _HASH).where(_NOTIFICATION.between(first, last))
    ).all()
    return {n: LoggedLeaf(index, bytes(digest)) for n, index, digest in rows}


_AGGREGATE, _VERSION = ledger_leaves.c.aggregate, ledger_leaves.c.version
_NOTIFICATION, _INDEX, _HASH = ledger_leaves.c.notification_id, ledger_leaves.c.idx, ledger_leaves.c.hash


def _ranges_or_lists(column: Any, values: Sequence[int]) -> Iterator[Any]:
    """Conditions that select ``values`` (sorted) of ``column``: one range when they are dense
    (at most twice as many rows as asked for: a page of the log), else IN lists of ``CHUNK``."""
    if not values:
        return
    if values[-1] - values[0] < 2 * len(values):
        yield column.between(values[0], values[-1])
        return
    for start in range(0, len(values), CHUNK):
        yield column.in_(values[start : start + CHUNK])


class LeafReader:
    """Reads leaves on the views' engine, a short read session per call (an export that streams
    for minutes holds no transaction between its pages). On a store where the ledger view was
    never built (no table yet) every answer is empty."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._absent = False

    def by_stream(self, events: Iterable[tuple[str, int]]) -> dict[tuple[str, int], LoggedLeaf]:
        return self._guarded(lambda connection: leaves_by_stream(connection, events))

    def by_notification(self, notification_ids: Iterable[int]) -> dict[int, LoggedLeaf]:
        return self._guarded(lambda connection: leaves_by_notification(connection, notification_ids))

    def between(self, first: int, last: int) -> dict[int, LoggedLeaf]:
        """Every logged event's leaf from notification id ``first`` to ``last``, by id."""
        return self._guarded(lambda connection: leaves_between(connection, first, last))

    def of_page(self, positions: Sequence[int]) -> dict[int, LoggedLeaf]:
        """The leaves of the events at ``positions`` (ascending notification ids): one range
        query when they are a page of the log, else by their ids (a few batteries' events,
        spread over the log)."""
        if not positions:
            return {}
        first, last = positions[0], positions[-1]
        if last - first >= 2 * len(positions):
            return self.by_notification(positions)
        return self.between(first, last)

    def _guarded(self, read: Callable[[Connection], dict[Any, LoggedLeaf]]) -> dict[Any, LoggedLeaf]:
        if self._absent:
            return {}
        with read_session(self.engine) as connection:
            try:
                return read(connection)
            except (OperationalError, ProgrammingError):
                connection.rollback()
                if inspect(connection).has_table(ledger_leaves.name):
                    raise  # a real failure, not a ledger never built
                self._absent = True
                return {}


def leaf_reader(app: Any) -> LeafReader:
    """A reader on the views' engine of ``app``: the API's own when it runs (it shares it with
    the application), else one the application opens on first use and closes with itself."""
    return LeafReader(app.key_usage.engine)
