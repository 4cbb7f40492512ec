"""The ledger view: every stored event's canonical record appended, in notification order, to an
RFC 9162 Merkle tree, and checkpoints of that tree signed as it grows.

Why a view: it follows the notification log through the same exactly-once runner as the other
views, so a leaf is appended once per event, in the store's order, in the same transaction as the
view's position; ``projections rebuild ledger`` reproduces the same tree (it depends on the events
only), and the checkpoints already signed are kept (``ledger_checkpoints`` is not a view table), so
a rebuild is checked against them by ``batterytrace verify``.

Each batch reads the tree's right edge (``ledger_edge``: one row per binary digit of its size) and
the chain heads of the batch's streams, appends in memory (``ledger_log.append_events``, records by
``ledger_record_writer``), and writes the leaves, the finished tiles' subtrees, the new heads and
the new edge in bulk. The runner has the reading and appending done before its write transaction
(``prepare``), so that on SQLite the database's write lock, which the scans wait for, is held only
to check that the tree has not moved and to write (``apply_prepared``). A rebuild goes set-wise
(``builder``: ``ledger_builder``), with the same fold, so both paths give the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select

from batterytrace.events.ledger_log import LeafRow, NodeRow, append_events, edge_rows
from batterytrace.events.ledger_merkle import (
    TILE_HEIGHT,
    Frontier,
    NodeSource,
    fold_complete,
    nodes_needed,
    stored_span,
)
from batterytrace.events.ledger_note import Checkpoint, Signer, sign_note
from batterytrace.projections.fresh_tables import FreshTables, insert_tuples
from batterytrace.projections.ledger_config import LedgerConfig
from batterytrace.projections.tables import (
    ledger_checkpoints,
    ledger_edge,
    ledger_heads,
    ledger_leaves,
    ledger_nodes,
)

if TYPE_CHECKING:
    from batterytrace.projections.ledger_builder import LedgerBuilder

log = logging.getLogger(__name__)
_CHUNK = 500  # keys per IN (…) list


class LedgerView:
    name = "ledger"

    def __init__(
        self, config: LedgerConfig | None = None, *, clock: Any = None, store_url: str | None = None
    ) -> None:
        self.config = config  # None: read from the environment at the first batch
        self.clock = clock or (lambda: datetime.now(UTC))
        self.store_url = store_url  # the event store's database (None: the views' one, the default)

    def apply(self, connection: Connection, events: Sequence[tuple[int, Any]]) -> None:
        if not events:
            return
        batch = _compute(connection, events)
        _write(connection, batch)
        self._maybe_sign(connection, batch.frontier)

    # --------------------------------------------------------------- prepared outside the lock
    def prepare(self, connection: Connection, events: Sequence[tuple[int, Any]]) -> PreparedBatch | None:
        """The batch's rows computed before the runner's write transaction, from ``connection``
        (one read-only snapshot, no lock), for ``apply_prepared`` to write.

        Why: on SQLite the write transaction holds the database's write lock, which the scans'
        inserts wait for, and computing the records and hashes was most of the time it was held
        (issue 15: scans with the log on vs off). Also decided here, so the transaction needs no
        query for it in the usual case: whether a checkpoint may be due."""
        if not events:
            return None
        batch = _compute(connection, events)
        batch.may_sign = self._may_sign(connection, batch.frontier.size)
        return batch

    def apply_prepared(
        self, connection: Connection, events: Sequence[tuple[int, Any]], prepared: PreparedBatch | None
    ) -> None:
        """``apply``, writing the rows ``prepare`` computed when the tree is still the one they
        were computed from; otherwise (the view moved meanwhile: another runner, a rebuild, a
        reset) computed again here, as ``apply`` does, so a stale batch is never written.

        "Still the one": the same right edge, read in this transaction (``_still_at``). Its
        levels are the binary digits of the size, and its hashes commit to every leaf (they fold
        to the root), so the leaves are the same ones; the chain heads, written with the leaves
        in every transaction that writes them, then are too. One query instead of the reads,
        records and hashes ``apply`` does while holding the lock."""
        if prepared is None or not prepared.computed_for(events) or not _still_at(connection, prepared):
            self.apply(connection, events)
            return
        _write(connection, prepared)
        if prepared.may_sign:  # checkpoints are only ever added: one not due then is not due now
            self._maybe_sign(connection, prepared.frontier)

    def builder(self, fresh: FreshTables) -> LedgerBuilder:
        """The set-wise rebuild of the tree into ``fresh`` (``projections/rebuild.py``); signed
        checkpoints are kept, and one is signed after the swap by the rule ``apply`` follows
        (``LedgerBuilder.after_swap``)."""
        from batterytrace.projections.ledger_builder import LedgerBuilder

        return LedgerBuilder(self, fresh)

    # ---------------------------------------------------------------------------- checkpoints
    def _config(self, connection: Connection) -> LedgerConfig:
        if self.config is None:
            url = self.store_url or connection.engine.url.render_as_string(hide_password=False)
            self.config = LedgerConfig.from_environment(url)
        return self.config

    def _may_sign(self, connection: Connection, size: int) -> bool:
        """Whether ``_maybe_sign`` could sign at ``size`` (a key, and the last checkpoint old or
        far enough behind), by the checkpoint seen from ``connection``."""
        config = self._config(connection)
        if config.key_path is None or not config.key_path.exists():
            return False
        return self._due(config, connection.execute(_LAST_CHECKPOINT).first(), size, self.clock())

    @staticmethod
    def _due(config: LedgerConfig, last: Any, size: int, now: datetime) -> bool:
        if last is None:
            return True
        if size <= last.tree_size:
            return False  # rebuilding below a checkpoint already signed
        grown = size - last.tree_size >= config.checkpoint_events
        return grown or now - last.signed_at >= timedelta(minutes=config.checkpoint_minutes)

    def _maybe_sign(self, connection: Connection, frontier: Frontier) -> None:
        config = self._config(connection)
        last = connection.execute(_LAST_CHECKPOINT).first()
        now = self.clock()
        if not self._due(config, last, frontier.size, now):
            return
        signer = config.signer()
        if signer is None:
            return
        if last is not None and not _extends(connection, last.tree_size, bytes(last.root)):
            # Never sign over a rewritten history: the tree no longer holds what was signed.
            log.error(
                "ledger: the tree's first %d leaves no longer give the root signed for them; no "
                "checkpoint is signed until this is resolved (run `batterytrace verify`)",
                last.tree_size,
            )
            return
        store_checkpoint(connection, signer, frontier.size, frontier.root(), now)


@dataclass
class PreparedBatch:
    """One batch's rows, computed from the tree whose right edge was ``edge`` (level -> hash):
    what ``LedgerView.apply_prepared`` checks before writing them."""

    ids: list[int]  # the events' notification ids, in order
    edge: dict[int, bytes]
    streams: list[str]  # sorted
    leaves: list[LeafRow]
    nodes: list[NodeRow]
    heads: list[tuple[str, int, bytes]]  # the streams' new chain heads
    frontier: Frontier  # after the batch
    may_sign: bool = True

    def computed_for(self, events: Sequence[tuple[int, Any]]) -> bool:
        return self.ids == [notification_id for notification_id, _ in events]


def _compute(connection: Connection, events: Sequence[tuple[int, Any]]) -> PreparedBatch:
    """Read the tree's right edge and the batch's chain heads, and append the events in memory
    (``ledger_log.append_events``: the CPU part)."""
    frontier = stored_frontier(connection)
    edge = dict(frontier.edge)  # as read: the frontier's own moves on as the events are appended
    streams = {str(event.originator_id) for _, event in events}
    heads = _read_heads(connection, streams)
    leaves: list[LeafRow] = []
    nodes: list[NodeRow] = []
    append_events(events, heads, frontier, leaves, nodes)
    return PreparedBatch(
        ids=[notification_id for notification_id, _ in events],
        edge=edge,
        streams=sorted(streams),
        leaves=leaves,
        nodes=nodes,
        heads=[(a, v, leaf) for a, (v, leaf) in heads.items() if a in streams],
        frontier=frontier,
    )


def stored_frontier(connection: Connection) -> Frontier:
    """The stored tree's right edge as a ``Frontier`` (its size: the edge's levels are the size's
    binary digits)."""
    edge = read_edge(connection)
    return Frontier(sum(1 << level for level in edge), edge)


def read_edge(connection: Connection) -> dict[int, bytes]:
    """The stored tree's right edge, level -> hash (empty for an empty tree)."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_EDGE_SQL)
        return {level: bytes(value) for level, value in cursor.fetchall()}
    finally:
        cursor.close()


def _still_at(connection: Connection, batch: PreparedBatch) -> bool:
    """The stored tree has the right edge ``batch`` was computed from (hence its size: the
    edge's levels are the size's binary digits), sent to the driver as it is: under the write
    lock, SQLAlchemy's statement handling was most of what a small batch held it for."""
    return read_edge(connection) == batch.edge


def _write(connection: Connection, batch: PreparedBatch) -> None:
    """The batch's rows in bulk (COPY / one executemany): SQLAlchemy's per-row statement costs
    as much as computing the records."""
    insert_tuples(connection, ledger_nodes, batch.nodes)
    insert_tuples(connection, ledger_leaves, batch.leaves)
    for chunk in _chunks(batch.streams):
        connection.execute(_DELETE_HEADS, {"streams": list(chunk)})
    insert_tuples(connection, ledger_heads, batch.heads)
    connection.execute(delete(ledger_edge))
    insert_tuples(connection, ledger_edge, edge_rows(batch.frontier))


def _extends(connection: Connection, size: int, signed_root: bytes) -> bool:
    """The stored tree's first ``size`` leaves still give ``signed_root``."""
    from batterytrace.events.ledger_merkle import root

    return root(size, node_source(connection, lambda n: root(size, n))) == signed_root


def store_checkpoint(connection: Connection, signer: Signer, size: int, root: bytes, now: datetime) -> str:
    """Sign the tree head of ``size`` leaves and keep it; return the signed note."""
    note = sign_note(Checkpoint(signer.name, size, root).text(), signer)
    connection.execute(
        insert(ledger_checkpoints),
        [
            {
                "tree_size": size,
                "root": root,
                "note": note,
                "key_id": signer.verifier().key_id.hex(),
                "signed_at": now,
            }
        ],
    )
    return note


def sign_now(connection: Connection, signer: Signer, now: datetime) -> str | None:
    """Sign the tree as it stands (``batterytrace ledger checkpoint``); None when the latest
    checkpoint covers it already."""
    frontier = stored_frontier(connection)  # its root is the tree head: one query, no tile read
    last = connection.execute(select(func.max(ledger_checkpoints.c.tree_size))).scalar()
    if frontier.size == 0 or (last is not None and last >= frontier.size):
        return None
    return store_checkpoint(connection, signer, frontier.size, frontier.root(), now)


# ----------------------------------------------------------------------------------- reading
# The follower's statements, built once: a batch of a few events under a steady scan load ran
# about as long building SQLAlchemy expressions (an ``in_`` list coerced value by value) as
# running them; with expanding bind parameters each is compiled once and cached.
_TREE_TOP = select(func.max(ledger_leaves.c.idx))
_NODES_BETWEEN = select(ledger_nodes.c.idx, ledger_nodes.c.hash).where(
    ledger_nodes.c.level == bindparam("level"),
    ledger_nodes.c.idx.between(bindparam("first"), bindparam("last")),
)
_LEAVES_BETWEEN = select(ledger_leaves.c.idx, ledger_leaves.c.hash).where(
    ledger_leaves.c.idx.between(bindparam("first"), bindparam("last"))
)
_LEAVES_IN = select(ledger_leaves.c.idx, ledger_leaves.c.hash).where(
    ledger_leaves.c.idx.in_(bindparam("indexes", expanding=True))
)
_NODES_IN = select(ledger_nodes.c.idx, ledger_nodes.c.hash).where(
    ledger_nodes.c.level == bindparam("level"), ledger_nodes.c.idx.in_(bindparam("indexes", expanding=True))
)
_EDGE_SQL = f'SELECT level, hash FROM "{ledger_edge.name}"'
_HEADS_OF = select(ledger_heads).where(ledger_heads.c.aggregate.in_(bindparam("streams", expanding=True)))
_DELETE_HEADS = delete(ledger_heads).where(ledger_heads.c.aggregate.in_(bindparam("streams", expanding=True)))
_LAST_CHECKPOINT = (
    select(ledger_checkpoints.c.tree_size, ledger_checkpoints.c.root, ledger_checkpoints.c.signed_at)
    .order_by(ledger_checkpoints.c.tree_size.desc())
    .limit(1)
)


def tree_size(connection: Connection) -> int:
    """How many leaves the tree has (one indexed ``max``)."""
    top = connection.execute(_TREE_TOP).scalar()
    return 0 if top is None else int(top) + 1


def read_nodes(
    connection: Connection, keys: Sequence[tuple[int, int]] | set[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """Complete subtrees by ``(level, index)``, from the tiles; one not complete is left out.

    Each is folded from the stored subtrees under it (``ledger_merkle.stored_span``: itself at a
    stored level, else at most 128 of the level below that is one), read as ranges of the
    primary key: per stored level, the ranges the keys need, merged where less than a tile
    apart, so a proof (about one key per level) is a few range reads per tile level; single
    stored nodes far apart (a battery's leaves, spread over the log) are asked in ``IN`` lists."""
    spans = {key: stored_span(*key) for key in set(keys)}
    wanted: dict[int, list[tuple[int, int]]] = {}
    for base, first, count in spans.values():
        wanted.setdefault(base, []).append((first, first + count - 1))
    stored: dict[int, dict[int, bytes]] = {}
    for base, ranges in wanted.items():
        hashes = stored[base] = {}
        merged = _merged(ranges, gap=1 << TILE_HEIGHT)
        singles = [first for first, last in merged if first == last]  # leaves far apart: IN lists
        for chunk in _chunks(singles):
            if base == 0:
                rows = connection.execute(_LEAVES_IN, {"indexes": list(chunk)})
            else:
                rows = connection.execute(_NODES_IN, {"level": base, "indexes": list(chunk)})
            hashes.update((index, bytes(value)) for index, value in rows)
        for first, last in merged:
            if first == last:
                continue
            if base == 0:
                rows = connection.execute(_LEAVES_BETWEEN, {"first": first, "last": last})
            else:
                rows = connection.execute(_NODES_BETWEEN, {"level": base, "first": first, "last": last})
            hashes.update((index, bytes(value)) for index, value in rows)
    found: dict[tuple[int, int], bytes] = {}
    for key, (base, first, count) in spans.items():
        hashes = stored[base]
        run = [hashes.get(index) for index in range(first, first + count)]
        if None not in run:
            found[key] = run[0] if count == 1 else fold_complete(run)  # type: ignore[arg-type]
    return found


def _merged(ranges: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Inclusive ranges merged where they overlap or lie less than ``gap`` apart."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first - merged[-1][1] <= gap:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged


def node_source(connection: Connection, compute: Any) -> NodeSource:
    """The stored nodes ``compute(source)`` needs, read in one query, as a ``NodeSource``."""
    nodes = read_nodes(connection, nodes_needed(compute))

    def source(level: int, index: int) -> bytes:
        try:
            return nodes[(level, index)]
        except KeyError:
            raise LookupError(f"the ledger has no node ({level}, {index}); rebuild it") from None

    return source


def _read_heads(connection: Connection, streams: set[str]) -> dict[str, tuple[int, bytes | None]]:
    heads: dict[str, tuple[int, bytes | None]] = {}
    for chunk in _chunks(sorted(streams)):
        rows = connection.execute(_HEADS_OF, {"streams": list(chunk)})
        heads.update({row.aggregate: (row.version, bytes(row.leaf)) for row in rows})
    return heads


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]
