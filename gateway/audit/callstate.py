"""The state of calls beside the log: who is running them, and what a crash left unfinished.

Each serving process holds a lease (a row of ``instances``) under a fresh instance id, and
puts that id on the intents it writes and the Idempotency-Keys it claims. A lease whose
process stopped renewing it, or whose name a new process of the same name now holds (the
same pod or host:port started again), marks that process as gone: the first live process
to retire the row (a delete, so exactly one does) finds the calls it left unfinished.

A lease's ``first_idx`` moves forward as the process's calls end (each heartbeat), and
``recovery_marks`` keeps how far the calls of no instance have been settled, so that what a
stop, a crash or a start reads is the log since then, not the whole log.

The tables are not part of the log: a lease changes (its heartbeat), and losing them loses no
record, only the shortcut to a dead process's calls.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from gateway.audit.records import StoredRecord, decode
from gateway.audit.sql_access import SqlAccess

# Records after which a call is no longer in flight: an outcome, handed to a queue, refused.
ENDINGS = ("call.outcome", "call.submitted", "approval.refused")
# Records that start the part of a call where the legacy side may be touched.
STARTS = ("call.intent", "approval.decided")

_LEASES = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id  TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    first_idx    BIGINT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
)
"""
_MARKS = """
CREATE TABLE IF NOT EXISTS recovery_marks (
    name TEXT PRIMARY KEY,
    idx  BIGINT NOT NULL
)
"""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Lease:
    """A process that serves calls: its id on the record, and when it last said so."""

    instance_id: str
    name: str
    first_idx: int  # its calls that may be unfinished are all from this index on
    started_at: str
    heartbeat_at: str


@dataclass(frozen=True)
class ClaimedKey:
    scope: str
    key: str
    call_id: str
    at: str
    instance: str | None


def prepare_call_state(execute: Callable[[str], Any], dialect: Literal["sqlite", "pg"]) -> None:
    """Create the lease and mark tables; add the claiming instance to Idempotency-Key rows."""
    execute(_LEASES)
    execute(_MARKS)
    # The expiry sweep asks for the oldest claims every few seconds.
    execute("CREATE INDEX IF NOT EXISTS idempotency_keys_at ON idempotency_keys (at)")
    if dialect == "pg":
        execute("ALTER TABLE idempotency_keys ADD COLUMN IF NOT EXISTS instance TEXT")
        return
    columns = {row[1] for row in execute("PRAGMA table_info(idempotency_keys)").fetchall()}
    if "instance" not in columns:
        execute("ALTER TABLE idempotency_keys ADD COLUMN instance TEXT")


class CallStateStore(ABC):
    """What crash recovery and expiry need from a store."""

    @abstractmethod
    def take_over_key(
        self, scope: str, key: str, old_call_id: str, new_call_id: str, instance: str | None
    ) -> bool:
        """Hand a key from a call that may be tried again to its new attempt, atomically."""

    @abstractmethod
    def claimed_keys(
        self, *, before: str | None = None, instance: str | None = None, limit: int = 500
    ) -> list[ClaimedKey]:
        """Keys claimed before a time, or by one instance."""

    @abstractmethod
    def register_lease(self, lease: Lease) -> bool:
        """Take a lease row; False when one with that id exists."""

    @abstractmethod
    def renew_lease(self, instance_id: str, at: str, first_idx: int) -> bool:
        """Say the instance is alive, its unfinished calls from ``first_idx`` on; False when
        its lease was retired meanwhile."""

    @abstractmethod
    def leases(self) -> list[Lease]: ...

    @abstractmethod
    def retire_lease(self, instance_id: str) -> bool:
        """Delete a lease; True only for the one caller that deleted it."""

    @abstractmethod
    def unfinished(self, since: int = 0) -> list[StoredRecord]:
        """Intents (and approved decisions) from index ``since`` on with no ending record."""

    @abstractmethod
    def recovery_mark(self, name: str) -> int:
        """The index ``name`` was settled up to (0 when never)."""

    @abstractmethod
    def set_recovery_mark(self, name: str, index: int) -> None: ...


class SqlCallState(CallStateStore, SqlAccess):
    """The SQL of ``CallStateStore``, shared by SQLite and PostgreSQL."""

    def take_over_key(
        self, scope: str, key: str, old_call_id: str, new_call_id: str, instance: str | None
    ) -> bool:
        with self._reading() as db:
            changed = db.execute(
                self._sql(
                    "UPDATE idempotency_keys SET call_id = ?, at = ?, instance = ? "
                    "WHERE scope = ? AND key = ? AND call_id = ?"
                ),
                (new_call_id, _now(), instance, scope, key, old_call_id),
            ).rowcount
        return bool(changed)

    def claimed_keys(
        self, *, before: str | None = None, instance: str | None = None, limit: int = 500
    ) -> list[ClaimedKey]:
        where, values = [], []
        if before is not None:
            where.append("at < ?")
            values.append(before)
        if instance is not None:
            where.append("instance = ?")
            values.append(instance)
        condition = " AND ".join(where) or "1 = 1"
        with self._reading() as db:
            rows = db.execute(
                self._sql(
                    "SELECT scope, key, call_id, at, instance FROM idempotency_keys "
                    f"WHERE {condition} ORDER BY at LIMIT {int(limit)}"
                ),
                tuple(values),
            ).fetchall()
        return [ClaimedKey(*row) for row in rows]

    def register_lease(self, lease: Lease) -> bool:
        with self._reading() as db:
            added = db.execute(
                self._sql("INSERT INTO instances VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
                (lease.instance_id, lease.name, lease.first_idx, lease.started_at,
                 lease.heartbeat_at),
            ).rowcount  # fmt: skip
        return bool(added)

    def renew_lease(self, instance_id: str, at: str, first_idx: int) -> bool:
        with self._reading() as db:
            changed = db.execute(
                self._sql(
                    "UPDATE instances SET heartbeat_at = ?, first_idx = ? WHERE instance_id = ?"
                ),
                (at, first_idx, instance_id),
            ).rowcount
        return bool(changed)

    def leases(self) -> list[Lease]:
        with self._reading() as db:
            rows = db.execute(self._sql("SELECT * FROM instances ORDER BY started_at")).fetchall()
        return [Lease(str(i), str(n), int(f), str(s), str(h)) for i, n, f, s, h in rows]

    def retire_lease(self, instance_id: str) -> bool:
        with self._reading() as db:
            deleted = db.execute(
                self._sql("DELETE FROM instances WHERE instance_id = ?"), (instance_id,)
            ).rowcount
        return bool(deleted)

    def unfinished(self, since: int = 0) -> list[StoredRecord]:
        return self._records_without(since, STARTS, ENDINGS)

    def recovery_mark(self, name: str) -> int:
        with self._reading() as db:
            row = db.execute(
                self._sql("SELECT idx FROM recovery_marks WHERE name = ?"), (name,)
            ).fetchone()
        return int(row[0]) if row else 0

    def set_recovery_mark(self, name: str, index: int) -> None:
        with self._reading() as db:
            db.execute(
                self._sql(
                    "INSERT INTO recovery_marks VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET idx = excluded.idx"
                ),
                (name, index),
            )

    def _records_without(
        self, since: int, kinds: tuple[str, ...], endings: tuple[str, ...]
    ) -> list[StoredRecord]:
        """Records of ``kinds`` from index ``since`` on whose call has none of ``endings``."""
        started = ", ".join(f"'{kind}'" for kind in kinds)
        ended = ", ".join(f"'{kind}'" for kind in endings)
        with self._reading() as db:
            rows = db.execute(
                self._sql(
                    f"SELECT data FROM records r WHERE r.idx >= ? AND r.kind IN ({started}) "
                    f"AND NOT EXISTS (SELECT 1 FROM records e{self._by_call} "
                    f"WHERE e.call_id = r.call_id AND e.kind IN ({ended})) ORDER BY r.idx"
                ),
                (since,),
            ).fetchall()
        return [decode(bytes(row[0])) for row in rows]
