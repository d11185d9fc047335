"""The audit store on PostgreSQL, shared by many gateway replicas.

Indexes are handed out by a one-row counter updated in the same transaction as the inserts:
the row lock serializes appenders across replicas, a rolled-back append gives its indexes
back, so the log has no gaps, and records become visible in index order. Each replica
batches its own appenders into one transaction (group commit).

The lock is what every replica queues on, so it is held as briefly as the insert: a batch is
one round trip (BEGIN, the claim, one INSERT of every row, COMMIT, pipelined), its records
encoded beforehand but for their index and time, and its commit does not wait for the disk
(``synchronous_commit=off`` on the writer). Nothing is acknowledged before it is on disk all
the same: a transaction of the flusher connection then commits as the server is configured,
which flushes the WAL up to itself, so every commit before it too; one flush serves every
batch committed before it began, a batch committed later flushes beside it at once (the
server runs the two back to back), and the next batch writes meanwhile. Other replicas may
read a record the moment before it is on disk (a server crash then loses it with everything
after it, as the WAL ends there); what they store from it (leaf hashes, checkpoints) is
written with commits that flush it first. Where the server refuses the flush statement, the
writer's commits wait for the disk themselves, under the lock.

Leaf hashes and checkpoints are inserted idempotently: replicas integrating the same records
agree, or the insert fails loudly. Replicas that share a store must share the signing key too
(mount one secret).

The URL is a libpq URL; ``?schema=NAME`` keeps the tables in a schema of their own (made if
missing). Triggers refuse every change to the log's tables but appending in order and the
deletion ``audit prune`` makes, as on SQLite, and TRUNCATE too; ``audit verify`` is the guard.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gateway.audit.callstate import prepare_call_state
from gateway.audit.records import RecordContext, StoredRecord, encode
from gateway.audit.sql_store import (
    INSERT_IN_ORDER,
    LOG_TABLES,
    SIDE_TABLES,
    SqlTables,
)
from gateway.audit.store import Entry
from gateway.errors import AuditUnavailable, DependencyMissing

# An insert into one of the tree's tables in order (``INSERT_IN_ORDER``), and nothing else.
_INSERT_GUARD = """
CREATE OR REPLACE FUNCTION audit_{table}_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'INSERT' AND {allowed} THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only';
END $$ LANGUAGE plpgsql;
"""
_SCHEMA = (
    LOG_TABLES.format(integer="BIGINT", blob="BYTEA", rowless="")
    + """
CREATE TABLE IF NOT EXISTS log_head (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
                                     next BIGINT NOT NULL);
INSERT INTO log_head (one, next) VALUES (TRUE, 0) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql;
-- Records go in at the next index; they leave only below the pruned mark (exported,
-- checkpointed, past retention, named by a log.pruned record).
CREATE OR REPLACE FUNCTION audit_records_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'INSERT' AND NEW.idx = coalesce((SELECT max(idx) + 1 FROM records),
                                             (SELECT max(end_idx) FROM pruned), 0) THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'DELETE' AND OLD.idx < (SELECT coalesce(max(end_idx), 0) FROM pruned) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only';
END $$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION audit_pruned_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM records WHERE kind = 'log.pruned'
      AND (convert_from(data, 'UTF8')::jsonb #>> '{body,to_index}') = NEW.end_idx::text) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only';
END $$ LANGUAGE plpgsql;
-- The head only moves past the records written (an append gives back what it skipped).
CREATE OR REPLACE FUNCTION audit_head_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.next >= coalesce((SELECT max(idx) + 1 FROM records), 0) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only';
END $$ LANGUAGE plpgsql;
"""
    + "".join(_INSERT_GUARD.format(table=t, allowed=a) for t, a in INSERT_IN_ORDER.items())
)
_GUARDS = {
    "records": ("INSERT OR UPDATE OR DELETE", "audit_records_guard"),
    "leaves": ("INSERT OR UPDATE OR DELETE", "audit_leaves_guard"),
    "nodes": ("INSERT OR UPDATE OR DELETE", "audit_nodes_guard"),
    "checkpoints": ("INSERT OR UPDATE OR DELETE", "audit_checkpoints_guard"),
    "pruned": ("INSERT OR UPDATE OR DELETE", "audit_pruned_guard"),
    "log_head": ("UPDATE OR DELETE", "audit_head_guard"),
    "verifications": ("UPDATE OR DELETE", "audit_append_only"),
}
_HEAD_FIRST = """
DO $$ BEGIN
  IF to_regclass('log_head') IS NOT NULL THEN
    LOCK TABLE log_head IN SHARE ROW EXCLUSIVE MODE;
  END IF;
END $$;
"""
# Made once (a store made by an earlier version gets them replaced): creating a trigger locks
# its table, and a replica starting beside running ones must not take locks their appends
# wait on.
_TRIGGER = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{table}_no_truncate'
                 AND tgrelid = '{table}'::regclass) THEN
    CREATE OR REPLACE TRIGGER {table}_append_only BEFORE {events} ON {table}
        FOR EACH ROW EXECUTE FUNCTION {guard}();
    CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
  END IF;
END $$;
"""


# A batch is two statements: the claim (the head's row lock, taken before the records table
# is touched, as opening a store expects), then every row in one insert that reads the
# claimed end from the head. The stored bytes are the record's JSON as ``encode`` writes it:
# its index and time (the server's clock, read under the head's lock, so times follow
# indexes on every replica) spliced in front of the rest, made by the appending process
# beforehand (``_draft_groups``).
_CLAIM = "UPDATE log_head SET next = next + %s"
_INSERT_CLAIMED = """
INSERT INTO records (idx, at, kind, call_id, data)
SELECT idx, at, kind, call_id,
       convert_to('{"index":' || idx || ',"at":"' || at || '"', 'UTF8') || tail
FROM (
    SELECT head.next - %s + draft.position - 1 AS idx,
           to_char(clock_timestamp() AT TIME ZONE 'UTC',
                   'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') AS at,
           draft.kind, draft.call_id, draft.tail
    FROM log_head AS head, unnest(%s::text[], %s::text[], %b::bytea[])
        WITH ORDINALITY AS draft (kind, call_id, tail, position)
) AS batch
ORDER BY idx
RETURNING idx, at
"""
# What ``encode`` writes first for a record numbered 0 with no time: the part spliced in.
_DRAFT_HEAD = b'{"index":0,"at":""'
# A record with index 0 and no time, and its stored bytes after those; or why it cannot be.
Draft = tuple[StoredRecord, bytes]
Drafts = list[Draft] | BaseException


def _draft_groups(groups: list[tuple[list[Entry], RecordContext | None]]) -> list[Drafts]:
    """Each group's records encoded but for their index and time; a group that cannot be
    encoded (a value JSON cannot hold) is refused alone."""
    drafted: list[Drafts] = []
    for entries, context in groups:
        drafts: list[Draft] = []
        try:
            for kind, call_id, body in entries:
                record = StoredRecord(0, "", kind, call_id, body, context or RecordContext())
                data = encode(record)
                if not data.startswith(_DRAFT_HEAD):
                    raise AuditUnavailable(f"a record encodes as {data[:40]!r}: not spliceable")
                drafts.append((record, data[len(_DRAFT_HEAD) :]))
        except TypeError as exc:
            drafted.append(AuditUnavailable(f"a record cannot be written: {exc}"))
            continue
        drafted.append(drafts)
    return drafted


def _number_drafts(
    drafted: list[Drafts], first: int, times: list[str]
) -> list[list[StoredRecord] | BaseException]:
    """The drafts as written: numbered from ``first`` in order, with their times."""
    numbered: list[list[StoredRecord] | BaseException] = []
    position = 0
    for drafts in drafted:
        if isinstance(drafts, BaseException):
            numbered.append(drafts)
            continue
        group = []
        for record, _ in drafts:
            group.append(replace(record, index=first + position, at=times[position]))
            position += 1
        numbered.append(group)
    return numbered


# A transaction that writes WAL and commits as the server's synchronous_commit says: its
# commit flushes the WAL up to its own record, so every commit before it (the writer's, made
# without waiting) is on disk too when it returns.
_FLUSH = "SELECT pg_logical_emit_message(true, 'legacy-gateway', '')"
# Flusher connections: one flushing, one to flush beside it what committed after it began.
_FLUSHERS = 2


def _split_schema(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((value for key, value in query if key == "schema"), None)
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


class PostgresStore(SqlTables):
    _mark = "%s"
    COMMITS_OFF_LOOP = True  # a commit is round trips to the server

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - psycopg is a core dependency
            raise DependencyMissing(f"the PostgreSQL store needs psycopg: {exc}") from exc
        self._psycopg = psycopg
        self.url, self.schema = _split_schema(url)
        try:
            self._writer = self._connect()
            self._reader = self._connect()
            with self._writer.transaction():
                # Replicas starting together must not race on creating the schema or the
                # tables (IF NOT EXISTS does not stop two creating at once).
                self._writer.execute("SELECT pg_advisory_xact_lock(7011207)")
                if self.schema:
                    self._writer.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                    self._use_schema(self._writer)
                # Appends take the head's row, then the records table; CREATE INDEX IF NOT
                # EXISTS below locks the records table before the head's row is reached. The
                # head first, as appends take it, so a replica starting beside running ones
                # waits for their appends instead of deadlocking with one.
                self._writer.execute(_HEAD_FIRST)
                self._writer.execute(_SCHEMA + SIDE_TABLES)
                prepare_call_state(self._writer.execute, "pg")
                for table, (events, guard) in _GUARDS.items():
                    self._writer.execute(_TRIGGER.format(table=table, events=events, guard=guard))
            self._flushing = self._can_flush()
            if self._flushing:
                self._idle = [self._connect() for _ in range(_FLUSHERS)]
                self._writer.execute("SET synchronous_commit TO off")
        except psycopg.Error as exc:
            raise AuditUnavailable(f"cannot open the audit store {self.display}: {exc}") from exc
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._flush_state = threading.Condition()
        self._running: list[int] = []  # what each flush under way covers
        if not self._flushing:
            self._idle = []
        self._commits = 0  # the writer's commits so far
        self._flushed = 0  # how many of them are known to be on disk
        super().__init__()

    def _can_flush(self) -> bool:
        """Whether this server lets ``_FLUSH`` write (it may be refused to a role); if not,
        the writer's commits wait for the disk themselves, under the head's lock. A server
        whose commits do not wait for the disk (``synchronous_commit=off``) needs no flush."""
        (setting,) = self._writer.execute("SHOW synchronous_commit").fetchone()
        if setting == "off":
            return False
        try:
            with self._writer.transaction(force_rollback=True):
                self._writer.execute(_FLUSH)
        except self._psycopg.Error:
            return False
        return True

    @property
    def display(self) -> str:
        """The store's URL without its password, for messages."""
        parts = urlsplit(self.url)
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{user}{parts.hostname}{port}{parts.path}"

    def _connect(self) -> Any:
        connection = self._psycopg.connect(self.url, autocommit=True)
        self._use_schema(connection)
        return connection

    def _use_schema(self, connection: Any) -> None:
        if self.schema:
            connection.execute(f'SET search_path TO "{self.schema}"')

    # ------------------------------------------------------------------ appending

    def _write(
        self, groups: list[tuple[list[Entry], RecordContext | None]]
    ) -> list[list[StoredRecord] | BaseException]:
        drafted = _draft_groups(groups)
        with self._write_lock:
            try:
                # BEGIN, the claim, the insert and COMMIT go in one round trip (pipelined):
                # the head's lock is held while the server runs them, never across a round
                # trip to this process.
                with self._writer.pipeline():
                    self._writer.execute("BEGIN")
                    inserted = self._insert_drafts(self._writer, drafted)
                    self._writer.execute("COMMIT")
                numbered = self._numbered(drafted, inserted)
                self._commits += 1
            except self._psycopg.Error as exc:
                self._roll_back()
                raise AuditUnavailable(
                    f"cannot write the audit store {self.display}: {exc}"
                ) from exc
        return numbered

    def _roll_back(self) -> None:
        """End the writer's failed transaction; the error that failed it is what counts."""
        with contextlib.suppress(self._psycopg.Error):
            if self._writer.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
                self._writer.execute("ROLLBACK")

    def _insert_drafts(self, db: Any, drafted: list[Drafts]) -> Any:
        """Queue the claim and the insert of the drafts (in a transaction); the cursor that
        will hold their indexes and times, or None when there is nothing to write."""
        drafts = [draft for group in drafted if not isinstance(group, BaseException)
                  for draft in group]  # fmt: skip
        if not drafts:
            return None
        kinds = [record.kind for record, _ in drafts]
        calls = [record.call_id for record, _ in drafts]
        tails = [tail for _, tail in drafts]
        db.execute(_CLAIM, (len(drafts),))
        return db.execute(_INSERT_CLAIMED, (len(drafts), kinds, calls, tails))

    def _numbered(
        self, drafted: list[Drafts], inserted: Any
    ) -> list[list[StoredRecord] | BaseException]:
        """The drafts as ``_insert_drafts`` wrote them."""
        if inserted is None:
            return _number_drafts(drafted, 0, [])
        written = sorted((int(index), str(at)) for index, at in inserted.fetchall())
        return _number_drafts(drafted, written[0][0], [at for _, at in written])

    def _durable(self) -> None:
        if not self._flushing:
            return
        # Read after our commit: a flush that began once this many had committed covers ours.
        ours = self._commits
        with self._flush_state:
            # Wait for a running flush only if it covers ours; else flush at once beside it
            # (the server queues the two fsyncs back to back, without a wait in between).
            while self._flushed < ours and (
                max(self._running, default=-1) >= ours or not self._idle
            ):
                self._flush_state.wait()
            if self._flushed >= ours:
                return  # another batch's flush, begun after our commit, covered it
            covered = self._commits
            flusher = self._idle.pop()
            self._running.append(covered)
        flushed = False
        try:
            flusher.execute(_FLUSH)
            flushed = True
        except self._psycopg.Error as exc:
            raise AuditUnavailable(f"cannot write the audit store {self.display}: {exc}") from exc
        finally:
            with self._flush_state:
                self._idle.append(flusher)
                self._running.remove(covered)
                if flushed:
                    self._flushed = max(self._flushed, covered)
                self._flush_state.notify_all()

    @contextlib.contextmanager
    def _appending_alone(self) -> Iterator[Any]:
        with self._write_lock:
            try:
                with self._writer.transaction():
                    # The log head's row lock orders this after every append in flight, on
                    # every replica: what they committed before is seen by what follows.
                    self._writer.execute("SELECT next FROM log_head FOR UPDATE")
                    yield self._writer
                self._commits += 1
            except self._psycopg.Error as exc:
                raise AuditUnavailable(
                    f"cannot write the audit store {self.display}: {exc}"
                ) from exc
        # What was written, and what the decision read, is on disk before the caller learns.
        self._durable()

    def _append_claimed(
        self, db: Any, entries: list[Entry], context: RecordContext | None
    ) -> list[StoredRecord]:
        drafted = _draft_groups([(entries, context)])
        result = self._numbered(drafted, self._insert_drafts(db, drafted))[0]
        if isinstance(result, BaseException):
            raise result  # rolls the transaction back
        return result

    # ------------------------------------------------------------------ reading

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Any]:
        with self._read_lock:
            try:
                yield self._reader
            except self._psycopg.Error as exc:
                raise AuditUnavailable(
                    f"cannot read the audit store {self.display}: {exc}"
                ) from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._reading() as db, db.transaction():
            yield db

    def count(self) -> int:
        with self._reading() as db:
            # The committed head: the records of appends still in flight are not counted.
            row = db.execute("SELECT next FROM log_head").fetchone()
        return int(row[0])

    def close(self) -> None:
        self._stop_committing()
        for connection in (self._writer, self._reader, *self._idle):
            with contextlib.suppress(Exception):
                connection.close()
