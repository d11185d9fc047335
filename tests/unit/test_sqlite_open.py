"""Workers that start together open one new SQLite file: each of them, not the first only."""

from __future__ import annotations

import multiprocessing
import sqlite3
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from gateway.audit import sqlite_store
from gateway.audit.sqlite_store import SQLiteStore
from gateway.errors import AuditUnavailable

OPENERS = 3
ROUNDS = 12


def _open_together(path: Path, barrier: Barrier, answers: multiprocessing.Queue[str]) -> None:
    barrier.wait()
    try:
        SQLiteStore(path).close()
    except AuditUnavailable as exc:
        answers.put(str(exc))
    else:
        answers.put("opened")


def test_processes_opening_a_new_file_together_all_open_it(tmp_path: Path) -> None:
    # A new file is the race: switching it to WAL does not wait for a busy lock, and the
    # lease table's migration (check, then ALTER) ran twice. Half the rounds failed before.
    fork = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        path = tmp_path / f"{round_}" / "audit.sqlite"
        barrier = fork.Barrier(OPENERS)
        answers: multiprocessing.Queue[str] = fork.Queue()
        openers = [
            fork.Process(target=_open_together, args=(path, barrier, answers))
            for _ in range(OPENERS)
        ]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(timeout=30)
        assert [answers.get(timeout=5) for _ in openers] == ["opened"] * OPENERS
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        columns = [row[1] for row in db.execute("PRAGMA table_info(idempotency_keys)")]
        assert columns.count("instance") == 1
        db.close()


def test_a_file_locked_past_the_busy_timeout_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE held (x)")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(sqlite_store, "_BUSY_S", 0.2)
    try:
        with pytest.raises(AuditUnavailable, match=f"cannot open the audit store {path}: .*locked"):
            SQLiteStore(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    SQLiteStore(path).close()  # once the holder lets go, it opens


def test_a_failed_preparation_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE records (seq INTEGER, data BLOB)")  # not this version's log
    db.commit()
    db.close()
    with pytest.raises(AuditUnavailable, match=f"cannot open the audit store {path}"):
        SQLiteStore(path)
    tables = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert tables == {"records"}
