"""The one way a command opens the audit store: checked, and closed when the command is done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli.common import STORE_SCHEMES, check_store_url, fail
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.audit.log import AuditLog
    from gateway.audit.store import AuditStore


@contextmanager
def audit_store(
    audit_db: Path, url: str | None = None, *, create: bool = False
) -> Iterator[AuditStore]:
    """The store named by ``--store`` (else ``--audit-db``), closed on leaving the block.

    Commands that only read the record need it to exist already: a mistyped path is then
    named, rather than an empty store made there. ``create`` is for the commands that write
    the first records of a new installation (a key, a call).
    """
    from gateway.audit.open_store import open_store

    check_store_url(url)
    if not create:
        _must_exist(audit_db, url)
    try:
        store = open_store(audit_db, url)
    except GatewayError as exc:
        raise fail(exc) from None
    try:
        yield store
    finally:
        store.close()


@contextmanager
def signed_log(audit_db: Path, url: str | None = None) -> Iterator[AuditLog]:
    """The store with its Merkle log and checkpoint signer over it (the keys beside
    ``audit_db``), for the commands that export, prune or checkpoint the record."""
    from gateway.audit.log import AuditLog, AuditSettings

    with audit_store(audit_db, url) as store:
        yield AuditLog(store, AuditSettings.from_environment(audit_db))


def _must_exist(audit_db: Path, url: str | None) -> None:
    path: Path | None = audit_db
    if url:  # a SQLite URL (or path) names a file that must exist; PostgreSQL says itself
        path = None if url.startswith(STORE_SCHEMES[:2]) else Path(url.removeprefix("sqlite:///"))
    if path is not None and not path.exists():
        raise fail(GatewayError(f"no audit store at {path} (set --audit-db or --store)"))
