"""RFC 9162 Merkle tree hashing, proofs and their verification, over stored complete subtrees.

Why this shape: any range the RFC's definitions need (``MTH(D[a:b])`` for the root, the inclusion
path and the consistency proof) is a handful of complete subtrees (2^level leaves starting at
``index * 2^level``; the binary digits of ``b - a``), so a proof needs O(log n) of them, and
appending a leaf needs only the right edge of the tree (the "frontier"). The ledger stores the
subtrees in tiles of height ``TILE_HEIGHT`` (as C2SP tlog-tiles do): the leaves and every complete
subtree whose level is a multiple of it, each written once when its last leaf arrives; any other
complete subtree is folded from the at most 2^(height-1) stored ones under it (``stored_span``,
``fold_complete``). Storing every subtree instead cost a rebuild two more rows per event to write.

The functions here take the nodes through a ``NodeSource`` (``(level, index) -> hash``), so the same
code runs on a dictionary in tests, on the view's table in the service, and offline in
``verify-evidence``. Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step. Pure: no
I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from batterytrace.events.ledger_record import leaf_hash

NodeSource = Callable[[int, int], bytes]  # (level, index) of a complete subtree -> its hash
HASH_SIZE = 32
TILE_HEIGHT = 8  # stored levels: 0, 8, 16, … (C2SP tlog-tiles' height)
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256() (RFC 9162 §2.1.1)

__all__ = [  # leaf_hash lives with the record (the chain's prev is the same hash); offered here too
    "EMPTY_ROOT",
    "TILE_HEIGHT",
    "Frontier",
    "NodeSource",
    "ProofError",
    "consistency_proof",
    "fold_complete",
    "frontier_nodes",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "nodes_needed",
    "range_hash",
    "root",
    "stored_span",
    "verify_consistency",
    "verify_inclusion",
]


class ProofError(ValueError):
    """A proof asked for sizes the tree does not have."""


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_pieces(start: int, end: int) -> list[tuple[int, int]]:
    """The complete subtrees ``(level, index)`` that make up ``D[start:end]``, left to right.

    Greedy from ``start`` (the largest aligned power of two that fits): for every range the RFC's
    recursion meets (``start`` is a multiple of a power of two at least ``end - start``), folding
    these from the right gives exactly ``MTH(D[start:end])``."""
    pieces = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        pieces.append((level, start >> level))
        start += 1 << level
    return pieces


def range_hash(start: int, end: int, node: NodeSource) -> bytes:
    """``MTH(D[start:end])`` from stored complete subtrees."""
    if start >= end:
        return EMPTY_ROOT
    hashes = [node(level, index) for level, index in range_pieces(start, end)]
    result = hashes[-1]
    for piece in reversed(hashes[:-1]):
        result = node_hash(piece, result)
    return result


def root(size: int, node: NodeSource) -> bytes:
    """The tree head of the first ``size`` leaves."""
    return range_hash(0, size, node)


def inclusion_proof(index: int, size: int, node: NodeSource) -> list[bytes]:
    """PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf side first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start, end = 0, size
    siblings = []
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            siblings.append((start + k, end))
            end = start + k
        else:
            siblings.append((start, start + k))
            start += k
    for a, b in reversed(siblings):
        path.append(range_hash(a, b, node))
    return path


def consistency_proof(first: int, second: int, node: NodeSource) -> list[bytes]:
    """PROOF(first, D[second]) (RFC 9162 §2.1.4.1); empty when ``first`` is 0 or ``second``."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from a tree of {first} to one of {second}")
    if first == 0 or first == second:
        return []
    return [range_hash(a, b, node) for a, b in _subproof(first, 0, second, whole=True)]


def _subproof(m: int, start: int, end: int, *, whole: bool) -> list[tuple[int, int]]:
    """SUBPROOF(m, D[start:end], whole) as the ranges whose hashes make it, innermost first."""
    if m == end - start:
        return [] if whole else [(start, end)]
    k = _largest_power_of_two_below(end - start)
    if m <= k:
        return [*_subproof(m, start, start + k, whole=whole), (start + k, end)]
    return [*_subproof(m - k, start + k, end, whole=False), (start, start + k)]


def stored_span(level: int, index: int) -> tuple[int, int, int]:
    """Where complete subtree ``(level, index)`` is kept: ``(base level, first index, count)`` of
    the stored subtrees (at the nearest multiple of ``TILE_HEIGHT`` at or below ``level``) that
    ``fold_complete`` folds into it; one of them when ``level`` is itself stored."""
    shift = level % TILE_HEIGHT
    return level - shift, index << shift, 1 << shift


def fold_complete(hashes: Sequence[bytes]) -> bytes:
    """The hash of a complete subtree from the 2^k subtrees of equal size that make it, left to
    right (RFC 9162 interior nodes, pair by pair, level by level)."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def nodes_needed(compute: Callable[[NodeSource], object]) -> set[tuple[int, int]]:
    """The stored nodes ``compute`` reads, found by running it on placeholders: so the view reads
    them all in one query before computing for real."""
    wanted: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return bytes(HASH_SIZE)

    compute(record)
    return wanted


# ---------------------------------------------------------------------------------- verifying
def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], tree_root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show ``leaf`` at ``index`` in the tree ``tree_root``?"""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == tree_root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree ``second_root`` an append-only extension of ``first_root``?
    Equal sizes need an empty proof and equal roots; from size 0 anything follows."""
    if not 0 <= first <= second or any(len(p) != HASH_SIZE for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# ---------------------------------------------------------------------------------- appending
class Frontier:
    """The right edge of a tree of ``size`` leaves: one complete subtree per binary digit of the
    size (``frontier_nodes``). Appending a leaf needs nothing else, and yields the complete
    subtrees it finishes, which the view stores."""

    def __init__(self, size: int = 0, edge: dict[int, bytes] | None = None) -> None:
        self.size = size
        self.edge = dict(edge or {})  # level -> hash of the complete subtree ending the tree there
        expected = {level for level in range(size.bit_length()) if size >> level & 1}
        if set(self.edge) != expected:
            raise ValueError(f"a tree of {size} needs its right edge at levels {sorted(expected)}")

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; return the finished subtrees ``(level, index, hash)``, the leaf first."""
        index = self.size
        finished = [(0, index, leaf)]
        level, current = 0, leaf
        while index & 1:
            current = node_hash(self.edge.pop(level), current)
            level += 1
            index >>= 1
            finished.append((level, index, current))
        self.edge[level] = current
        self.size += 1
        return finished

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        finished: list[tuple[int, int, bytes]] = []
        for leaf in leaves:
            finished.extend(self.append(leaf))
        return finished

    def root(self) -> bytes:
        """The tree head: the right edge folded from the smallest subtree up."""
        if not self.size:
            return EMPTY_ROOT
        levels = sorted(self.edge)
        result = self.edge[levels[0]]
        for level in levels[1:]:
            result = node_hash(self.edge[level], result)
        return result


def frontier_nodes(size: int) -> list[tuple[int, int]]:
    """The stored nodes ``(level, index)`` that make up a tree's right edge."""
    return [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]
