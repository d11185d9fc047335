"""Opening the audit store an operator names: a SQLite file, or a PostgreSQL URL."""

from __future__ import annotations

from pathlib import Path

from gateway.audit.store import AuditStore, SQLiteStore


def open_store(audit_db: Path, url: str | None = None) -> AuditStore:
    """PostgreSQL for ``postgresql://`` URLs (many replicas), else the SQLite file."""
    if url:
        if url.startswith(("postgresql://", "postgres://")):
            from gateway.audit.postgres import PostgresStore

            return PostgresStore(url)
        if url.startswith("sqlite:///"):
            return SQLiteStore(url.removeprefix("sqlite:///"))
        return SQLiteStore(url)
    return SQLiteStore(audit_db)
