"""The live log's Merkle tree without its leaves in memory.

Two parts. ``Frontier`` is the compact range of the whole tree: the roots of the complete
subtrees that make up its size (one per set bit), enough to append a leaf and to give the
root, in O(log n) memory. ``StoredTree`` answers roots, inclusion and consistency proofs for
any size the store has integrated, reading complete-subtree hashes from the store: the few
a proof needs, in one read.

The store keeps the leaf hashes (level 0) and the hashes of complete subtrees at every
``STRIDE``-th level (4, 8, 12...), written in the same transaction as the leaves they cover,
as ``Frontier.push`` completes them. A subtree between two stored levels is folded from at
most ``2**(STRIDE - 1)`` stored hashes below it, so a proof reads O(log n) small ranges, and
the stored nodes add about a fifteenth to the leaves. (C2SP tlog-tiles groups the same
hashes into tiles of 256 for static serving; a database wants rows it can index.)

Proofs are those of ``MerkleTree`` (the same recursions in ``ProofTree``), which rebuilds the
tree from all leaves: that stays the verifier's path. A stored hash that lies forges nothing
(its proofs fail against the signed root); the log refuses to sign when one is on the path
to the last checkpoint's root, an integration that computes it again refuses it, and
``audit verify`` compares every stored hash with the leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from gateway.audit.merkle import EMPTY_ROOT, ProofTree, node_hash

STRIDE = 4
# (level, index, hash): the hash of leaves index * 2**level to (index + 1) * 2**level - 1.
Node = tuple[int, int, bytes]
# (level, start, stop): stored hashes of one level, indexes start to stop - 1 (level 0:
# the leaf hashes); a reader answers many ranges at once, each as a list in order.
Range = tuple[int, int, int]
ReadRanges = Callable[[Sequence[Range]], list[list[bytes]]]
T = TypeVar("T")
_PLACEHOLDER = bytes(32)
_CACHE_LIMIT = 65_536


def stored_level(level: int) -> bool:
    return level > 0 and level % STRIDE == 0


@dataclass
class Frontier:
    """The compact range [0, size): (level, hash) of each complete subtree, largest first."""

    size: int = 0
    peaks: list[tuple[int, bytes]] = field(default_factory=list)

    def push(self, leaf: bytes) -> list[Node]:
        """Append a leaf hash; returns the nodes it completes that the store keeps."""
        self.peaks.append((0, leaf))
        self.size += 1
        made: list[Node] = []
        while len(self.peaks) > 1 and self.peaks[-1][0] == self.peaks[-2][0]:
            level, right = self.peaks.pop()
            _, left = self.peaks.pop()
            level += 1
            digest = node_hash(left, right)
            self.peaks.append((level, digest))
            if stored_level(level):
                made.append((level, (self.size >> level) - 1, digest))
        return made

    def extend(self, leaves: Iterable[bytes]) -> list[Node]:
        made: list[Node] = []
        for leaf in leaves:
            made.extend(self.push(leaf))
        return made

    def root(self) -> bytes:
        """The tree's root (RFC 9162 hashes the peaks together from the right)."""
        if not self.peaks:
            return EMPTY_ROOT
        digest = self.peaks[-1][1]
        for _, left in reversed(self.peaks[:-1]):
            digest = node_hash(left, digest)
        return digest

    @classmethod
    def load(cls, tree: StoredTree) -> Frontier:
        """The frontier of a stored tree, from one stored range per peak (no leaf scan)."""
        wanted = list(peaks(len(tree)))
        tree.prefetch(wanted)
        found = [(level, tree.complete(level, index)) for level, index in wanted]
        return cls(len(tree), found)


def peaks(size: int) -> Iterator[tuple[int, int]]:
    """(level, index) of the complete subtrees that make up a tree of ``size``, left first."""
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            yield level, start >> level
            start += 1 << level


class StoredTree(ProofTree):
    """The first ``size`` leaves of the store's tree, read on demand.

    A root or proof is worked out twice: once to learn which complete subtrees it needs,
    then, with all of them read in one call (one round trip to a database), to compute it.
    Read hashes are kept (a bounded cache: stored hashes never change).
    """

    def __init__(self, read: ReadRanges, size: int) -> None:
        self._read = read
        self._size = size
        self._cache: dict[tuple[int, int], bytes] = {}
        self._wanted: list[tuple[int, int]] | None = None

    def __len__(self) -> int:
        return self._size

    def complete(self, level: int, index: int) -> bytes:
        cached = self._cache.get((level, index))
        if cached is not None:
            return cached
        if self._wanted is not None:  # the planning pass: note it, hash nothing real
            self._wanted.append((level, index))
            return _PLACEHOLDER
        self.prefetch([(level, index)])
        return self._cache[(level, index)]

    def prefetch(self, wanted: Iterable[tuple[int, int]]) -> None:
        """Read the complete subtrees (level, index) not read yet, in one call."""
        missing = [key for key in dict.fromkeys(wanted) if key not in self._cache]
        if not missing:
            return
        if len(self._cache) + len(missing) > _CACHE_LIMIT:
            self._cache.clear()
        ranges = []
        for level, index in missing:
            below = level % STRIDE
            ranges.append((level - below, index << below, (index + 1) << below))
        for key, stored in zip(missing, self._read(ranges), strict=True):
            row = stored
            while len(row) > 1:  # fold the stored level up to the one asked for
                row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
            self._cache[key] = row[0]

    def _planned(self, compute: Callable[[], T]) -> T:
        self._wanted = []
        try:
            compute()
        finally:
            wanted, self._wanted = self._wanted, None
        self.prefetch(wanted)
        return compute()

    def root(self, size: int | None = None) -> bytes:
        return self._planned(lambda: ProofTree.root(self, size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return self._planned(lambda: ProofTree.inclusion_proof(self, index, size))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return self._planned(lambda: ProofTree.consistency_proof(self, old_size, new_size))
