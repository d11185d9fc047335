"""Where audit records live: the interface, and the embedded SQLite implementation.

The log keeps four append-only tables: the records as written (the record's position in
the log is its index), the Merkle leaf hashes of the records integrated into the tree so far,
the signed checkpoints, and the mark below which records were pruned. Triggers refuse every
change but appending in order, and the deletion ``audit prune`` makes (records below a mark
that a ``log.pruned`` record names). They are defence in depth: ``legacy-gateway audit
verify`` is the guard, and finds any change that gets past them (triggers dropped) through
the Merkle tree, the signed checkpoints and the signed prune statements.

Durability: ``append_many`` returns only once the records are committed. SQLite in WAL mode
with ``synchronous=NORMAL`` keeps every acknowledged record through a ``kill -9`` of the
process; ``synchronous=FULL`` (``durability="full"``) also through a power loss.

Group commit: appenders that arrive while a commit is running wait, and the next one to
write takes all of them into one transaction, so concurrent calls share commits instead of
queueing for one each.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from gateway.audit.callstate import CallStateStore, SqlCallState, prepare_call_state
from gateway.audit.records import RecordContext, StoredRecord, decode, encode
from gateway.errors import AuditUnavailable
from gateway.policy.approvals import Approval
from gateway.policy.auth import StoredKey

Entry = tuple[str, str | None, dict[str, Any]]
OUTCOME = "call.outcome"
SUBMITTED = "call.submitted"
_MAX_RACES = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    idx     INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    call_id TEXT,
    data    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_call ON records (call_id);
CREATE INDEX IF NOT EXISTS records_kind ON records (kind);
CREATE TABLE IF NOT EXISTS leaves (
    idx  INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    at   TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pruned (
    end_idx INTEGER PRIMARY KEY,
    at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS approvals (
    approval_id TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    data        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    agent       TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    call_id     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
"""
# Records below the pruned mark (exported, checkpointed, past retention, named by a
# log.pruned record) may be deleted; their leaf hashes stay, so every checkpoint verifies.
_REFUSE = "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
_LOG_TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS records_no_update BEFORE UPDATE ON records {_REFUSE}
CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records
    WHEN OLD.idx >= (SELECT coalesce(max(end_idx), 0) FROM pruned) {_REFUSE}
CREATE TRIGGER IF NOT EXISTS records_in_order BEFORE INSERT ON records
    WHEN NEW.idx != coalesce((SELECT max(idx) + 1 FROM records),
                             (SELECT max(end_idx) FROM pruned), 0) {_REFUSE}
CREATE TRIGGER IF NOT EXISTS leaves_in_order BEFORE INSERT ON leaves
    WHEN NEW.idx > coalesce((SELECT max(idx) + 1 FROM leaves), 0) {_REFUSE}
CREATE TRIGGER IF NOT EXISTS checkpoints_of_leaves BEFORE INSERT ON checkpoints
    WHEN NEW.size > coalesce((SELECT max(idx) + 1 FROM leaves), 0) {_REFUSE}
CREATE TRIGGER IF NOT EXISTS pruned_by_record BEFORE INSERT ON pruned
    WHEN NOT EXISTS (SELECT 1 FROM records WHERE kind = 'log.pruned'
        AND json_extract(CAST(data AS TEXT), '$.body.to_index') = NEW.end_idx) {_REFUSE}
"""
_APPEND_ONLY = (
    "CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
    + _REFUSE
    + "\nCREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
    + _REFUSE
)


class MissingLeaf(AuditUnavailable):
    """A leaf hash that should be in the store is not (deleted behind the log's back)."""

    def __init__(self, index: int, where: str) -> None:
        super().__init__(f"leaf {index} is missing from {where}")
        self.index = index


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    at: str
    note: str


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class AuditStore(CallStateStore, ABC):
    """Where calls are recorded; every implementation is append-only and durable."""

    @property
    def display(self) -> str:
        """Where the store is, for operators' messages (never with a password)."""
        return type(self).__name__

    def append(
        self,
        kind: str,
        call_id: str | None,
        body: dict[str, Any],
        context: RecordContext | None = None,
    ) -> StoredRecord:
        """Write one record durably; raise ``AuditUnavailable`` if it cannot be written."""
        return self.append_many([(kind, call_id, body)], context)[-1]

    @abstractmethod
    def append_many(
        self, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord]:
        """Write records in order, durably and all or none (one commit for all of them)."""

    @abstractmethod
    def records_of(self, call_id: str) -> list[StoredRecord]: ...

    @abstractmethod
    def records_of_kind(self, *kinds: str) -> list[StoredRecord]:
        """Every record of these kinds (configurations loaded...), in log order."""

    @abstractmethod
    def count(self) -> int:
        """How many records the log holds."""

    @abstractmethod
    def read(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        """Records ``start`` to ``stop - 1`` as stored: (index, bytes)."""

    @abstractmethod
    def leaves(self, start: int = 0) -> list[bytes]:
        """Leaf hashes integrated into the tree, from index ``start`` on."""

    @abstractmethod
    def add_leaves(self, start: int, hashes: list[bytes]) -> None:
        """Integrate leaf hashes ``start`` onwards; a hash already there must be the same."""

    @abstractmethod
    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None: ...

    @abstractmethod
    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every signed checkpoint, smallest size first."""

    @abstractmethod
    def latest_checkpoint(self) -> StoredCheckpoint | None: ...

    @abstractmethod
    def pruned_before(self) -> int:
        """Records below this index were pruned (exported first); 0 when none were."""

    def first_index(self) -> int:
        """The index of the first record the store still holds (what pruning left)."""
        return self.pruned_before()

    @abstractmethod
    def prune(self, end: int) -> None:
        """Delete the records below ``end`` (their leaves stay), once a ``log.pruned`` record
        names the range; see ``gateway.audit.retention``."""

    @abstractmethod
    def claim_key(
        self, scope: str, key: str, call_id: str, fingerprint: str, instance: str | None = None
    ) -> tuple[str, str] | None:
        """Reserve an Idempotency-Key for a call, atomically (``instance``: the claiming
        process, so that a crash before its intent releases the key).

        None when the key was free and is now ``call_id``'s; otherwise the call id and
        fingerprint of the call that holds it.
        """

    @abstractmethod
    def release_key(self, scope: str, key: str, call_id: str) -> bool:
        """Give a key back (its call never started, or the key expired); True if this
        caller released it."""

    # Approvals wait beside the log too: their arguments may hold sensitive values in clear.

    @abstractmethod
    def add_approval(self, approval: Approval) -> None: ...

    @abstractmethod
    def get_approval(self, approval_id: str) -> Approval | None: ...

    @abstractmethod
    def pending_approvals(self) -> list[Approval]: ...

    @abstractmethod
    def settle_approval(self, approval: Approval) -> bool:
        """Record a decision if the approval is still pending; False if someone was first."""

    # API keys live beside the log (not in it: a revocation changes a row); creating and
    # revoking one is also a record of the log.

    @abstractmethod
    def add_key(self, key: StoredKey) -> None: ...

    @abstractmethod
    def find_key(self, key_id: str) -> StoredKey | None: ...

    @abstractmethod
    def revoke_key(self, key_id: str, at: str) -> StoredKey | None: ...

    @abstractmethod
    def list_keys(self) -> list[StoredKey]: ...

    # A submitted call ends once, whoever ends it first: its reply, or its deadline passing,
    # on any replica. Stores that processes share make these two atomic.

    def append_outcome(
        self, call_id: str, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord] | None:
        """Write a call's last records (its ``call.outcome`` among them) unless the call has
        an outcome already; None then, and nothing is written."""
        if any(record.kind == OUTCOME for record in self.records_of(call_id)):
            return None
        return self.append_many(entries, context)

    def open_submissions(self, since: int = 0) -> list[StoredRecord]:
        """``call.submitted`` records from index ``since`` on whose call has no outcome."""
        return [
            record
            for record in self.records_of_kind(SUBMITTED)
            if record.index >= since
            and record.call_id is not None
            and not any(r.kind == OUTCOME for r in self.records_of(record.call_id))
        ]

    @abstractmethod
    def close(self) -> None: ...


@dataclass
class _Batch:
    """Appends that share one commit (group commit); the first to join writes it."""

    groups: list[tuple[list[Entry], RecordContext | None]] = field(default_factory=list)
    turn: threading.Event = field(default_factory=threading.Event)  # its writer may start
    done: threading.Event = field(default_factory=threading.Event)
    results: list[list[StoredRecord] | BaseException] = field(default_factory=list)


Row = tuple[int, str, str, str | None, bytes]


def encode_groups(
    groups: list[tuple[list[Entry], RecordContext | None]], start: int
) -> tuple[list[list[StoredRecord] | BaseException], list[Row]]:
    """The records of appenders' groups, numbered from ``start``, and their table rows.

    A group that cannot be encoded (a value JSON cannot hold) is refused alone.
    """
    stored: list[list[StoredRecord] | BaseException] = []
    rows: list[Row] = []
    index = start
    for entries, context in groups:
        group: list[StoredRecord] = []
        group_rows: list[Row] = []
        try:
            for kind, call_id, body in entries:
                record = StoredRecord(
                    index + len(group), now(), kind, call_id, body, context or RecordContext()
                )
                group_rows.append((record.index, record.at, kind, call_id, encode(record)))
                group.append(record)
        except TypeError as exc:
            stored.append(AuditUnavailable(f"a record cannot be written: {exc}"))
            continue
        rows.extend(group_rows)
        stored.append(group)
        index += len(group)
    return stored, rows


class GroupCommitStore(AuditStore):
    """Group commit for stores with one writer connection.

    Appenders that arrive while a commit runs join the next batch; its first appender
    writes the whole batch in one transaction (``_write``) once the running commit is done.
    """

    def __init__(self) -> None:
        self._batching = threading.Lock()
        self._pending: _Batch | None = None
        self._writing = False

    def append_many(
        self, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord]:
        with self._batching:
            batch = self._pending
            if batch is None:
                batch = self._pending = _Batch()
                if not self._writing:
                    self._writing = True
                    batch.turn.set()
            position = len(batch.groups)
            batch.groups.append((entries, context))
        if position == 0:
            self._write_batch(batch)
        else:
            batch.done.wait()
        result = batch.results[position]
        if isinstance(result, BaseException):
            raise result
        return result

    def _write_batch(self, batch: _Batch) -> None:
        """Wait for the running commit, then write everyone who joined meanwhile at once."""
        batch.turn.wait()
        with self._batching:
            if self._pending is batch:
                self._pending = None  # later appenders start the next batch
        try:
            batch.results = self._write(batch.groups)
        except BaseException as exc:
            batch.results = [exc] * len(batch.groups)
        finally:
            batch.done.set()
            with self._batching:
                following = self._pending
                if following is not None:
                    following.turn.set()
                else:
                    self._writing = False

    @abstractmethod
    def _write(
        self, groups: list[tuple[list[Entry], RecordContext | None]]
    ) -> list[list[StoredRecord] | BaseException]:
        """Write the groups in one transaction; a group that cannot be encoded fails alone."""


class SqlTables(GroupCommitStore, SqlCallState):
    """The reads and the side tables both SQL stores share, written once.

    Subclasses give ``_reading()`` (a connection whose ``execute`` returns a cursor) and
    their parameter mark (``?`` for SQLite, ``%s`` for psycopg).
    """

    _mark = "?"

    def _sql(self, text: str) -> str:
        return text if self._mark == "?" else text.replace("?", self._mark)

    @abstractmethod
    def _reading(self) -> contextlib.AbstractContextManager[Any]: ...

    def records_of(self, call_id: str) -> list[StoredRecord]:
        with self._reading() as db:
            rows = db.execute(
                self._sql("SELECT data FROM records WHERE call_id = ? ORDER BY idx"), (call_id,)
            ).fetchall()
        return [decode(bytes(row[0])) for row in rows]

    def read(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        with self._reading() as db:
            rows = db.execute(
                self._sql("SELECT idx, data FROM records WHERE idx >= ? AND idx < ? ORDER BY idx"),
                (start, stop),
            ).fetchall()
        return [(int(index), bytes(data)) for index, data in rows]

    def leaves(self, start: int = 0) -> list[bytes]:
        with self._reading() as db:
            rows = db.execute(
                self._sql("SELECT idx, hash FROM leaves WHERE idx >= ? ORDER BY idx"), (start,)
            ).fetchall()
        hashes = []
        for expected, (index, digest) in enumerate(rows, start):
            if index != expected:
                raise MissingLeaf(expected, self.display)
            hashes.append(bytes(digest))
        return hashes

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self._reading() as db:
            rows = db.execute(
                self._sql("SELECT size, root, at, note FROM checkpoints ORDER BY size")
            ).fetchall()
        return [StoredCheckpoint(int(s), bytes(r), a, n) for s, r, a, n in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self._reading() as db:
            row = db.execute(
                self._sql("SELECT size, root, at, note FROM checkpoints ORDER BY size DESC LIMIT 1")
            ).fetchone()
        return StoredCheckpoint(int(row[0]), bytes(row[1]), row[2], row[3]) if row else None

    def pruned_before(self) -> int:
        with self._reading() as db:
            row = db.execute(self._sql("SELECT max(end_idx) FROM pruned")).fetchone()
        return int(row[0] or 0)

    def first_index(self) -> int:
        """What the records table holds, not what the pruned table says: verify reads this."""
        with self._reading() as db:
            row = db.execute(self._sql("SELECT min(idx) FROM records")).fetchone()
        return self.count() if row[0] is None else int(row[0])

    def claim_key(
        self, scope: str, key: str, call_id: str, fingerprint: str, instance: str | None = None
    ) -> tuple[str, str] | None:
        with self._reading() as db:
            claimed = db.execute(
                self._sql(
                    "INSERT INTO idempotency_keys (scope, key, call_id, fingerprint, at, instance)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                ),
                (scope, key, call_id, fingerprint, now(), instance),
            ).rowcount
            if claimed:
                return None
            row = db.execute(
                self._sql(
                    "SELECT call_id, fingerprint FROM idempotency_keys WHERE scope = ? AND key = ?"
                ),
                (scope, key),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def release_key(self, scope: str, key: str, call_id: str) -> bool:
        with contextlib.suppress(AuditUnavailable), self._reading() as db:
            return bool(
                db.execute(
                    self._sql(
                        "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND call_id = ?"
                    ),
                    (scope, key, call_id),
                ).rowcount
            )
        return False

    def add_approval(self, approval: Approval) -> None:
        with self._reading() as db:
            db.execute(
                self._sql("INSERT INTO approvals VALUES (?, ?, ?)"),
                (approval.approval_id, approval.status, approval.to_json().decode()),
            )

    def get_approval(self, approval_id: str) -> Approval | None:
        with self._reading() as db:
            row = db.execute(
                self._sql("SELECT data FROM approvals WHERE approval_id = ?"), (approval_id,)
            ).fetchone()
        return Approval.from_json(row[0]) if row else None

    def pending_approvals(self) -> list[Approval]:
        with self._reading() as db:
            rows = db.execute(
                self._sql("SELECT data FROM approvals WHERE status = 'pending'")
            ).fetchall()
        return sorted((Approval.from_json(r[0]) for r in rows), key=lambda a: a.requested_at)

    def settle_approval(self, approval: Approval) -> bool:
        with self._reading() as db:
            changed = db.execute(
                self._sql(
                    "UPDATE approvals SET status = ?, data = ? "
                    "WHERE approval_id = ? AND status = 'pending'"
                ),
                (approval.status, approval.to_json().decode(), approval.approval_id),
            ).rowcount
        return bool(changed)

    def add_key(self, key: StoredKey) -> None:
        with self._reading() as db:
            db.execute(self._sql("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?)"),
                (key.key_id, key.agent, key.secret_hash, orjson.dumps(key.scopes).decode(),
                 key.created_at, key.revoked_at),
            )  # fmt: skip

    def find_key(self, key_id: str) -> StoredKey | None:
        with self._reading() as db:
            row = db.execute(
                self._sql("SELECT * FROM api_keys WHERE key_id = ?"), (key_id,)
            ).fetchone()
        return key_from_row(row) if row else None

    def revoke_key(self, key_id: str, at: str) -> StoredKey | None:
        with self._reading() as db:
            db.execute(
                self._sql(
                    "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL"
                ),
                (at, key_id),
            )
            row = db.execute(
                self._sql("SELECT * FROM api_keys WHERE key_id = ?"), (key_id,)
            ).fetchone()
        return key_from_row(row) if row else None

    def list_keys(self) -> list[StoredKey]:
        with self._reading() as db:
            rows = db.execute(self._sql("SELECT * FROM api_keys ORDER BY created_at")).fetchall()
        return [key_from_row(row) for row in rows]

    def open_submissions(self, since: int = 0) -> list[StoredRecord]:
        with self._reading() as db:
            rows = db.execute(
                self._sql(
                    f"SELECT data FROM records s WHERE s.idx >= ? AND s.kind = '{SUBMITTED}' "
                    "AND NOT EXISTS (SELECT 1 FROM records o WHERE o.call_id = s.call_id "
                    f"AND o.kind = '{OUTCOME}') ORDER BY s.idx"
                ),
                (since,),
            ).fetchall()
        return [decode(bytes(row[0])) for row in rows]


class SQLiteStore(SqlTables):
    def __init__(self, path: Path | str, durability: Literal["normal", "full"] = "normal") -> None:
        self.path = Path(path)
        self._display = str(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={durability.upper()}")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            prepare_call_state(self._db.execute, "sqlite")
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(records)")}
            if "seq" in columns:
                raise AuditUnavailable(
                    f"{self.path} holds a hash-chained record of an earlier version, not a "
                    "Merkle log: move it aside (it stays readable with that version)"
                )
            self._db.executescript(_LOG_TRIGGERS)
            for table in ("leaves", "checkpoints", "pruned"):
                self._db.executescript(_APPEND_ONLY.format(table=table))
        except (OSError, sqlite3.Error) as exc:
            raise AuditUnavailable(f"cannot open the audit store {self.path}: {exc}") from exc
        self._lock = threading.Lock()  # the connection: one statement at a time
        self._next: int | None = None
        super().__init__()

    # ------------------------------------------------------------------ appending

    def _write(
        self, groups: list[tuple[list[Entry], RecordContext | None]]
    ) -> list[list[StoredRecord] | BaseException]:
        with self._lock:
            # Optimistic: the next index is cached, and an index is a primary key. If another
            # process (a CLI call beside `serve`) appended meanwhile, ours is taken, the insert
            # fails, and we read the end of the log again: no index is ever used twice.
            for _ in range(_MAX_RACES):
                if self._next is None:
                    self._next = self._read_count()
                stored, rows = encode_groups(groups, self._next)
                if not rows:
                    return stored
                try:
                    if len(rows) == 1:
                        self._db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows[0])
                    else:
                        self._db.execute("BEGIN")
                        self._db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
                        self._db.execute("COMMIT")
                except sqlite3.IntegrityError:
                    self._rollback()
                    self._next = None
                    continue
                except sqlite3.Error as exc:
                    self._rollback()
                    self._next = None
                    raise AuditUnavailable(
                        f"cannot write the audit store {self.path}: {exc}"
                    ) from exc
                self._next = rows[-1][0] + 1
                return stored
        raise AuditUnavailable(f"the audit store {self.path} is contended; try again")

    def append_outcome(
        self, call_id: str, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord] | None:
        # BEGIN IMMEDIATE takes the database's write lock first, so the check and the insert
        # are one step for every process writing this file.
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                ended = self._db.execute(
                    f"SELECT 1 FROM records WHERE call_id = ? AND kind = '{OUTCOME}' LIMIT 1",
                    (call_id,),
                ).fetchone()
                rows: list[Row] = []
                if ended is None:
                    stored, rows = encode_groups([(entries, context)], self._read_count())
                    self._db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                self._next = None
                raise AuditUnavailable(f"cannot write the audit store {self.path}: {exc}") from exc
            if rows:
                self._next = rows[-1][0] + 1
        if ended is not None:
            return None
        result = stored[0]
        if isinstance(result, BaseException):
            raise result
        return result

    @property
    def display(self) -> str:
        return self._display

    def _read_count(self) -> int:
        try:
            row = self._db.execute(
                "SELECT max(m) FROM (SELECT max(idx) + 1 AS m FROM records "
                "UNION ALL SELECT max(end_idx) FROM pruned)"
            ).fetchone()
        except sqlite3.Error as exc:
            raise AuditUnavailable(f"cannot read the audit store {self.path}: {exc}") from exc
        return int(row[0] or 0)

    def _rollback(self) -> None:
        # The connection itself may be the broken part (closed, disk gone): a failed
        # rollback must not hide the error that made the write fail.
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    # ------------------------------------------------------------------ reading

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise AuditUnavailable(f"cannot read the audit store {self.path}: {exc}") from exc

    def records_of_kind(self, *kinds: str) -> list[StoredRecord]:
        marks = ", ".join("?" for _ in kinds)
        with self._reading() as db:
            rows = db.execute(
                f"SELECT data FROM records WHERE kind IN ({marks}) ORDER BY idx", kinds
            ).fetchall()
        return [decode(row[0]) for row in rows]

    def count(self) -> int:
        with self._reading():
            return self._read_count()

    def add_leaves(self, start: int, hashes: list[bytes]) -> None:
        rows = [(start + offset, digest) for offset, digest in enumerate(hashes)]
        with self._reading() as db:
            db.execute("BEGIN")
            try:
                db.executemany("INSERT OR IGNORE INTO leaves VALUES (?, ?)", rows)
                stored = db.execute(
                    "SELECT hash FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx",
                    (start, start + len(hashes)),
                ).fetchall()
                if [bytes(row[0]) for row in stored] != hashes:
                    raise AuditUnavailable(
                        f"leaves {start} to {start + len(hashes) - 1} were integrated "
                        "differently before: the records changed since"
                    )
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self._reading() as db:
            db.execute(
                "INSERT OR IGNORE INTO checkpoints VALUES (?, ?, ?, ?)",
                (checkpoint.size, checkpoint.root, checkpoint.at, checkpoint.note),
            )

    # ------------------------------------------------------------------ keys

    def prune(self, end: int) -> None:
        with self._reading() as db:
            db.execute("BEGIN")
            try:
                db.execute("INSERT OR IGNORE INTO pruned VALUES (?, ?)", (end, now()))
                db.execute("DELETE FROM records WHERE idx < ?", (end,))
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()


def key_from_row(row: Any) -> StoredKey:
    key_id, agent, secret_hash, scopes, created_at, revoked_at = row
    return StoredKey(
        key_id, agent, secret_hash, tuple(orjson.loads(scopes)), created_at, revoked_at
    )
