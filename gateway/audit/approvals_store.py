"""Approvals waiting beside the audit log (their arguments may hold sensitive values in
clear, so they are not records); asking and deciding are records of the log."""

from __future__ import annotations

from abc import ABC, abstractmethod

from gateway.audit.sql_access import SqlAccess
from gateway.policy.approvals import Approval

APPROVALS_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    approval_id TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    data        TEXT NOT NULL
);
"""


class ApprovalStore(ABC):
    @abstractmethod
    def add_approval(self, approval: Approval) -> None: ...

    @abstractmethod
    def get_approval(self, approval_id: str) -> Approval | None: ...

    @abstractmethod
    def pending_approvals(self) -> list[Approval]: ...

    @abstractmethod
    def settle_approval(self, approval: Approval) -> bool:
        """Record a decision if the approval is still pending; False if someone was first."""


class SqlApprovals(ApprovalStore, SqlAccess):
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
