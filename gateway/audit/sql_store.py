"""What the SQL audit stores (SQLite, PostgreSQL) share: group commit, and the SQL of the
log's reads and of its tree, checkpoint and prune writes, written once.

Subclasses give ``_write`` (appending records, which differs: an optimistic index on SQLite,
a locked counter on PostgreSQL), ``_durable`` (where a commit does not wait for the disk
itself), ``_reading()``, ``_transaction()``, ``_appending_alone()`` and ``_append_claimed``
(the log's write lock, and appending under it) and their parameter mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from abc import abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

from gateway.audit.approvals_store import APPROVALS_SCHEMA, SqlApprovals
from gateway.audit.callstate import SqlCallState
from gateway.audit.idempotency_store import IDEMPOTENCY_SCHEMA, SqlIdempotency
from gateway.audit.keys_store import KEYS_SCHEMA, SqlApiKeys
from gateway.audit.records import RecordContext, StoredRecord, decode, encode
from gateway.audit.store import (
    OUTCOME,
    SUBMITTED,
    Already,
    AuditStore,
    Entry,
    MissingLeaf,
    StoredCheckpoint,
    any_record,
    now,
)
from gateway.audit.tree_store import Node, Range
from gateway.audit.verifications_store import VERIFICATIONS_SCHEMA, SqlVerifications
from gateway.audit.written import Written
from gateway.errors import AuditUnavailable

# The tables kept beside the log, the same on both stores.
SIDE_TABLES = KEYS_SCHEMA + APPROVALS_SCHEMA + IDEMPOTENCY_SCHEMA + VERIFICATIONS_SCHEMA
# The log's tables, in a dialect's types ({rowless}: a keyed table that needs no row id).
LOG_TABLES = """
CREATE TABLE IF NOT EXISTS records (
    idx     {integer} PRIMARY KEY,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    call_id TEXT,
    data    {blob} NOT NULL
);
CREATE INDEX IF NOT EXISTS records_call ON records (call_id);
-- Not a mere prefix of the next one: its entries end with the record's index, so "records of
-- these kinds from index N on" (calls left unfinished, submissions open) reads that range
-- alone. Through (kind, at) it would read every record of the kinds since the log began.
CREATE INDEX IF NOT EXISTS records_kind ON records (kind);
-- A window of one kind (the experiments report, the guard at start) reads this range alone.
CREATE INDEX IF NOT EXISTS records_kind_at ON records (kind, at);
CREATE TABLE IF NOT EXISTS leaves (
    idx  {integer} PRIMARY KEY,
    hash {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
    level INTEGER NOT NULL,
    idx   {integer} NOT NULL,
    hash  {blob} NOT NULL,
    PRIMARY KEY (level, idx)
){rowless};
CREATE TABLE IF NOT EXISTS checkpoints (
    size {integer} PRIMARY KEY,
    root {blob} NOT NULL,
    at   TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pruned (
    end_idx {integer} PRIMARY KEY,
    at      TEXT NOT NULL
);
"""
# When an insert into the tree's tables is in order (both stores' triggers refuse others):
# leaves go in without a gap, subtree hashes and checkpoints only over leaves there.
PRUNE_BATCH = 2_000  # records deleted in one transaction
_INTEGRATED = "coalesce((SELECT max(idx) + 1 FROM leaves), 0)"
INSERT_IN_ORDER = {
    "leaves": f"NEW.idx <= {_INTEGRATED}",
    "nodes": f"(NEW.idx + 1) << NEW.level <= {_INTEGRATED}",
    "checkpoints": f"NEW.size <= {_INTEGRATED}",
}


@dataclass
class _Batch:
    """Appends that share one commit (group commit); the first to join writes it."""

    groups: list[tuple[list[Entry], RecordContext | None]] = field(default_factory=list)
    turn: threading.Event = field(default_factory=threading.Event)  # its writer may start
    done: threading.Event = field(default_factory=threading.Event)
    results: list[list[StoredRecord] | BaseException] = field(default_factory=list)


Row = tuple[int, str, str, str | None, bytes]
# One appender's records waiting for the end of a turn of the loop, and its answer.
_Queued = tuple[tuple[list[Entry], RecordContext | None], "asyncio.Future[list[StoredRecord]]"]


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


def _answer(
    queued: list[_Queued], results: list[list[StoredRecord] | BaseException] | BaseException
) -> None:
    """Answer each appender of a turn with its records, or why they were not written."""
    if isinstance(results, BaseException):
        results = [results] * len(queued)
    for (_, done), result in zip(queued, results, strict=True):
        if done.done():
            continue
        if isinstance(result, BaseException):
            done.set_exception(result)
        else:
            done.set_result(result)


class GroupCommitStore(AuditStore):
    """Group commit for stores with one writer connection.

    Appenders that arrive while a commit runs join the next batch; its first appender
    writes the whole batch in one transaction (``_write``) once the running commit is done,
    or, where a commit's wait for the disk is apart (``_durable``), while it waits.

    On an event loop (``commit_many``) the calls of one turn of the loop share a commit too:
    the first to ask schedules the commit for the end of the turn, the others join it, and
    each is answered once it is done. The loop's calls never wait on each other's commits in
    a row, so this is what lets them share one; a commit's cost (its WAL pages, its
    transaction) is mostly the same for one record as for twenty.

    Where a commit waits for another machine (``COMMITS_OFF_LOOP``: PostgreSQL), the loop
    hands its appends to the store's own committing thread instead: a slow or stalled server
    then holds the calls waiting for their records, not the event loop that serves every
    other request of the process (health checks, metrics, calls of other tools). The thread
    takes everything handed to it while its last commit ran, as one batch: the batches are
    those a loop blocked by the commit would have gathered (on PostgreSQL each commit is two
    round trips and most of a call's CPU, so smaller batches would cost more than the
    hand-over). A local file's commit (SQLite) takes less than a hand-over, and stays on the
    loop.
    """

    COMMITS_OFF_LOOP: ClassVar[bool] = False

    def __init__(self) -> None:
        self._batching = threading.Lock()
        self._pending: _Batch | None = None
        self._writing = False
        # The appends of the current turn of each event loop serving calls on this store.
        self._turns: dict[asyncio.AbstractEventLoop, list[_Queued]] = {}
        # What this process committed, for its readers of the log (``read``).
        self._written = Written()
        # Off the loop: the appends handed to the committing thread and not yet taken, and
        # whether a commit of them is queued.
        self._committer: ThreadPoolExecutor | None = None
        if self.COMMITS_OFF_LOOP:
            self._committer = ThreadPoolExecutor(1, "audit-commit")
        self._handed: list[_Queued] = []
        self._handing = threading.Lock()
        self._take_queued = False

    def _committed(self, rows: Sequence[Row]) -> None:
        """Rows this process has just committed: its own readers need not read them back.
        (SQLite's appends; PostgreSQL's records are numbered and timed by the server, and
        its followers read them from the store.)"""
        self._written.add((row[0], row[4]) for row in rows)

    def append_many(
        self, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord]:
        result = self._append_groups([(entries, context)])[0]
        if isinstance(result, BaseException):
            raise result
        return result

    async def commit_many(
        self, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[StoredRecord]] = loop.create_future()
        if self._committer is not None:
            self._hand(((entries, context), done), self._committer)
        else:
            queued = self._turns.get(loop)
            if queued is None:
                queued = self._turns[loop] = []
                loop.call_soon(self._commit_turn, loop)
            queued.append(((entries, context), done))
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            if done.cancelled():
                raise
            # The records are committed at the end of this turn whatever the caller does:
            # it learns that first, and its cancellation at its next wait, as it would have
            # with a synchronous append.
            result = await done
            current = asyncio.current_task()
            if current is not None:
                current.cancel()
            return result

    def _commit_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        queued = self._turns.pop(loop, [])
        _answer(queued, self._commit_queued(queued))

    def _commit_queued(
        self, queued: list[_Queued]
    ) -> list[list[StoredRecord] | BaseException] | BaseException:
        try:
            return self._append_groups([group for group, _ in queued])
        except BaseException as exc:
            return exc

    def _hand(self, appended: _Queued, committer: ThreadPoolExecutor) -> None:
        """Give the committing thread an append; queue a commit unless one is queued."""
        with self._handing:
            self._handed.append(appended)
            if self._take_queued:
                return
            self._take_queued = True
        try:
            committer.submit(self._commit_handed)
        except RuntimeError:  # the store was closed: nothing will commit what is handed
            with self._handing:
                refused, self._handed = self._handed, []
                self._take_queued = False
            _answer(refused, AuditUnavailable("the audit store is closed"))

    def _commit_handed(self) -> None:
        """(The committing thread.) Commit all that was handed over, answer on each loop."""
        with self._handing:
            queued, self._handed = self._handed, []
            self._take_queued = False
        results = self._commit_queued(queued)
        if isinstance(results, BaseException):
            results = [results] * len(queued)
        by_loop: dict[asyncio.AbstractEventLoop, tuple[list[_Queued], list[Any]]] = {}
        for appended, result in zip(queued, results, strict=True):
            appends, outcomes = by_loop.setdefault(appended[1].get_loop(), ([], []))
            appends.append(appended)
            outcomes.append(result)
        for loop, (appends, outcomes) in by_loop.items():
            # A loop closed meanwhile has no one left waiting for its answers.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_answer, appends, outcomes)

    def _stop_committing(self) -> None:
        """Wait for the appends handed to the committing thread (``close``, before the
        connections go)."""
        if self._committer is not None:
            self._committer.shutdown(wait=True)

    def _append_groups(
        self, groups: list[tuple[list[Entry], RecordContext | None]]
    ) -> list[list[StoredRecord] | BaseException]:
        """Each group's records, or why it was not written: all in one batch's commit."""
        with self._batching:
            batch = self._pending
            if batch is None:
                batch = self._pending = _Batch()
                if not self._writing:
                    self._writing = True
                    batch.turn.set()
            position = len(batch.groups)
            batch.groups.extend(groups)
        if position == 0:
            self._write_batch(batch)
        else:
            batch.done.wait()
        return batch.results[position : position + len(groups)]

    def _write_batch(self, batch: _Batch) -> None:
        """Wait for the running commit, then write everyone who joined meanwhile at once."""
        batch.turn.wait()
        with self._batching:
            if self._pending is batch:
                self._pending = None  # later appenders start the next batch
        try:
            results = self._write(batch.groups)
        except BaseException as exc:
            results = [exc] * len(batch.groups)
        finally:
            # The next batch may write while this one waits for the disk: their waits for
            # it overlap, and the store flushes once for both where it can.
            with self._batching:
                following = self._pending
                if following is not None:
                    following.turn.set()
                else:
                    self._writing = False
        try:
            if any(not isinstance(result, BaseException) for result in results):
                self._durable()
        except BaseException as exc:
            results = [r if isinstance(r, BaseException) else exc for r in results]
        finally:
            batch.results = results
            batch.done.set()

    @abstractmethod
    def _write(
        self, groups: list[tuple[list[Entry], RecordContext | None]]
    ) -> list[list[StoredRecord] | BaseException]:
        """Write the groups in one transaction; a group that cannot be encoded fails alone."""

    def _durable(self) -> None:
        """Return once everything ``_write`` committed before the call is on disk; stores
        whose commit waits for the disk themselves need nothing more."""


class SqlTables(
    GroupCommitStore, SqlCallState, SqlIdempotency, SqlApprovals, SqlApiKeys, SqlVerifications
):
    """The log's SQL both stores share, and the side tables' (through their mixins)."""

    @abstractmethod
    def _transaction(self) -> contextlib.AbstractContextManager[Any]:
        """``_reading()``'s connection inside one transaction, rolled back on an error."""

    @abstractmethod
    def _appending_alone(self) -> contextlib.AbstractContextManager[Any]:
        """The writer's connection in a transaction that holds the log's write lock from its
        start, for every process sharing the store: what it reads stays true until it
        commits. Rolled back on an error; store errors become ``AuditUnavailable``."""

    @abstractmethod
    def _append_claimed(
        self, db: Any, entries: list[Entry], context: RecordContext | None
    ) -> list[StoredRecord]:
        """Append ``entries`` at the end of the log in ``_appending_alone()``; raises
        ``AuditUnavailable`` (rolling back) if one cannot be encoded."""

    def append_unless(
        self,
        call_id: str,
        kind: str,
        entries: list[Entry],
        context: RecordContext | None = None,
        already: Already = any_record,
    ) -> list[StoredRecord] | None:
        with self._appending_alone() as db:
            found = db.execute(
                self._sql(
                    f"SELECT data FROM records{self._by_call} WHERE call_id = ? AND kind = ? "
                    "ORDER BY idx"
                ),
                (call_id, kind),
            ).fetchall()
            if already([decode(bytes(row[0])) for row in found]):
                return None
            return self._append_claimed(db, entries, context)

    def records_of(self, call_id: str) -> list[StoredRecord]:
        with self._reading() as db:
            rows = db.execute(
                self._sql("SELECT data FROM records WHERE call_id = ? ORDER BY idx"), (call_id,)
            ).fetchall()
        return [decode(bytes(row[0])) for row in rows]

    def records_of_kind(self, *kinds: str) -> list[StoredRecord]:
        marks = ", ".join("?" for _ in kinds)
        with self._reading() as db:
            rows = db.execute(
                self._sql(f"SELECT data FROM records WHERE kind IN ({marks}) ORDER BY idx"), kinds
            ).fetchall()
        return [decode(bytes(row[0])) for row in rows]

    def records_since(self, since: str, *kinds: str) -> list[StoredRecord]:
        marks = ", ".join("?" for _ in kinds)
        query = f"SELECT data FROM records WHERE kind IN ({marks}) AND at >= ? ORDER BY idx"
        with self._reading() as db:
            rows = db.execute(self._sql(query), (*kinds, since)).fetchall()
        return [decode(bytes(row[0])) for row in rows]

    def read(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        with self._reading() as db:
            rows = db.execute(
                self._sql("SELECT idx, data FROM records WHERE idx >= ? AND idx < ? ORDER BY idx"),
                (start, stop),
            ).fetchall()
        return [(int(index), bytes(data)) for index, data in rows]

    def read_new(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        # Records this process committed come from memory; the store is read for the span of
        # the others (another worker's or replica's, or evicted), whatever it holds there.
        held = self._written.get(start, stop)
        if len(held) == stop - start:
            return list(held.items())
        first = next(i for i in range(start, stop) if i not in held)
        last = next(i for i in range(stop - 1, start - 1, -1) if i not in held)
        rows = self.read(first, last + 1)
        if not held:
            return rows
        found = dict(held)
        found.update(rows)
        return sorted(found.items())

    def leaves(self, start: int = 0) -> list[bytes]:
        with self._reading() as db:
            rows = db.execute(
                self._sql("SELECT idx, hash FROM leaves WHERE idx >= ? ORDER BY idx"), (start,)
            ).fetchall()
        return self._in_order(0, start, rows)

    def tree_size(self) -> int:
        with self._reading() as db:
            row = db.execute(self._sql("SELECT max(idx) + 1 FROM leaves")).fetchone()
        return int(row[0] or 0)

    def nodes(self, level: int, start: int, stop: int) -> list[bytes]:
        return self.node_ranges([(level, start, stop)])[0]

    def node_ranges(self, ranges: Sequence[Range]) -> list[list[bytes]]:
        """One query a table: leaf ranges from ``leaves``, higher levels from ``nodes``."""
        found: dict[tuple[int, int], bytes] = {}
        with self._reading() as db:
            for table, level_of, condition, picked in (
                ("leaves", "0", "idx >= ? AND idx < ?", [b[1:] for b in ranges if not b[0]]),
                (
                    "nodes",
                    "level",
                    "level = ? AND idx >= ? AND idx < ?",
                    [b for b in ranges if b[0]],
                ),
            ):
                if picked:
                    where = " OR ".join(f"({condition})" for _ in picked)
                    query = f"SELECT {level_of}, idx, hash FROM {table} WHERE {where}"
                    params = [bound for bounds in picked for bound in bounds]
                    for at, index, digest in db.execute(self._sql(query), params).fetchall():
                        found[(int(at), int(index))] = bytes(digest)
        answer = []
        for level, start, stop in ranges:
            missing = next((i for i in range(start, stop) if (level, i) not in found), None)
            if missing is not None:
                self._missing(level, missing)
            answer.append([found[(level, index)] for index in range(start, stop)])
        return answer

    def subtree_hashes(self) -> list[Node]:
        with self._reading() as db:
            rows = db.execute(self._sql("SELECT level, idx, hash FROM nodes ORDER BY 1, 2"))
            return [(int(level), int(index), bytes(digest)) for level, index, digest in rows]

    def _in_order(self, level: int, start: int, rows: list[Any]) -> list[bytes]:
        hashes = []
        for expected, (index, digest) in enumerate(rows, start):
            if index != expected:
                self._missing(level, expected)
            hashes.append(bytes(digest))
        return hashes

    def _missing(self, level: int, index: int) -> NoReturn:
        if level == 0:
            raise MissingLeaf(index, self.display)
        raise AuditUnavailable(
            f"the hash of subtree {index} at level {level} is missing from {self.display}"
        )

    def add_leaves(self, start: int, hashes: list[bytes], nodes: Sequence[Node] = ()) -> None:
        rows = [(start + offset, digest) for offset, digest in enumerate(hashes)]
        with self._transaction() as db:
            _insert_many(
                db, self._sql("INSERT INTO leaves VALUES (?, ?) ON CONFLICT DO NOTHING"), rows
            )
            stored = db.execute(
                self._sql("SELECT hash FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx"),
                (start, start + len(hashes)),
            ).fetchall()
            if [bytes(row[0]) for row in stored] != hashes:
                raise AuditUnavailable(
                    f"leaves {start} to {start + len(hashes) - 1} were integrated "
                    "differently before: the records changed since"
                )
            if nodes:
                self._add_nodes(db, nodes)

    def _add_nodes(self, db: Any, nodes: Sequence[Node]) -> None:
        """Insert subtree hashes; one stored before (another writer's) must be the same."""
        _insert_many(
            db, self._sql("INSERT INTO nodes VALUES (?, ?, ?) ON CONFLICT DO NOTHING"), nodes
        )
        for level in {level for level, _, _ in nodes}:
            wanted = {index: digest for at, index, digest in nodes if at == level}
            rows = db.execute(
                self._sql("SELECT idx, hash FROM nodes WHERE level = ? AND idx >= ? AND idx <= ?"),
                (level, min(wanted), max(wanted)),
            ).fetchall()
            if any(bytes(digest) != wanted.get(int(index), digest) for index, digest in rows):
                raise AuditUnavailable(
                    f"subtree hashes at level {level} were integrated differently before: "
                    "the records changed since"
                )

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self._reading() as db:
            db.execute(
                self._sql("INSERT INTO checkpoints VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"),
                (checkpoint.size, checkpoint.root, checkpoint.at, checkpoint.note),
            )

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

    def prune(self, end: int) -> None:
        """Delete the records below ``end``, a batch a transaction: a gateway writing the log
        meanwhile waits for one batch, not for the whole range (SQLite's lock is the file's).
        Stopped halfway, the rest stays below the mark; the next prune deletes it."""
        self._written.clear()
        with self._transaction() as db:
            db.execute(
                self._sql("INSERT INTO pruned VALUES (?, ?) ON CONFLICT DO NOTHING"), (end, now())
            )
        for upto in range(self.first_index() + PRUNE_BATCH, end + PRUNE_BATCH, PRUNE_BATCH):
            with self._transaction() as db:
                db.execute(self._sql("DELETE FROM records WHERE idx < ?"), (min(upto, end),))

    def open_submissions(self, since: int = 0) -> list[StoredRecord]:
        return self._records_without(since, (SUBMITTED,), (OUTCOME,))


def _insert_many(db: Any, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    cursor = db.cursor()  # psycopg connections have no executemany of their own
    try:
        cursor.executemany(statement, rows)
    finally:
        cursor.close()
