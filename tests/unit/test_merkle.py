"""RFC 9162 Merkle proofs: the transparency-dev vectors, and our own proofs both ways."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# Vendored from transparency-dev/merkle (Apache-2.0): see tests/vectors/merkle/SOURCE.md.
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "merkle"


def vectors(kind: str) -> list[Path]:
    found = sorted((VECTORS / kind).rglob("*.json"))
    assert found, f"the Merkle test vectors are missing from {VECTORS / kind}"
    return found


def b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@pytest.mark.parametrize("path", vectors("inclusion"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vectors(path: Path) -> None:
    case = load(path)
    proof = [b64(item) for item in case["proof"] or []]

    def check() -> None:
        verify_inclusion(
            case["leafIdx"], case["treeSize"], b64(case["leafHash"]), proof, b64(case["root"])
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("path", vectors("consistency"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_consistency_vectors(path: Path) -> None:
    case = load(path)
    proof = [b64(item) for item in case["proof"] or []]

    def check() -> None:
        verify_consistency(
            case["size1"], case["size2"], b64(case["root1"]), b64(case["root2"]), proof
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


def test_the_rfc_tree_shape() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(3)]
    tree = MerkleTree(leaves)
    assert tree.root(0) == EMPTY_ROOT
    assert tree.root(1) == leaves[0]
    assert tree.root(3) == node_hash(node_hash(leaves[0], leaves[1]), leaves[2])
    assert tree.inclusion_proof(2) == [node_hash(leaves[0], leaves[1])]
    assert tree.consistency_proof(2, 3) == [leaves[2]]


@given(st.integers(1, 70), st.data())
def test_every_proof_we_make_verifies_and_a_wrong_one_does_not(size: int, data: Any) -> None:
    tree = MerkleTree([leaf_hash(i.to_bytes(4, "big")) for i in range(size)])
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index)
    verify_inclusion(index, size, tree.leaves[index], proof, tree.root())
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf_hash(b"forged"), proof, tree.root())

    old = data.draw(st.integers(1, size))
    consistency = tree.consistency_proof(old, size)
    verify_consistency(old, size, tree.root(old), tree.root(), consistency)
    if old < size:
        with pytest.raises(ProofError):
            verify_consistency(old, size, leaf_hash(b"other"), tree.root(), consistency)


def test_a_proof_needs_a_tree_that_big() -> None:
    tree = MerkleTree([leaf_hash(b"a")])
    with pytest.raises(ProofError, match="not in a tree of 1"):
        tree.inclusion_proof(1)
    with pytest.raises(ProofError, match="has 1 leaves, not 2"):
        tree.root(2)
