"""What every audit store offers: the append-only log, its Merkle tree and checkpoints, and
the tables kept beside the log (API keys, approvals, Idempotency-Keys, call state, the
outcomes of ``audit verify``).

The log keeps four append-only parts: the records as written (the record's position in the
log is its index), the Merkle leaf hashes of the records integrated into the tree so far with
the hashes of complete subtrees above them, the signed checkpoints, and the mark below which
records were pruned.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.audit.approvals_store import ApprovalStore
from gateway.audit.callstate import CallStateStore
from gateway.audit.idempotency_store import IdempotencyStore
from gateway.audit.keys_store import ApiKeyStore
from gateway.audit.records import RecordContext, StoredRecord
from gateway.audit.tree_store import Node, Range
from gateway.audit.verifications_store import VerificationStore
from gateway.errors import AuditUnavailable

Entry = tuple[str, str | None, dict[str, Any]]
OUTCOME = "call.outcome"
SUBMITTED = "call.submitted"
# Does a call's records of one kind, in log order, make the records to append redundant?
Already = Callable[[list[StoredRecord]], bool]


def any_record(records: list[StoredRecord]) -> bool:
    return bool(records)


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


class AuditStore(
    CallStateStore, IdempotencyStore, ApprovalStore, ApiKeyStore, VerificationStore, ABC
):
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

    async def commit_many(
        self, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord]:
        """``append_many`` for a caller on an event loop: durable when it returns, as there.
        Stores that can share one commit among the calls of a turn of the loop do so."""
        return self.append_many(entries, context)

    @abstractmethod
    def records_of(self, call_id: str) -> list[StoredRecord]: ...

    @abstractmethod
    def records_of_kind(self, *kinds: str) -> list[StoredRecord]:
        """Every record of these kinds (configurations loaded...), in log order."""

    def records_since(self, since: str, *kinds: str) -> list[StoredRecord]:
        """The records of these kinds written at or after ``since`` (an ISO time in UTC, as
        ``now()`` writes them), in log order: what a window reads without the whole log."""
        return [record for record in self.records_of_kind(*kinds) if record.at >= since]

    @abstractmethod
    def count(self) -> int:
        """How many records the log holds."""

    @abstractmethod
    def read(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        """Records ``start`` to ``stop - 1`` as stored: (index, bytes)."""

    def read_new(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        """``read`` for this process's followers of the growing log (the tree builder, the
        console): records it committed itself may come from memory, as written. Whoever
        checks the log against its tree (verify, exports) reads the store: ``read``."""
        return self.read(start, stop)

    @abstractmethod
    def leaves(self, start: int = 0) -> list[bytes]:
        """Leaf hashes integrated into the tree, from index ``start`` on."""

    @abstractmethod
    def tree_size(self) -> int:
        """How many leaf hashes are integrated into the tree."""

    @abstractmethod
    def nodes(self, level: int, start: int, stop: int) -> list[bytes]:
        """Stored hashes of complete subtrees of ``2**level`` leaves, ``start`` to
        ``stop - 1`` (level 0: the leaf hashes); raises ``MissingLeaf`` if one is absent."""

    def node_ranges(self, ranges: Sequence[Range]) -> list[list[bytes]]:
        """``nodes`` of many (level, start, stop) ranges, in one read where the store can."""
        return [self.nodes(*bounds) for bounds in ranges]

    def subtree_hashes(self) -> list[Node]:
        """Every stored subtree hash above the leaves, for ``audit verify`` to check."""
        return []

    @abstractmethod
    def add_leaves(self, start: int, hashes: list[bytes], nodes: Sequence[Node] = ()) -> None:
        """Integrate leaf hashes ``start`` onwards, with the subtree hashes they complete
        (``gateway.audit.tree_store``), in one transaction; a hash already there must be
        the same."""

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

    # A submitted call ends once, whoever ends it first: its reply, or its deadline passing,
    # on any replica; a call is queued for review once for a reason, whichever console
    # queues it. Stores that processes share make the check and the write one step.

    def append_unless(
        self,
        call_id: str,
        kind: str,
        entries: list[Entry],
        context: RecordContext | None = None,
        already: Already = any_record,
    ) -> list[StoredRecord] | None:
        """Write ``entries`` (all or none) unless ``already`` says the call's records of
        ``kind`` make them redundant (by default: there is one); None then, and nothing is
        written."""
        if already([r for r in self.records_of(call_id) if r.kind == kind]):
            return None
        return self.append_many(entries, context)

    def append_outcome(
        self, call_id: str, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord] | None:
        """Write a call's last records (its ``call.outcome`` among them) unless the call has
        an outcome already; None then, and nothing is written."""
        return self.append_unless(call_id, OUTCOME, entries, context)

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
