"""Opening the audit store an operator names: a SQLite file, or a PostgreSQL URL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.store import AuditStore


def sqlite_durability() -> Literal["normal", "full"]:
    """``LEGACY_GATEWAY_AUDIT_DURABILITY``: ``normal`` (acknowledged records survive a crash of
    the process) or ``full`` (they survive a power loss too, for an fsync a commit)."""
    value = os.environ.get("LEGACY_GATEWAY_AUDIT_DURABILITY", "normal").strip().lower()
    if value == "full":
        return "full"
    if value != "normal":
        raise SystemExit(f"LEGACY_GATEWAY_AUDIT_DURABILITY must be normal or full, not {value!r}")
    return "normal"


def open_store(audit_db: Path, url: str | None = None) -> AuditStore:
    """PostgreSQL for ``postgresql://`` URLs (many replicas), else the SQLite file."""
    if url:
        if url.startswith(("postgresql://", "postgres://")):
            from gateway.audit.postgres_store import PostgresStore

            return PostgresStore(url)
        if url.startswith("sqlite:///"):
            return SQLiteStore(url.removeprefix("sqlite:///"), sqlite_durability())
        return SQLiteStore(url, sqlite_durability())
    return SQLiteStore(audit_db, sqlite_durability())
