"""What the call pipeline needs of the record store, and no more.

``AuditStore`` is the one implementation in production; the stages' unit tests use an
in-memory one. Every method keeps the store's meaning: a write is durable when it returns
(or raises ``AuditUnavailable``), and ``append_many`` is all or none.
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.audit.records import RecordContext, StoredRecord
from gateway.audit.store import Already
from gateway.policy.approvals import Approval

Entry = tuple[str, str | None, dict[str, Any]]


class CallStore(Protocol):
    def append(
        self,
        kind: str,
        call_id: str | None,
        body: dict[str, Any],
        context: RecordContext | None = None,
    ) -> StoredRecord: ...

    def append_many(
        self, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord]: ...

    def append_unless(
        self,
        call_id: str,
        kind: str,
        entries: list[Entry],
        context: RecordContext | None = None,
        already: Already = ...,
    ) -> list[StoredRecord] | None: ...

    async def commit_many(
        self, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord]:
        """``append_many`` from the event loop: the calls of one turn may share a commit."""
        ...

    def records_of(self, call_id: str) -> list[StoredRecord]: ...

    def claim_key(
        self, scope: str, key: str, call_id: str, fingerprint: str, instance: str | None = None
    ) -> tuple[str, str] | None: ...

    def take_over_key(
        self, scope: str, key: str, old_call_id: str, new_call_id: str, instance: str | None
    ) -> bool: ...

    def release_key(self, scope: str, key: str, call_id: str) -> bool: ...

    def add_approval(self, approval: Approval) -> None: ...
