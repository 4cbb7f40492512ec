"""``batterytrace verify``: recompute the ledger from the event store and check it against what
was signed.

Why from the store and not from the view: the view could have been rewritten along with the
events by whoever had the database. So every leaf is recomputed from the stored events in
notification order (each stream's chain with it) into a tree held as its right edge only, and:

- each recomputed leaf is compared with the view's stored leaf, naming the first event that
  differs (an event's bytes edited, an event deleted or moved: every later leaf shifts);
- each stored checkpoint's signature is checked with the public key, and its root compared with
  the recomputed tree's root at its size (this holds even if the view was rewritten too);
- each checkpoint is shown consistent with the one before (RFC 9162 consistency proof from the
  stored subtrees, verified against the two signed roots);
- each stream's versions follow each other (a deleted event leaves a gap).

Memory: the tree's right edge and one chain head per stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from batterytrace.events.ledger_log import Heads, LeafRow, NodeRow, append_events
from batterytrace.events.ledger_merkle import Frontier, consistency_proof, inclusion_proof, verify_consistency
from batterytrace.events.ledger_merkle import verify_inclusion as rfc_verify_inclusion
from batterytrace.events.ledger_note import NoteError, Verifier, open_checkpoint
from batterytrace.projections.database import read_session
from batterytrace.projections.ledger_view import node_source, read_nodes, tree_size
from batterytrace.projections.stored_decoding import decode_all, fast_decoder
from batterytrace.projections.tables import ledger_leaves
from batterytrace.trace.ledger.reading import all_checkpoints, stream_records

BATCH = 5000


class LedgerMismatch(Exception):
    """What does not match, naming the first event or checkpoint that does not."""


@dataclass
class VerifyReport:
    events: int = 0
    checkpoints: int = 0
    unlogged: int = 0  # events stored after the view's last batch: not in the tree yet
    notes: list[str] = field(default_factory=list)


def _stored_pages(app: Any) -> Iterator[list[tuple[int, Any]]]:
    """The store's events in pages, decoded as a rebuild decodes them (``stored_decoding``: the
    library's mapper's events, faster)."""
    decode = fast_decoder(app.mapper)
    start = 1
    while notifications := app.recorder.select_notifications(start=start, limit=BATCH):
        yield decode_all(decode, notifications)
        start = notifications[-1].id + 1


def _name(event: Any, notification_id: int) -> str:
    return (
        f"event {type(event).__qualname__} of {event.originator_id} version {event.originator_version} "
        f"(notification {notification_id})"
    )


def _check_versions(page: list[tuple[int, Any]], heads: Heads) -> None:
    """Each stream's versions follow each other (``heads``: the streams' last records before
    ``page``); a gap or a step back names the event after it."""
    seen: dict[str, int] = {}
    for notification_id, event in page:
        stream = str(event.originator_id)
        last = seen.get(stream)
        if last is None:
            head = heads.get(stream)
            last = 0 if head is None else head[0]
        version = int(event.originator_version)
        if version != last + 1:
            raise LedgerMismatch(
                f"{_name(event, notification_id)} follows version {last} of its stream: "
                f"version {last + 1} is missing or out of order"
            )
        seen[stream] = version


def _compare(engine: Engine, page: list[tuple[int, Any]], leaves: list[LeafRow]) -> None:
    """The recomputed leaves of ``page`` against the view's: the same event at each index (one
    range read by primary key), the same hash."""
    first, last = leaves[0][0], leaves[-1][0]
    with read_session(engine) as connection:
        rows = connection.execute(
            select(ledger_leaves.c.idx, ledger_leaves.c.notification_id, ledger_leaves.c.hash).where(
                ledger_leaves.c.idx.between(first, last)
            )
        ).all()
    logged = {index: notification_id for index, notification_id, _ in rows}
    hashes = {index: bytes(value) for index, _, value in rows}
    for (notification_id, event), (index, _, _, _, recomputed) in zip(page, leaves, strict=True):
        if logged.get(index) != notification_id:
            raise LedgerMismatch(
                f"{_name(event, notification_id)} is not where the ledger logged leaf {index}: "
                "an event was deleted, added or moved in the store"
            )
        if hashes.get(index) != recomputed:
            raise LedgerMismatch(
                f"{_name(event, notification_id)} does not match its ledger leaf {index}: "
                "its stored bytes were changed after it was logged"
            )


def verify_store(
    app: Any, engine: Engine, verifier: Verifier, *, progress: Callable[[int], None] | None = None
) -> VerifyReport:
    """Check every event and checkpoint; ``LedgerMismatch`` at the first that does not hold."""
    report = VerifyReport()
    with read_session(engine) as connection:
        size = tree_size(connection)
        checkpoints = all_checkpoints(connection)
    sizes = sorted({c.tree_size for c in checkpoints if c.tree_size <= size})
    roots: dict[int, bytes] = {}
    frontier = Frontier()
    heads: Heads = {}
    for page in _stored_pages(app):
        _check_versions(page, heads)
        logged = page[: max(size - frontier.size, 0)]  # later events are not in the tree yet
        report.unlogged += len(page) - len(logged)
        leaves: list[LeafRow] = []
        nodes: list[NodeRow] = []  # not compared: they follow from the leaves
        start = 0
        while start < len(logged):  # stop at each checkpoint's size to take the root there
            end = len(logged)
            while sizes and sizes[0] <= frontier.size:
                sizes.pop(0)
            if sizes and sizes[0] - frontier.size < end - start:
                end = start + sizes[0] - frontier.size
            append_events(logged[start:end], heads, frontier, leaves, nodes)
            if sizes and sizes[0] == frontier.size:
                roots[frontier.size] = frontier.root()
            start = end
        for _, event in page[len(logged) :]:  # not in the tree: only their versions are checked
            heads[str(event.originator_id)] = (int(event.originator_version), b"")
        if leaves:
            _compare(engine, logged, leaves)
        if progress:
            progress(frontier.size)
    report.events = frontier.size
    if frontier.size < size:
        raise LedgerMismatch(
            f"the ledger logged {size} events, the store holds {frontier.size}: events were deleted "
            "from the store"
        )

    previous_checkpoint = None
    for stored in checkpoints:
        try:
            checkpoint = open_checkpoint(stored.note, verifier)
        except NoteError as error:
            raise LedgerMismatch(f"checkpoint of tree size {stored.tree_size}: {error}") from None
        if checkpoint.size != stored.tree_size or checkpoint.root != stored.root:
            raise LedgerMismatch(
                f"checkpoint of tree size {stored.tree_size}: its row differs from its signed note"
            )
        if checkpoint.size not in roots:
            raise LedgerMismatch(
                f"checkpoint {checkpoint.size} signs a tree larger than the store's {frontier.size} events"
            )
        if roots[checkpoint.size] != checkpoint.root:
            raise LedgerMismatch(
                f"checkpoint {checkpoint.size}: the events stored now do not give the root it signed; "
                f"an event among its first {checkpoint.size} was changed, and the ledger view "
                "rebuilt or rewritten after it"
            )
        if previous_checkpoint is not None:
            first, second = previous_checkpoint.size, checkpoint.size
            with read_session(engine) as connection:
                source = node_source(connection, lambda n, a=first, b=second: consistency_proof(a, b, n))
                proof = consistency_proof(first, second, source)
            if not verify_consistency(first, second, previous_checkpoint.root, checkpoint.root, proof):
                raise LedgerMismatch(
                    f"checkpoints {first} and {second} are not consistent: the log was rewritten"
                )
        previous_checkpoint = checkpoint
        report.checkpoints += 1
    return report


def verify_stream(app: Any, engine: Engine, verifier: Verifier, stream: str) -> VerifyReport:
    """``verify --code``: one stream's records against their leaves, its chain, and its last
    leaf's inclusion in the latest checkpoint."""
    events = list(app.events.get(stream))
    if not events:
        raise LedgerMismatch(f"{stream}: nothing recorded")
    records = stream_records(events)
    report = VerifyReport(events=len(records))
    with read_session(engine) as connection:
        rows = connection.execute(
            select(ledger_leaves.c.version, ledger_leaves.c.idx).where(ledger_leaves.c.aggregate == stream)
        )
        index_of = {row.version: row.idx for row in rows}
        stored = read_nodes(connection, {(0, i) for i in index_of.values()})
        checkpoints = all_checkpoints(connection)
        for expected, (version, _record, leaf) in enumerate(records, start=1):
            name = f"event {type(events[expected - 1]).__qualname__} of {stream} version {version}"
            if version != expected:
                raise LedgerMismatch(f"{name} follows version {expected - 1}: version {expected} is missing")
            if version not in index_of:
                report.unlogged += 1
                continue
            if stored.get((0, index_of[version])) != leaf:
                raise LedgerMismatch(
                    f"{name} does not match its ledger leaf {index_of[version]}: it was changed"
                )
        logged = [v for v, _, _ in records if v in index_of]
        if logged and checkpoints:
            last = index_of[logged[-1]]
            covering = checkpoints[-1]
            try:
                checkpoint = open_checkpoint(covering.note, verifier)
            except NoteError as error:
                raise LedgerMismatch(f"checkpoint of tree size {covering.tree_size}: {error}") from None
            if checkpoint.size > last:
                source = node_source(connection, lambda n: inclusion_proof(last, checkpoint.size, n))
                proof = inclusion_proof(last, checkpoint.size, source)
                if not rfc_verify_inclusion(stored[(0, last)], last, checkpoint.size, proof, checkpoint.root):
                    raise LedgerMismatch(
                        f"{stream} version {logged[-1]} is not in checkpoint {checkpoint.size}'s tree: "
                        "the log was rewritten"
                    )
                report.checkpoints = 1
    return report
