"""The Merkle tree of the audit log, as RFC 9162 (Certificate Transparency 2.0) defines it.

leaf = SHA-256(0x00 || record), node = SHA-256(0x01 || left || right); the tree of n leaves
splits at the largest power of two below n. ``MerkleTree`` answers roots, inclusion proofs
(PATH) and consistency proofs (PROOF) for any size it has seen; ``verify_inclusion`` and
``verify_consistency`` are the RFC's verification algorithms (sections 2.1.3.2 and 2.1.4.2)
with the edge cases of transparency-dev/merkle, whose test vectors they pass.

Proofs are lists of raw 32-byte hashes, as RFC 9162 encodes them; the vectors and auditors'
tools speak that format, which is why this module exists rather than a library with a proof
shape of its own. Hashes of complete (power-of-two) subtrees never change once their leaves
exist: ``MerkleTree`` computes them once from every leaf in memory (the verifier's path), and
``gateway.audit.tree_store`` reads them from the store (the live log's path).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not prove what it claims; the message says why."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class ProofTree(ABC):
    """Roots and proofs over a tree of ``len(self)`` leaves, whatever holds its hashes.

    Subclasses say how the hash of a complete (power-of-two, aligned) subtree is found;
    the RFC's recursions, and so the proofs, are the same for all of them.
    """

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def complete(self, level: int, index: int) -> bytes:
        """The hash of leaves ``index * 2**level`` to ``(index + 1) * 2**level - 1``."""

    def root(self, size: int | None = None) -> bytes:
        size = len(self) if size is None else size
        self._check_size(size)
        return self._hash(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]): the hashes that lead from leaf ``index`` to the root."""
        size = len(self) if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf {index} is not in a tree of {size}")
        return self._path(index, 0, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]): that the larger tree extends the smaller one."""
        new_size = len(self) if new_size is None else new_size
        self._check_size(new_size)
        if not 0 < old_size <= new_size:
            raise ProofError(f"no consistency proof from size {old_size} to {new_size}")
        return self._subproof(old_size, 0, new_size, True)

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= len(self):
            raise ProofError(f"the tree has {len(self)} leaves, not {size}")

    def _hash(self, start: int, n: int) -> bytes:
        if n & (n - 1) == 0:  # every subtree the recursions name starts at a multiple of n
            level = n.bit_length() - 1
            return self.complete(level, start >> level)
        k = _split(n)
        return node_hash(self._hash(start, k), self._hash(start + k, n - k))

    def _path(self, index: int, start: int, n: int) -> list[bytes]:
        if n == 1:
            return []
        k = _split(n)
        if index < k:
            return [*self._path(index, start, k), self._hash(start + k, n - k)]
        return [*self._path(index - k, start + k, n - k), self._hash(start, k)]

    def _subproof(self, m: int, start: int, n: int, whole: bool) -> list[bytes]:
        if m == n:
            return [] if whole else [self._hash(start, n)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, k, whole), self._hash(start + k, n - k)]
        return [*self._subproof(m - k, start + k, n - k, False), self._hash(start, k)]


class MerkleTree(ProofTree):
    """Every leaf hash in memory, with the hashes of complete subtrees remembered: the
    verifier's tree, rebuilt from all the leaves it checks."""

    def __init__(self, leaves: list[bytes] | None = None) -> None:
        self.leaves: list[bytes] = list(leaves or [])
        self._complete: dict[tuple[int, int], bytes] = {}

    def __len__(self) -> int:
        return len(self.leaves)

    def append(self, leaf: bytes) -> int:
        """Add a leaf hash; returns its index."""
        self.leaves.append(leaf)
        return len(self.leaves) - 1

    def complete(self, level: int, index: int) -> bytes:
        if level == 0:
            return self.leaves[index]
        cached = self._complete.get((level, index))
        if cached is None:
            cached = node_hash(
                self.complete(level - 1, 2 * index), self.complete(level - 1, 2 * index + 1)
            )
            self._complete[(level, index)] = cached
        return cached


def _check_hashes(proof: list[bytes]) -> None:
    for position, item in enumerate(proof):
        if len(item) != HASH_SIZE:
            raise ProofError(f"proof hash {position} is {len(item)} bytes, not {HASH_SIZE}")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """The root that ``proof`` leads to from ``leaf`` at ``index`` (RFC 9162, 2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"the leaf hash is {len(leaf)} bytes, not {HASH_SIZE}")
    _check_hashes(proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
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
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    """Raise ``ProofError`` unless ``leaf`` is at ``index`` in the tree of ``size`` and ``root``."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"leaf {index} is not in the tree of size {size} with that root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    """Raise ``ProofError`` unless the tree (new_size, new_root) extends (old_size, old_root)."""
    if new_size < old_size:
        raise ProofError(f"size {new_size} is smaller than {old_size}: the log went back")
    if old_size == 0:
        raise ProofError("consistency with the empty tree proves nothing")
    if old_size == new_size:
        if proof:
            raise ProofError("trees of one size need an empty proof")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same size {old_size}")
        return
    if not proof:
        raise ProofError("an empty proof cannot prove growth")
    _check_hashes(proof)
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a complete subtree: its root starts the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than the trees need")
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
    if sn != 0:
        raise ProofError("the proof is shorter than the trees need")
    if fr != old_root:
        raise ProofError(f"the proof does not lead to the root of size {old_size}")
    if sr != new_root:
        raise ProofError(f"the proof does not lead to the root of size {new_size}")
