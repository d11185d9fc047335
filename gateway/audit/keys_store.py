"""API keys, kept beside the audit log (not in it: a revocation changes a row).

Creating and revoking a key is also a record of the log; this table is what
authentication reads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import orjson

from gateway.audit.sql_access import SqlAccess
from gateway.policy.auth import StoredKey

KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    agent       TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
-- One row, bumped by every revocation: a serving process that keeps the keys it verified
-- in memory reads it to learn that one was revoked (``policy.auth.VerifiedKeys``).
CREATE TABLE IF NOT EXISTS api_keys_revocations (
    one        INTEGER PRIMARY KEY CHECK (one = 1),
    generation INTEGER NOT NULL
);
"""


class ApiKeyStore(ABC):
    @abstractmethod
    def add_key(self, key: StoredKey) -> None: ...

    @abstractmethod
    def find_key(self, key_id: str) -> StoredKey | None: ...

    @abstractmethod
    def revoke_key(self, key_id: str, at: str) -> StoredKey | None: ...

    @abstractmethod
    def list_keys(self) -> list[StoredKey]: ...

    def key_generation(self) -> int | None:
        """How many revocations the store has seen; None: it cannot say, so verified keys
        are not kept in memory."""
        return None


class SqlApiKeys(ApiKeyStore, SqlAccess):
    def add_key(self, key: StoredKey) -> None:
        with self._reading() as db:
            db.execute(self._sql("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?)"),
                (key.key_id, key.agent, key.secret_hash, orjson.dumps(key.scopes).decode(),
                 key.created_at, key.revoked_at),
            )  # fmt: skip

    def find_key(self, key_id: str) -> StoredKey | None:
        with self._reading() as db:
            row = db.execute(
                self._sql("SELECT * FROM api_keys WHERE key_id = ?"), (key_id,)
            ).fetchone()
        return key_from_row(row) if row else None

    def revoke_key(self, key_id: str, at: str) -> StoredKey | None:
        with self._reading() as db:
            db.execute(
                self._sql(
                    "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL"
                ),
                (at, key_id),
            )
            db.execute(
                self._sql(
                    "INSERT INTO api_keys_revocations VALUES (1, 1) ON CONFLICT (one) "
                    "DO UPDATE SET generation = api_keys_revocations.generation + 1"
                )
            )
            row = db.execute(
                self._sql("SELECT * FROM api_keys WHERE key_id = ?"), (key_id,)
            ).fetchone()
        return key_from_row(row) if row else None

    def key_generation(self) -> int | None:
        with self._reading() as db:
            row = db.execute(self._sql("SELECT generation FROM api_keys_revocations")).fetchone()
        return int(row[0]) if row else 0

    def list_keys(self) -> list[StoredKey]:
        with self._reading() as db:
            rows = db.execute(self._sql("SELECT * FROM api_keys ORDER BY created_at")).fetchall()
        return [key_from_row(row) for row in rows]


def key_from_row(row: Any) -> StoredKey:
    key_id, agent, secret_hash, scopes, created_at, revoked_at = row
    return StoredKey(
        key_id, agent, secret_hash, tuple(orjson.loads(scopes)), created_at, revoked_at
    )
