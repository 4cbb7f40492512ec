"""The ledger's log as it grows: stored events, in notification order, to leaves, finished
subtrees and chain heads.

Why one function for every path: the follower's ``LedgerView.apply`` (a batch at a time, heads
read from the view), the set-wise rebuild (``LedgerBuilder``, heads held in memory) and any
measurement of them must write the very same rows, so they share this fold and differ only in
where the heads and the tree's right edge come from and where the rows go. It is the ledger's
hot loop (every event, on every rebuild): records by ``ledger_record_writer``, hashes by one
``hashlib`` call each, the right edge appended in place, rows as tuples in the tables' column
order (``ledger_leaves``: idx, notification_id, aggregate, version, hash; ``ledger_nodes``:
level, idx, hash — only the tiles' levels, ``ledger_merkle.TILE_HEIGHT``). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from batterytrace.events.ledger_merkle import TILE_HEIGHT, Frontier
from batterytrace.events.ledger_record_writer import record_bytes

Heads = dict[str, tuple[int, bytes]]  # stream -> (version, leaf hash) of its last record
LeafRow = tuple[int, int, str, int, bytes]
NodeRow = tuple[int, int, bytes]


def append_events(
    events: Sequence[tuple[int, Any]],
    heads: Heads,
    frontier: Frontier,
    leaves: list[LeafRow],
    nodes: list[NodeRow],
) -> None:
    """Append ``(notification id, event)`` pairs to the tree: ``leaves`` and ``nodes`` get the
    new rows (the leaves with their hashes; the finished subtrees of the stored levels),
    ``heads`` and ``frontier`` move on. ``heads`` must hold every stream of the events
    that has a record already (a stream missing from it starts a chain: ``prev`` null).

    The same tree as ``Frontier.append`` for each leaf (RFC 9162 leaves and interior nodes), in
    one loop without a call per subtree."""
    sha256 = hashlib.sha256
    edge = frontier.edge
    size = frontier.size
    tile_mask = TILE_HEIGHT - 1
    try:
        for notification_id, event in events:
            head = heads.get(str(event.originator_id))
            aggregate, version, record = record_bytes(event, None if head is None else head[1])
            leaf = sha256(b"\x00" + record).digest()
            heads[aggregate] = (version, leaf)
            leaves.append((size, notification_id, aggregate, version, leaf))
            index, level, current = size, 0, leaf
            while index & 1:
                current = sha256(b"\x01" + edge.pop(level) + current).digest()
                level += 1
                index >>= 1
                if not level & tile_mask:
                    nodes.append((level, index, current))
            edge[level] = current
            size += 1
    finally:
        frontier.size = size  # the edge holds exactly the leaves appended, also after a failure


def edge_rows(frontier: Frontier) -> list[tuple[int, bytes]]:
    """``ledger_edge``'s rows (level, hash) for the tree's right edge ``frontier``."""
    return sorted(frontier.edge.items())
