"""Reading the ledger view: the latest signed checkpoint, proofs from its stored subtrees, and a
battery's evidence file (its records recomputed from the event store, so a record that no longer
matches its leaf is refused rather than handed out)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from batterytrace.events.errors import ConcurrentWrite, InvalidInput, NotFound
from batterytrace.events.ledger_evidence import evidence_document
from batterytrace.events.ledger_merkle import consistency_proof, inclusion_proof, root
from batterytrace.events.ledger_record import record_of
from batterytrace.projections.database import read_session
from batterytrace.projections.ledger_view import node_source, read_nodes, tree_size
from batterytrace.projections.tables import ledger_checkpoints, ledger_leaves


class LedgerNotReady(ConcurrentWrite):
    """409: the ledger cannot vouch for this yet (not logged, not checkpointed), or no longer
    (the stored event differs from its leaf). A 409 like a concurrent write: retry, or report."""

    kind = "ledger-not-ready"
    message_key = None


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root: bytes
    note: str
    signed_at: Any


def latest_checkpoint(connection: Connection) -> StoredCheckpoint | None:
    row = connection.execute(
        select(ledger_checkpoints).order_by(ledger_checkpoints.c.tree_size.desc()).limit(1)
    ).first()
    return None if row is None else StoredCheckpoint(row.tree_size, bytes(row.root), row.note, row.signed_at)


def covering_checkpoint(connection: Connection, aggregate: str, version: int) -> StoredCheckpoint | None:
    """The earliest stored checkpoint whose tree holds the leaf of ``aggregate``'s ``version``
    (its record anchors every earlier one of the stream through the hash chain, so this
    checkpoint covers the stream's whole history up to that version); None while that version is
    not logged yet or no checkpoint covers it. One statement: the leaf through the stream index,
    the checkpoint through the primary key (``tree_size > leaf index``, smallest first)."""
    leaf = (
        select(ledger_leaves.c.idx)
        .where(ledger_leaves.c.aggregate == aggregate, ledger_leaves.c.version == version)
        .scalar_subquery()
    )
    row = connection.execute(
        select(ledger_checkpoints)
        .where(ledger_checkpoints.c.tree_size > leaf)
        .order_by(ledger_checkpoints.c.tree_size)
        .limit(1)
    ).first()
    return None if row is None else StoredCheckpoint(row.tree_size, bytes(row.root), row.note, row.signed_at)


def all_checkpoints(connection: Connection) -> list[StoredCheckpoint]:
    rows = connection.execute(select(ledger_checkpoints).order_by(ledger_checkpoints.c.tree_size))
    return [StoredCheckpoint(r.tree_size, bytes(r.root), r.note, r.signed_at) for r in rows]


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def _check_size(connection: Connection, size: int, name: str) -> None:
    have = tree_size(connection)
    if not 1 <= size <= have:
        raise InvalidInput(f"{name}={size}: the ledger's tree has {have} leaves; ask for 1 to {have}")


def inclusion(engine: Engine, index: int, size: int) -> dict[str, Any]:
    """The inclusion proof of leaf ``index`` in the tree of ``size`` leaves, with that tree's root."""
    with read_session(engine) as connection:
        _check_size(connection, size, "tree_size")
        if not 0 <= index < size:
            raise InvalidInput(f"index={index}: a tree of {size} leaves has leaves 0 to {size - 1}")
        source = node_source(
            connection, lambda n: (inclusion_proof(index, size, n), root(size, n), n(0, index))
        )
        return {
            "index": index,
            "tree_size": size,
            "leaf_hash": base64.b64encode(source(0, index)).decode(),
            "root_hash": base64.b64encode(root(size, source)).decode(),
            "hashes": _b64(inclusion_proof(index, size, source)),
        }


def consistency(engine: Engine, first: int, second: int) -> dict[str, Any]:
    """The consistency proof between the trees of ``first`` and ``second`` leaves."""
    with read_session(engine) as connection:
        _check_size(connection, second, "second")
        if not 1 <= first <= second:
            raise InvalidInput(f"first={first}: ask for 1 to second ({second})")
        source = node_source(
            connection, lambda n: (consistency_proof(first, second, n), root(first, n), root(second, n))
        )
        return {
            "first": first,
            "second": second,
            "first_root_hash": base64.b64encode(root(first, source)).decode(),
            "second_root_hash": base64.b64encode(root(second, source)).decode(),
            "hashes": _b64(consistency_proof(first, second, source)),
        }


def stream_records(events: list[Any]) -> list[tuple[int, bytes, bytes]]:
    """A stream's events as ``(version, record, leaf)``, chained from its first."""
    chained: list[tuple[int, bytes, bytes]] = []
    prev: bytes | None = None
    for event in events:
        record = record_of(event, prev)
        prev = record.leaf
        chained.append((record.version, record.record, prev))
    return chained


def evidence(engine: Engine, stream: str, events: list[Any], *, from_version: int = 1) -> dict[str, Any]:
    """The evidence file of one stream (its domain events from the store, oldest first), from
    ``from_version`` on, proven against the latest checkpoint."""
    records = stream_records(events)
    if not records:
        raise NotFound(f"{stream}: nothing recorded", key="not_found.battery", params={"id": stream})
    with read_session(engine) as connection:
        rows = connection.execute(
            select(ledger_leaves.c.version, ledger_leaves.c.idx).where(ledger_leaves.c.aggregate == stream)
        )
        index_of = {row.version: row.idx for row in rows}
        stored = read_nodes(connection, {(0, i) for i in index_of.values()})
        for version, _record, leaf in records:
            if version not in index_of:
                raise LedgerNotReady(
                    f"{stream} version {version} is not in the ledger yet; retry shortly",
                )
            if stored.get((0, index_of[version])) != leaf:
                raise LedgerNotReady(
                    f"{stream} version {version} does not match its ledger leaf: the stored event "
                    "was changed after it was logged; run `batterytrace verify` and report it",
                )
        checkpoint = latest_checkpoint(connection)
        last = index_of[records[-1][0]]
        if checkpoint is None or checkpoint.tree_size <= last:
            raise LedgerNotReady(
                f"{stream}'s last event is not covered by a signed checkpoint yet; retry after the next one",
            )
        size = checkpoint.tree_size
        source = node_source(connection, lambda n: inclusion_proof(last, size, n))
        proof = inclusion_proof(last, size, source)
    shown = [(index_of[v], record) for v, record, _ in records if v >= from_version]
    return evidence_document(stream, shown, proof, size, checkpoint.note)
