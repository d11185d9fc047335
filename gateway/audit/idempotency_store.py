"""Idempotency-Keys claimed by calls, kept beside the audit log: a claim is atomic on every
store, so two requests with one key start one call. (Taking over and sweeping claims is
crash recovery's: ``gateway.audit.callstate``.)"""

from __future__ import annotations

import contextlib
import datetime as dt
from abc import ABC, abstractmethod

from gateway.audit.sql_access import SqlAccess
from gateway.errors import AuditUnavailable

IDEMPOTENCY_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    call_id     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
"""


class IdempotencyStore(ABC):
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


class SqlIdempotency(IdempotencyStore, SqlAccess):
    def claim_key(
        self, scope: str, key: str, call_id: str, fingerprint: str, instance: str | None = None
    ) -> tuple[str, str] | None:
        at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        with self._reading() as db:
            claimed = db.execute(
                self._sql(
                    "INSERT INTO idempotency_keys (scope, key, call_id, fingerprint, at, instance)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                ),
                (scope, key, call_id, fingerprint, at, instance),
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
