"""The embedded SQLite audit store (the interface every store offers: ``store``).

The log keeps five append-only tables: the records as written (the record's position in
the log is its index), the Merkle leaf hashes of the records integrated into the tree so far,
the hashes of complete subtrees above them (``tree_store``), the signed checkpoints, and the
mark below which records were pruned. Triggers refuse every
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
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from gateway.audit.callstate import prepare_call_state
from gateway.audit.keys_store import key_from_row
from gateway.audit.records import RecordContext, StoredRecord
from gateway.audit.sql_store import (
    INSERT_IN_ORDER,
    LOG_TABLES,
    SIDE_TABLES,
    GroupCommitStore,
    SqlTables,
    encode_groups,
)
from gateway.audit.store import (
    OUTCOME,
    SUBMITTED,
    AuditStore,
    Entry,
    MissingLeaf,
    StoredCheckpoint,
    now,
)
from gateway.errors import AuditUnavailable

# Where the rest of the product has always found these.
__all__ = [
    "OUTCOME",
    "SUBMITTED",
    "AuditStore",
    "Entry",
    "GroupCommitStore",
    "MissingLeaf",
    "SQLiteStore",
    "SqlTables",
    "StoredCheckpoint",
    "encode_groups",
    "key_from_row",
    "now",
]
_MAX_RACES = 100
_BUSY_S = 5.0  # how long a statement waits for another process's lock


def _enter_wal(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting for a process that holds it meanwhile.

    Switching the journal mode does not call SQLite's busy handler: a second worker that
    opens a new file while the first is creating it gets "database is locked" at once.
    """
    deadline = time.monotonic() + _BUSY_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


_SCHEMA = LOG_TABLES.format(integer="INTEGER", blob="BLOB", rowless=" WITHOUT ROWID")
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
    WHEN NOT ({INSERT_IN_ORDER["leaves"]}) {_REFUSE}
CREATE TRIGGER IF NOT EXISTS nodes_of_leaves BEFORE INSERT ON nodes
    WHEN NOT ({INSERT_IN_ORDER["nodes"]}) {_REFUSE}
CREATE TRIGGER IF NOT EXISTS checkpoints_of_leaves BEFORE INSERT ON checkpoints
    WHEN NOT ({INSERT_IN_ORDER["checkpoints"]}) {_REFUSE}
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


class SQLiteStore(SqlTables):
    _by_call = " INDEXED BY records_call"

    def __init__(self, path: Path | str, durability: Literal["normal", "full"] = "normal") -> None:
        self.path = Path(path)
        self._display = str(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=_BUSY_S, check_same_thread=False, isolation_level=None
            )
            _enter_wal(self._db)
            self._db.execute(f"PRAGMA synchronous={durability.upper()}")
            # Workers starting together each prepare the file: under the write lock, so a
            # migration's check and its change are one step (two ALTERs of one column fail).
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._prepare()
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except (OSError, sqlite3.Error) as exc:
            raise AuditUnavailable(f"cannot open the audit store {self.path}: {exc}") from exc
        self._lock = threading.Lock()  # the connection: one statement at a time
        self._next: int | None = None
        super().__init__()

    def _prepare(self) -> None:
        self._run_script(_SCHEMA + SIDE_TABLES)
        prepare_call_state(self._db.execute, "sqlite")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(records)")}
        if "seq" in columns:
            raise AuditUnavailable(
                f"{self.path} holds a hash-chained record of an earlier version, not a "
                "Merkle log: move it aside (it stays readable with that version)"
            )
        self._run_script(_LOG_TRIGGERS)
        for table in ("leaves", "nodes", "checkpoints", "pruned", "verifications"):
            self._run_script(_APPEND_ONLY.format(table=table))

    def _run_script(self, script: str) -> None:
        # Not executescript: it commits the transaction it is run in.
        statement = ""
        for piece in script.split(";"):
            statement += piece + ";"
            if sqlite3.complete_statement(statement):
                if statement.strip(" \n;"):
                    self._db.execute(statement)
                statement = ""

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
                self._committed(rows)
                return stored
        raise AuditUnavailable(f"the audit store {self.path} is contended; try again")

    @contextlib.contextmanager
    def _appending_alone(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the database's write lock first, so what the transaction
        # reads and what it inserts are one step for every process writing this file.
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise AuditUnavailable(f"cannot write the audit store {self.path}: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
            finally:
                self._next = None  # read the end of the log again at the next append

    def _append_claimed(
        self, db: sqlite3.Connection, entries: list[Entry], context: RecordContext | None
    ) -> list[StoredRecord]:
        stored, rows = encode_groups([(entries, context)], self._read_count())
        result = stored[0]
        if isinstance(result, BaseException):
            raise result  # rolls the transaction back
        db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
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

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._reading() as db:
            db.execute("BEGIN")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def count(self) -> int:
        with self._reading():
            return self._read_count()

    def close(self) -> None:
        self._stop_committing()
        with self._lock:
            self._db.close()
