"""The call record store: the interface, and the embedded SQLite implementation.

Records are append-only. Each carries the SHA-256 of the previous record, so any edit,
deletion or reordering breaks the chain at the first record touched (``verify_chain``).
The tamper-evident log with Merkle proofs and signed checkpoints implements the same
``AuditStore`` interface.

Durability: ``append`` returns only once the record is committed. SQLite in WAL mode with
``synchronous=NORMAL`` keeps every acknowledged record through a ``kill -9`` of the process;
``synchronous=FULL`` (``durability="full"``) also through a power loss, at an fsync per record.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import sqlite3
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from gateway.errors import AuditUnavailable

GENESIS = "0" * 64
_INSERT = "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)"
_MAX_RACES = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    call_id   TEXT,
    body      BLOB NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_call ON records (call_id);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    call_id     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TRIGGER IF NOT EXISTS records_no_update BEFORE UPDATE ON records
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


@dataclass(frozen=True)
class StoredRecord:
    seq: int
    at: str
    kind: str
    call_id: str | None
    body: dict[str, Any]
    prev_hash: str
    hash: str

    def summary(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "hash": self.hash,
            "prev_hash": self.prev_hash,
        }


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: str | None = None


def canonical(seq: int, at: str, kind: str, call_id: str | None, body: bytes) -> bytes:
    """The bytes a record's hash covers: its position, time, kind, call and body."""
    head = orjson.dumps({"seq": seq, "at": at, "kind": kind, "call_id": call_id})
    return head + b"\n" + body


def link(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + content).hexdigest()


class AuditStore(ABC):
    """Where calls are recorded; every implementation is append-only and durable."""

    def append(self, kind: str, call_id: str | None, body: dict[str, Any]) -> StoredRecord:
        """Write one record durably; raise ``AuditUnavailable`` if it cannot be written."""
        return self.append_many([(kind, call_id, body)])[-1]

    @abstractmethod
    def append_many(
        self, entries: list[tuple[str, str | None, dict[str, Any]]]
    ) -> list[StoredRecord]:
        """Write records in order, durably and all or none (one commit for all of them)."""

    @abstractmethod
    def records_of(self, call_id: str) -> list[StoredRecord]: ...

    @abstractmethod
    def claim_key(
        self, scope: str, key: str, call_id: str, fingerprint: str
    ) -> tuple[str, str] | None:
        """Reserve an Idempotency-Key for a call, atomically.

        None when the key was free and is now ``call_id``'s; otherwise the call id and
        fingerprint of the call that holds it.
        """

    @abstractmethod
    def release_key(self, scope: str, key: str, call_id: str) -> None:
        """Give a key back when its call never started (the intent could not be written)."""

    @abstractmethod
    def verify_chain(self) -> ChainCheck: ...

    @abstractmethod
    def close(self) -> None: ...


class SQLiteStore(AuditStore):
    def __init__(self, path: Path | str, durability: Literal["normal", "full"] = "normal") -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={durability.upper()}")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise AuditUnavailable(f"cannot open the audit store {self.path}: {exc}") from exc
        self._lock = threading.Lock()
        self._head: tuple[int, str] | None = None

    def append_many(
        self, entries: list[tuple[str, str | None, dict[str, Any]]]
    ) -> list[StoredRecord]:
        option = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
        encoded = [(k, c, b, orjson.dumps(b, option=option)) for k, c, b in entries]
        with self._lock:
            # Optimistic: the chain head is cached, and a record's seq is its primary key.
            # If another process (a CLI call beside `serve`) appended meanwhile, our seq is
            # taken, the insert fails, and we re-read the head: the chain never forks.
            for _ in range(_MAX_RACES):
                if self._head is None:
                    self._head = self._read_head()
                stored = self._chain(self._head, encoded)
                rows = [(r.seq, r.at, r.kind, r.call_id, d, r.prev_hash, r.hash) for r, d in stored]
                try:
                    if len(rows) == 1:
                        self._db.execute(_INSERT, rows[0])  # one statement, one commit
                    else:
                        self._db.execute("BEGIN")
                        self._db.executemany(_INSERT, rows)
                        self._db.execute("COMMIT")
                except sqlite3.IntegrityError:
                    self._rollback()
                    self._head = None
                    continue
                except sqlite3.Error as exc:
                    self._rollback()
                    self._head = None
                    raise AuditUnavailable(
                        f"cannot write the audit store {self.path}: {exc}"
                    ) from exc
                last = stored[-1][0]
                self._head = (last.seq, last.hash)
                return [record for record, _ in stored]
        raise AuditUnavailable(f"the audit store {self.path} is contended; try again")

    def _read_head(self) -> tuple[int, str]:
        try:
            row = self._db.execute(
                "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        except sqlite3.Error as exc:
            raise AuditUnavailable(f"cannot read the audit store {self.path}: {exc}") from exc
        return (row[0], row[1]) if row else (0, GENESIS)

    @staticmethod
    def _chain(
        head: tuple[int, str], encoded: list[tuple[str, str | None, dict[str, Any], bytes]]
    ) -> list[tuple[StoredRecord, bytes]]:
        seq, prev = head
        out = []
        for kind, call_id, body, data in encoded:
            seq += 1
            at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
            digest = link(prev, canonical(seq, at, kind, call_id, data))
            out.append((StoredRecord(seq, at, kind, call_id, body, prev, digest), data))
            prev = digest
        return out

    def _rollback(self) -> None:
        # The connection itself may be the broken part (closed, disk gone): a failed
        # rollback must not hide the error that made the write fail.
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def records_of(self, call_id: str) -> list[StoredRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, at, kind, call_id, body, prev_hash, hash FROM records "
                "WHERE call_id = ? ORDER BY seq",
                (call_id,),
            ).fetchall()
        return [StoredRecord(r[0], r[1], r[2], r[3], orjson.loads(r[4]), r[5], r[6]) for r in rows]

    def claim_key(
        self, scope: str, key: str, call_id: str, fingerprint: str
    ) -> tuple[str, str] | None:
        at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        try:
            with self._lock:
                claimed = self._db.execute(
                    "INSERT OR IGNORE INTO idempotency_keys VALUES (?, ?, ?, ?, ?)",
                    (scope, key, call_id, fingerprint, at),
                ).rowcount
                if claimed:
                    return None
                row = self._db.execute(
                    "SELECT call_id, fingerprint FROM idempotency_keys WHERE scope = ? AND key = ?",
                    (scope, key),
                ).fetchone()
        except sqlite3.Error as exc:
            raise AuditUnavailable(f"cannot read the audit store {self.path}: {exc}") from exc
        return (row[0], row[1]) if row else None

    def release_key(self, scope: str, key: str, call_id: str) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.execute(
                "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND call_id = ?",
                (scope, key, call_id),
            )

    def verify_chain(self) -> ChainCheck:
        prev, count = GENESIS, 0
        with self._lock:
            cursor = self._db.execute(
                "SELECT seq, at, kind, call_id, body, prev_hash, hash FROM records ORDER BY seq"
            )
            for seq, at, kind, call_id, body, prev_hash, digest in cursor:
                count += 1
                if seq != count:
                    return ChainCheck(False, count, seq, f"expected record {count}, found {seq}")
                if prev_hash != prev:
                    return ChainCheck(
                        False, count, seq, "prev_hash does not match the record before"
                    )
                if link(prev, canonical(seq, at, kind, call_id, body)) != digest:
                    return ChainCheck(
                        False, count, seq, "the record's content does not match its hash"
                    )
                prev = digest
        return ChainCheck(True, count)

    def close(self) -> None:
        with self._lock:
            self._db.close()
