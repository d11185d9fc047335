"""Retention: records past the minimum age leave the store only as exported, checkpointed ranges.

``legacy-gateway audit prune --before DATE --out DIR`` takes the records from the first one
the store still holds up to the largest checkpoint size whose records are all older than
both ``--before`` and the retention minimum (183 days by default, the six months the EU AI
Act asks of deployers' logs; ``LEGACY_GATEWAY_AUDIT_RETENTION_DAYS``). It exports that range
as a bundle, verifies the bundle, writes a ``log.pruned`` record carrying a prune statement
signed with the log's key (``gateway.audit.pruning``: the range, the checkpoint that covers
it, its age and the retention minimum) and which bundle holds it, and only then deletes the
records. Their leaf hashes stay, so the tree, every checkpoint and every later proof still
verify; a store missing records that no such statement names fails ``audit verify``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from gateway.audit.bundle import BundleError, export_bundle, index_at, verify_bundle
from gateway.audit.log import AuditLog
from gateway.audit.pruning import PruneStatement
from gateway.audit.store import AuditStore

DEFAULT_RETENTION_DAYS = 183


def retention_days() -> int:
    return int(os.environ.get("LEGACY_GATEWAY_AUDIT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


@dataclass(frozen=True)
class Pruned:
    start: int
    end: int
    bundle: Path


def prune(
    store: AuditStore,
    log: AuditLog,
    out: Path,
    before: dt.datetime,
    minimum_days: int | None = None,
) -> Pruned | None:
    """Export, verify and delete the prunable range; None when nothing may go yet."""
    days = retention_days() if minimum_days is None else minimum_days
    if days < 0:
        raise BundleError("the retention minimum cannot be negative")
    cutoff = min(before, dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
    latest = log.sync()
    start = store.pruned_before()
    if latest is None:
        return None
    younger = index_at(store, cutoff.isoformat(), latest.size, start)
    end = max((c.size for c in store.checkpoints() if c.size <= younger), default=0)
    if end <= start:
        return None
    export_bundle(store, log, out, str(start), str(end))
    report = verify_bundle(out, log.signer.verifier)
    if not report.ok:
        raise BundleError(
            f"the exported bundle does not verify, nothing pruned: {report.problems[0]}"
        )
    manifest = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    covering = next(c for c in store.checkpoints() if c.size == end)
    ((_, newest),) = store.read(end - 1, end)
    statement = PruneStatement(
        log.origin,
        start,
        end,
        covering.root,
        dt.datetime.fromisoformat(orjson.loads(newest)["at"]),
        cutoff,
        days,
        dt.datetime.now(dt.UTC),
    )
    body = statement.body(log.signer, bundle=str(out), bundle_manifest_sha256=manifest)
    # The record first: a crash before the deletion leaves a statement with nothing gone,
    # which verifies; records gone with no statement would not.
    store.append("log.pruned", None, body)
    store.prune(end)
    return Pruned(start, end, out)
