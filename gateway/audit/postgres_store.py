"""The audit store on PostgreSQL, shared by many gateway replicas.

Indexes are handed out by a one-row counter updated in the same transaction as the inserts:
the row lock serializes appenders across replicas, a rolled-back append gives its indexes
back, so the log has no gaps, and records become visible in index order. Each replica
batches its own appenders into one transaction (group commit). Leaf hashes and checkpoints
are inserted idempotently: replicas integrating the same records agree, or the insert fails
loudly. Replicas that share a store must share the signing key too (mount one secret).

The URL is a libpq URL; ``?schema=NAME`` keeps the tables in a schema of their own (made if
missing). Triggers refuse every change to the log's tables but appending in order and the
deletion ``audit prune`` makes, as on SQLite, and TRUNCATE too; ``audit verify`` is the guard.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gateway.audit.callstate import prepare_call_state
from gateway.audit.records import RecordContext, StoredRecord
from gateway.audit.sql_store import (
    INSERT_IN_ORDER,
    LOG_TABLES,
    SIDE_TABLES,
    SqlTables,
    encode_groups,
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


def _split_schema(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((value for key, value in query if key == "schema"), None)
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


class PostgresStore(SqlTables):
    _mark = "%s"

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
        except psycopg.Error as exc:
            raise AuditUnavailable(f"cannot open the audit store {self.display}: {exc}") from exc
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        super().__init__()

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
        size = sum(len(entries) for entries, _ in groups)
        with self._write_lock:
            try:
                with self._writer.transaction():
                    (end,) = self._writer.execute(
                        "UPDATE log_head SET next = next + %s RETURNING next", (size,)
                    ).fetchone()
                    stored, rows = encode_groups(groups, end - size)
                    if rows:
                        with self._writer.cursor() as cursor:
                            cursor.executemany(
                                "INSERT INTO records VALUES (%s, %s, %s, %s, %s)", rows
                            )
                    skipped = size - len(rows)
                    if skipped:  # groups refused: their indexes go back
                        self._writer.execute("UPDATE log_head SET next = next - %s", (skipped,))
            except self._psycopg.Error as exc:
                raise AuditUnavailable(
                    f"cannot write the audit store {self.display}: {exc}"
                ) from exc
            self._committed(rows)
        return stored

    @contextlib.contextmanager
    def _appending_alone(self) -> Iterator[Any]:
        with self._write_lock:
            try:
                with self._writer.transaction():
                    # The log head's row lock orders this after every append in flight, on
                    # every replica: what they committed before is seen by what follows.
                    self._writer.execute("SELECT next FROM log_head FOR UPDATE")
                    yield self._writer
            except self._psycopg.Error as exc:
                raise AuditUnavailable(
                    f"cannot write the audit store {self.display}: {exc}"
                ) from exc

    def _claim(self, db: Any, count: int) -> int:
        (end,) = db.execute(
            "UPDATE log_head SET next = next + %s RETURNING next", (count,)
        ).fetchone()
        return int(end) - count

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
        for connection in (self._writer, self._reader):
            with contextlib.suppress(Exception):
                connection.close()
