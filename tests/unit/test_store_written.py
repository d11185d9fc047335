"""Records a process wrote are read back from memory; those of another process from the
store: the answer is the store's either way, in log order, and the tree over it the same."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from gateway.audit.log import AuditLog, AuditSettings
from gateway.audit.merkle import MerkleTree
from gateway.audit.records import record_leaf
from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.written import Written


def test_reads_mix_own_and_other_processes_records_in_log_order(tmp_path: Path) -> None:
    ours = SQLiteStore(tmp_path / "a.sqlite")
    theirs = SQLiteStore(tmp_path / "a.sqlite")  # another worker on the same file
    for number in range(6):
        writer = ours if number % 3 else theirs
        writer.append_many([("call.intent", f"c{number}", {"n": number}),
                            ("call.outcome", f"c{number}", {"n": number})])  # fmt: skip
    fresh = SQLiteStore(tmp_path / "a.sqlite")  # holds nothing in memory: the store's answer
    assert ours._written.get(0, 12) and not fresh._written.get(0, 12)
    for start, stop in ((0, 12), (0, 1), (2, 5), (3, 9), (10, 20), (12, 14)):
        assert ours.read_new(start, stop) == fresh.read(start, stop)
        assert theirs.read_new(start, stop) == fresh.read(start, stop)
    assert [index for index, _ in ours.read_new(0, 12)] == list(range(12))


def test_the_tree_built_from_memory_is_the_one_built_from_the_store(tmp_path: Path) -> None:
    ours = SQLiteStore(tmp_path / "a.sqlite")
    theirs = SQLiteStore(tmp_path / "a.sqlite")
    settings = AuditSettings(tmp_path / "key")
    log = AuditLog(ours, settings)
    for number in range(40):
        (theirs if number % 4 == 0 else ours).append("call.intent", f"c{number}", {"n": number})
        if number % 7 == 0:
            log.sync()
    checkpoint = log.sync()
    rows = SQLiteStore(tmp_path / "a.sqlite").read(0, 40)  # the verifier's path
    assert checkpoint is not None and checkpoint.size == 40
    assert MerkleTree([record_leaf(data) for _, data in rows]).root() == checkpoint.root
    assert ours.leaves() == [record_leaf(data) for _, data in rows]


def test_pruning_empties_it_and_it_stays_within_its_bounds() -> None:
    written = Written(records=4, size=1_000)
    written.add((index, b"x" * 10) for index in range(10))
    assert sorted(written.get(0, 10)) == [6, 7, 8, 9]
    written.add([(10, b"y" * 995)])
    assert sorted(written.get(0, 11)) == [10]
    written.clear()
    assert written.get(0, 11) == {}


def test_records_held_cost_about_their_length_in_memory(tmp_path: Path) -> None:
    """The buffer is bounded by the records' lengths; the memory they hold must be about
    that too (orjson hands back bytes in an allocation of many times their length)."""
    store = SQLiteStore(tmp_path / "a.sqlite")
    body = {"answer": "x" * 5_000}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(200):
            store.append("call.outcome", f"c{number}", body)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    recorded = store._written._bytes
    assert len(store._written.get(0, 200)) == 200 and recorded > 200 * 5_000
    assert held < 1.5 * recorded, f"{held} bytes of memory for {recorded} bytes of records"
