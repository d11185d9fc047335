"""The live log's tree: proofs from stored subtree hashes are the proofs from all leaves."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.audit.bundle import verify_store
from gateway.audit.log import AuditLog, AuditSettings
from gateway.audit.merkle import MerkleTree, leaf_hash, verify_inclusion
from gateway.audit.records import record_leaf
from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.tree_store import STRIDE, Frontier, Range, StoredTree
from gateway.errors import AuditUnavailable

MOST_READ = 1 << (STRIDE - 1)  # hashes one stored range may hold: a fold of 3 levels


class NodeTable:
    """The nodes a frontier hands to the store, kept in a dict, with every read counted."""

    def __init__(self) -> None:
        self.hashes: dict[tuple[int, int], bytes] = {}
        self.reads: list[list[int]] = []  # the sizes of the ranges of each read

    def keep(self, level: int, index: int, digest: bytes) -> None:
        assert self.hashes.setdefault((level, index), digest) == digest

    def read(self, ranges: Sequence[Range]) -> list[list[bytes]]:
        self.reads.append([stop - start for _, start, stop in ranges])
        return [
            [self.hashes[(level, i)] for i in range(start, stop)] for level, start, stop in ranges
        ]


def grown(size: int) -> tuple[list[bytes], Frontier, NodeTable]:
    leaves = [leaf_hash(n.to_bytes(4, "big")) for n in range(size)]
    frontier, table = Frontier(), NodeTable()
    for index, leaf in enumerate(leaves):
        table.keep(0, index, leaf)
        for node in frontier.push(leaf):
            table.keep(*node)
    return leaves, frontier, table


@given(st.integers(1, 1200), st.data())
def test_stored_proofs_equal_the_proofs_from_all_leaves(size: int, data: Any) -> None:
    leaves, frontier, table = grown(size)
    full = MerkleTree(leaves)
    assert frontier.root() == full.root() == StoredTree(table.read, size).root()
    new = data.draw(st.integers(1, size), label="new size")
    old = data.draw(st.integers(1, new), label="old size")
    index = data.draw(st.integers(0, new - 1), label="leaf")
    for answer, expected in (
        (lambda tree: tree.root(old), full.root(old)),
        (lambda tree: tree.inclusion_proof(index, new), full.inclusion_proof(index, new)),
        (lambda tree: tree.consistency_proof(old, new), full.consistency_proof(old, new)),
    ):
        table.reads.clear()
        assert answer(StoredTree(table.read, size)) == expected
        # One read, of a few small ranges (at most two a level), never a scan.
        assert len(table.reads) <= 1
        assert all(len(r) <= 2 * new.bit_length() and max(r) <= MOST_READ for r in table.reads)
    # Only the stride levels are kept (about size / 15 nodes).
    assert {level for level, _ in table.hashes} <= set(range(0, size.bit_length(), STRIDE))


@given(st.integers(0, 3000))
def test_the_frontier_loads_from_one_range_per_peak(size: int) -> None:
    _, frontier, table = grown(size)
    loaded = Frontier.load(StoredTree(table.read, size))
    assert loaded == frontier
    assert len(table.reads) == (1 if size else 0)
    for ranges in table.reads:
        assert len(ranges) == bin(size).count("1")
        assert max(ranges) <= MOST_READ


def test_the_stored_levels_are_the_complete_subtrees_of_a_full_tree() -> None:
    leaves, _, table = grown(300)
    full = MerkleTree(leaves)
    assert sorted(key for key in table.hashes if key[0]) == [
        *((4, i) for i in range(18)),
        (8, 0),
    ]
    for (level, index), digest in table.hashes.items():
        assert full.complete(level, index) == digest


class CountingStore(SQLiteStore):
    """Counts the leaf hashes the log reads back from the store."""

    leaves_read = 0
    records_read = 0

    def read_new(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        rows = super().read_new(start, stop)
        self.records_read += len(rows)
        return rows

    def node_ranges(self, ranges: Sequence[Range]) -> list[list[bytes]]:
        found = super().node_ranges(ranges)
        read = zip(ranges, found, strict=True)
        self.leaves_read += sum(len(row) for (level, _, _), row in read if not level)
        return found

    def leaves(self, start: int = 0) -> list[bytes]:
        raise AssertionError("the live log must not read every leaf")


def _append(store: SQLiteStore, first: int, count: int) -> None:
    store.append_many([("interaction", f"c{n}", {"n": n}) for n in range(first, first + count)])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(1, 90), min_size=1, max_size=6), st.data())
def test_the_log_serves_the_proofs_of_a_tree_rebuilt_from_its_leaves(
    tmp_path_factory: pytest.TempPathFactory, batches: list[int], data: Any
) -> None:
    directory = tmp_path_factory.mktemp("log")
    store = CountingStore(directory / "audit.sqlite")
    log = AuditLog(store, AuditSettings(directory / "key"))
    total = 0
    for batch in batches:
        _append(store, total, batch)
        total += batch
        checkpoint = log.sync()
        assert checkpoint is not None and checkpoint.size == total
    leaves = SQLiteStore(directory / "audit.sqlite").leaves()
    assert leaves == [record_leaf(data) for _, data in store.read(0, total)]
    full = MerkleTree(leaves)
    assert log.frontier.root() == full.root()
    new = data.draw(st.integers(1, total))
    old = data.draw(st.integers(1, new))
    assert log.tree().consistency_proof(old, new) == full.consistency_proof(old, new)
    call = data.draw(st.integers(0, total - 1))
    proven = log.proof_of_call(f"c{call}")
    (item,) = proven["records"]
    proof = [base64.b64decode(node) for node in item["inclusion_proof"]]
    assert proof == full.inclusion_proof(call, total)
    verify_inclusion(call, total, leaves[call], proof, full.root())
    # Started again, the log reads a few hashes per peak, not the leaves.
    again = CountingStore(directory / "audit.sqlite")
    restarted = AuditLog(again, AuditSettings(directory / "key"))
    assert restarted.sync() == store.latest_checkpoint()
    assert restarted.frontier == log.frontier
    assert again.leaves_read <= MOST_READ * total.bit_length() * 2


def test_a_store_without_subtree_hashes_gets_them_at_start(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    store = SQLiteStore(path)
    _append(store, 0, 100)
    leaves = [record_leaf(data) for _, data in store.read(0, 100)]
    store.add_leaves(0, leaves)  # as a version that kept only leaf hashes left it
    log = AuditLog(store, AuditSettings(tmp_path / "key"))
    checkpoint = log.sync()
    assert checkpoint is not None and checkpoint.root == MerkleTree(leaves).root()
    rows = sqlite3.connect(path).execute("SELECT level, idx FROM nodes ORDER BY 1, 2").fetchall()
    assert rows == [*((4, i) for i in range(6))]
    assert log.tree().inclusion_proof(37) == MerkleTree(leaves).inclusion_proof(37)


def test_two_writers_on_one_file_integrate_one_tree(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    first, second = SQLiteStore(path), SQLiteStore(path)
    one = AuditLog(first, AuditSettings(tmp_path / "key"))
    two = AuditLog(second, AuditSettings(tmp_path / "key"))
    for round_ in range(12):
        _append(first if round_ % 2 else second, round_ * 23, 23)
        (one if round_ % 3 else two).sync()
    one.sync()
    two.sync()
    leaves = first.leaves()
    assert len(leaves) == 12 * 23
    assert one.frontier.root() == two.frontier.root() == MerkleTree(leaves).root()
    assert verify_store(first, one.signer.verifier).ok


def _two_logs(
    directory: Path, other_key: str = "key"
) -> tuple[SQLiteStore, CountingStore, AuditLog, AuditLog]:
    """Two logs on one file, as two workers have: the second's store counts what it reads.
    The first signs with ``other_key`` (the same key as the second's unless told)."""
    path = directory / "audit.sqlite"
    first, second = SQLiteStore(path), CountingStore(path)
    one = AuditLog(first, AuditSettings(directory / other_key))
    return first, second, one, AuditLog(second, AuditSettings(directory / "key"))


def test_a_writer_behind_a_signed_checkpoint_hashes_only_the_records_after_it(
    tmp_path: Path,
) -> None:
    first, second, one, two = _two_logs(tmp_path)
    _append(first, 0, 50)
    assert two.sync() is not None and second.records_read == 50
    _append(first, 50, 300)
    signed = one.sync()
    assert signed is not None and signed.size == 350
    _append(second, 350, 7)
    second.records_read = 0
    checkpoint = two.sync()
    assert second.records_read == 7  # the other 300 came as the signed tree's peaks
    assert checkpoint is not None and checkpoint.size == 357
    leaves = first.leaves()
    assert leaves == [record_leaf(data) for _, data in first.read(0, 357)]
    assert two.frontier.root() == checkpoint.root == MerkleTree(leaves).root()
    assert two.tree().inclusion_proof(123) == MerkleTree(leaves).inclusion_proof(123)
    assert verify_store(first, one.signer.verifier).ok


def test_a_checkpoint_of_another_key_is_not_taken_as_the_tree(tmp_path: Path) -> None:
    first, second, stranger, ours = _two_logs(tmp_path, other_key="other")
    _append(first, 0, 10)
    ours.sync()
    _append(first, 10, 90)
    assert stranger.sync() is not None
    second.records_read = 0
    checkpoint = ours.sync()
    assert second.records_read == 90  # hashed by this log, not read from the stranger's tree
    assert checkpoint is not None and checkpoint.size == 100
    assert ours.frontier.root() == MerkleTree(first.leaves()).root() == checkpoint.root


def test_stored_hashes_that_do_not_fold_to_the_signed_root_are_not_taken(tmp_path: Path) -> None:
    first, second, one, two = _two_logs(tmp_path)
    _append(first, 0, 5)
    two.sync()
    second.records_read = 0
    _append(first, 5, 59)
    one.sync()
    raw = sqlite3.connect(tmp_path / "audit.sqlite")
    raw.execute("DROP TRIGGER nodes_no_update")
    raw.execute("UPDATE nodes SET hash = zeroblob(32) WHERE level = 4 AND idx = 3")
    raw.commit()
    _append(first, 64, 1)
    # It hashes the records itself, and the stored hash it computes again disagrees.
    with pytest.raises(AuditUnavailable, match="level 4 were integrated differently before"):
        two.sync()
    assert second.records_read == 60


def test_a_changed_subtree_hash_stops_the_signing(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    store = SQLiteStore(path)
    _append(store, 0, 40)
    AuditLog(store, AuditSettings(tmp_path / "key")).sync()
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE nodes SET hash = x'00' WHERE level = 4 AND idx = 0")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("INSERT INTO nodes VALUES (4, 2, zeroblob(32))")  # leaves 32-47: not all there
    raw.execute("DROP TRIGGER nodes_no_update")
    raw.execute("UPDATE nodes SET hash = zeroblob(32) WHERE level = 4 AND idx = 0")
    raw.commit()
    report = verify_store(store, AuditLog(store, AuditSettings(tmp_path / "key")).signer.verifier)
    assert report.first_bad_index == 0
    assert report.problems == [
        "the stored hash of records 0 to 15 (kept for proofs) does not match their leaf hashes"
    ]
    _append(store, 40, 1)
    restarted = AuditLog(store, AuditSettings(tmp_path / "key"))
    with pytest.raises(AuditUnavailable, match="refusing to sign"):
        restarted.sync()
