"""Outcomes of ``legacy-gateway audit verify`` on a store, kept beside the log.

Not records of the log: a verification that finds the log tampered with must still be
written, and the log it found wrong is no place to write it. The table is append-only (the
stores' triggers refuse updates and deletes), so a failed verification cannot be quietly
replaced by a later row without its own row staying on record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any

from gateway.audit.sql_access import SqlAccess

VERIFICATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS verifications (
    at              TEXT NOT NULL,
    result          TEXT NOT NULL,
    first_index     BIGINT NOT NULL,
    end_index       BIGINT NOT NULL,
    checkpoint_size BIGINT NOT NULL,
    checkpoints     BIGINT NOT NULL,
    first_bad_index BIGINT,
    problem         TEXT,
    checked_by      TEXT NOT NULL,
    anchor          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS verifications_at ON verifications (at);
"""
_COLUMNS = (
    "at, result, first_index, end_index, checkpoint_size, checkpoints, first_bad_index, "
    "problem, checked_by, anchor"
)
RESULTS = ("ok", "failed", "untrusted")


@dataclass(frozen=True)
class Verification:
    """One run of ``audit verify``: records ``first_index`` to ``end_index - 1`` checked
    against the signed checkpoints up to ``checkpoint_size``.

    ``result`` is ``ok`` (consistent and signed by a trusted key), ``failed`` (``problem``
    names what, ``first_bad_index`` where) or ``untrusted`` (consistent, but no trusted key
    was given)."""

    at: str
    result: str
    first_index: int
    end_index: int
    checkpoint_size: int
    checkpoints: int
    first_bad_index: int | None
    problem: str | None
    checked_by: str
    anchor: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class VerificationStore(ABC):
    @abstractmethod
    def add_verification(self, verification: Verification) -> None: ...

    @abstractmethod
    def latest_verification(self) -> Verification | None:
        """The most recent verification of this store; None if it was never verified."""


class SqlVerifications(VerificationStore, SqlAccess):
    def add_verification(self, verification: Verification) -> None:
        v = verification
        with self._reading() as db:
            db.execute(self._sql(f"INSERT INTO verifications ({_COLUMNS}) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                (v.at, v.result, v.first_index, v.end_index, v.checkpoint_size, v.checkpoints,
                 v.first_bad_index, v.problem, v.checked_by, v.anchor),
            )  # fmt: skip

    def latest_verification(self) -> Verification | None:
        with self._reading() as db:
            row = db.execute(
                self._sql(f"SELECT {_COLUMNS} FROM verifications ORDER BY at DESC LIMIT 1")
            ).fetchone()
        if row is None:
            return None
        at, result, first, end, size, checkpoints, bad, problem, by, anchor = row
        return Verification(
            at, result, int(first), int(end), int(size), int(checkpoints),
            None if bad is None else int(bad), problem, by, anchor,
        )  # fmt: skip
