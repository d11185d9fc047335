"""The SQLite call record: append-only, hash-linked, shared safely by two processes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.audit.store import GENESIS, SQLiteStore
from gateway.errors import AuditUnavailable


def test_records_link_to_the_one_before(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    first = store.append("call.intent", "c1", {"tool": "t"})
    second, third = store.append_many([("interaction", "c1", {"n": 1}), ("call.outcome", "c1", {})])
    assert (first.seq, first.prev_hash) == (1, GENESIS)
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert [r.kind for r in store.records_of("c1")] == [
        "call.intent",
        "interaction",
        "call.outcome",
    ]
    assert store.verify_chain().ok


def test_two_writers_on_one_file_never_fork_the_chain(tmp_path: Path) -> None:
    # `serve` and a `legacy-gateway call` may share the file: each caches the chain head.
    serve, cli = SQLiteStore(tmp_path / "a.sqlite"), SQLiteStore(tmp_path / "a.sqlite")
    for i in range(50):
        (serve if i % 3 else cli).append_many([("a", "c", {"i": i}), ("b", "c", {"i": i})])
        cli.append("x", None, {"i": i})
    check = serve.verify_chain()
    assert check.ok and check.records == 150


def test_a_changed_byte_is_found_at_its_record(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    store = SQLiteStore(path)
    for i in range(5):
        store.append("call.intent", f"c{i}", {"amount": 100 + i})
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE records SET body = x'00' WHERE seq = 3")
    raw.execute("DROP TRIGGER records_no_update")
    raw.execute(
        "UPDATE records SET body = CAST(replace(CAST(body AS TEXT), '102', '902') AS BLOB) "
        "WHERE seq = 3"
    )
    raw.commit()
    check = store.verify_chain()
    assert (check.ok, check.first_bad_seq) == (False, 3)
    assert check.problem == "the record's content does not match its hash"


def test_a_closed_store_refuses_to_record(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.sqlite")
    store.close()
    with pytest.raises(AuditUnavailable, match="cannot"):
        store.append("call.intent", "c", {})
