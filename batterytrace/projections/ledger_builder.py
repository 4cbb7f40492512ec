"""The ledger rebuilt set-wise (``projections/rebuild.py``): every event appended in memory, the
tree's rows written out in large sets, the chain heads at the end, and a checkpoint signed in the
transaction that swaps the new tree in.

Why it differs from the follower's path only in where things are kept: the fold is the same
(``ledger_log.append_events``), so the tables are the same row for row; but the follower reads the
tree's right edge and the batch's chain heads back from the view and writes them again for every
batch, which a rebuild, holding them itself, never needs to.

Memory stays bounded on a store of any size: leaves and subtrees are final once appended (the tree
only grows), so they are written whenever ``ROWS_PER_WRITE`` are held; the chain heads (one a
stream, ~240 bytes each) are written out when more than ``HEADS_IN_MEMORY`` are held and read back
when a later event of their stream needs one, as the lifecycle view does with its battery rows.

Checkpoints are not rebuilt: they are what left the system, kept by the rebuild, and the rebuilt
tree is checked against them. After the swap, in its transaction, the view signs a checkpoint of
the rebuilt tree exactly when ``apply`` would have after its last batch (``LedgerView._maybe_sign``:
grown by ``checkpoint_events`` since the last one, or that one older than ``checkpoint_minutes``),
and never when the rebuilt tree's first leaves no longer give the last signed root (an event was
changed: that is logged and ``verify`` names it). Why then and not at the next ``apply``: a
rebuild often runs with no writes coming (an operator's ``projections rebuild``), and a tree
nobody signs for hours is one whose rewrite nobody could prove; why not at every
``checkpoint_events`` on the way, as the follower's path does: those trees are prefixes of this
one, proven consistent with it by any consistency proof, so signing them adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from batterytrace.events.ledger_log import Heads, LeafRow, NodeRow, append_events, edge_rows
from batterytrace.events.ledger_merkle import Frontier
from batterytrace.projections.fresh_tables import FreshTables
from batterytrace.projections.tables import ledger_edge, ledger_heads, ledger_leaves, ledger_nodes

if TYPE_CHECKING:
    from batterytrace.projections.ledger_view import LedgerView

ROWS_PER_WRITE = 100_000  # leaf and node rows held before they are written (~10 MB)
HEADS_IN_MEMORY = 500_000  # chain heads held before they are written out (~120 MB)


class LedgerBuilder:
    """One rebuild of the ledger's tree into fresh tables."""

    def __init__(self, view: LedgerView, fresh: FreshTables) -> None:
        self.view = view
        self.fresh = fresh
        self.frontier = Frontier()
        self.heads: Heads = {}
        self.leaves: list[LeafRow] = []
        self.nodes: list[NodeRow] = []
        self._heads_written = False

    def add(self, events: Sequence[tuple[int, Any]]) -> None:
        heads = self.heads
        if self._heads_written:
            missing = {str(event.originator_id) for _, event in events} - heads.keys()
            if missing:
                rows = self.fresh.read_back(ledger_heads, "aggregate", missing)
                heads.update((stream, (row["version"], bytes(row["leaf"]))) for stream, row in rows.items())
        append_events(events, heads, self.frontier, self.leaves, self.nodes)
        if len(self.leaves) + len(self.nodes) >= ROWS_PER_WRITE:
            self._write_tree()
        if len(heads) > HEADS_IN_MEMORY:
            self.fresh.write_tuples(ledger_heads, _head_rows(heads), flushed_early=True)
            heads.clear()
            self._heads_written = True

    def finish(self) -> None:
        self._write_tree()
        self.fresh.write_tuples(ledger_heads, _head_rows(self.heads))
        self.fresh.write_tuples(ledger_edge, edge_rows(self.frontier))
        self.heads.clear()

    def outcome(self) -> Frontier:
        """What ``after_swap`` needs of the fold (the rebuilt tree's right edge), for a twin of
        this builder in the process that swaps (``parallel_fold``)."""
        return self.frontier

    def take_outcome(self, frontier: Frontier) -> None:
        self.frontier = frontier

    def after_swap(self, connection: Connection) -> None:
        """In the swap's transaction, the rebuilt tree live: sign it if ``apply`` would have."""
        self.view._maybe_sign(connection, self.frontier)

    def _write_tree(self) -> None:
        self.fresh.write_tuples(ledger_nodes, self.nodes)
        self.fresh.write_tuples(ledger_leaves, self.leaves)
        self.nodes = []
        self.leaves = []


def _head_rows(heads: Heads) -> list[tuple[str, int, bytes]]:
    return [(stream, version, leaf) for stream, (version, leaf) in heads.items()]
