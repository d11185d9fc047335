"""``GET /v1/audit/overview``: the console's Audit and config panel, for the ``audit`` scope.

The log's latest signed checkpoint and its age, how many records it holds and the last prune
(``log.pruned``), the last ``legacy-gateway audit verify`` of the store (its result, what it
covered, who ran it and how long ago), and the configurations served with what changed from
one to the next (the same history and diff as ``legacy-gateway config history`` and
``config diff``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi import APIRouter, Query, Request

from gateway.api.deps import caller_of, gateway_of
from gateway.api.responses import JSON
from gateway.audit.records import StoredRecord
from gateway.audit.store import AuditStore
from gateway.config.history import diff, history

router = APIRouter(prefix="/v1/audit")

MAX_CHANGES = 200  # per version: a wholesale rewrite is summarised, not sent whole


def _age_s(at: str, now: dt.datetime) -> float:
    return round((now - dt.datetime.fromisoformat(at)).total_seconds(), 3)


def config_versions(records: list[StoredRecord], limit: int) -> list[dict[str, Any]]:
    """Loads and refusals, newest first; each load with its changes from the load before."""
    versions: list[dict[str, Any]] = []
    before: dict[str, Any] | None = None
    for record in records:
        body = record.body
        entry: dict[str, Any] = {
            "at": record.at,
            "kind": record.kind.removeprefix("config."),
            "by": record.context.principal or body.get("principal"),
            "directory": body.get("directory"),
        }
        if record.kind == "config.loaded":
            content = body.get("content") if isinstance(body.get("content"), dict) else None
            entry |= {
                "version": body.get("config_version"),
                "previous_version": body.get("previous_version"),
                "files": body.get("files"),
                "tools": len(body.get("tools") or []),
                "backends": len(body.get("backends") or []),
            }
            if content is not None and before is not None:
                changes = [str(change) for change in diff(before, content)]
                entry["changes"] = changes[:MAX_CHANGES]
                entry["changes_total"] = len(changes)
            else:
                entry["changes"], entry["changes_total"] = None, None  # the first one known
            if content is not None:
                before = content
        else:
            entry |= {"running_version": body.get("running_version"),
                      "issues": body.get("issues")}  # fmt: skip
        versions.append(entry)
    return list(reversed(versions))[:limit]


def overview(store: AuditStore, limit: int) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    checkpoint = store.latest_checkpoint()
    pruned = store.records_of_kind("log.pruned")
    last = pruned[-1] if pruned else None
    signed = None
    if checkpoint is not None:
        signed = {"size": checkpoint.size, "signed_at": checkpoint.at,
                  "age_s": _age_s(checkpoint.at, now)}  # fmt: skip
    pruned_last = None
    if last is not None:
        pruned_last = {"at": last.at, "age_s": _age_s(last.at, now), "record": last.index}
        pruned_last |= {key: last.body.get(key) for key in ("from_index", "to_index", "bundle")}
    verification = store.latest_verification()
    verified = None
    if verification is not None:
        verified = verification.as_dict() | {
            "ok": verification.result == "ok",
            "age_s": _age_s(verification.at, now),
        }
    return {
        "checkpoint": signed,
        "log": {"records": store.count(), "first_index": store.first_index()},
        "last_prune": pruned_last,
        "last_verification": verified,
        "config": config_versions(history(store), limit),
    }


@router.get("/overview")
async def audit_overview(
    request: Request, versions: int = Query(20, ge=1, le=200, description="Newest N configs")
) -> JSON:
    """The latest signed checkpoint and its age, the log's size and last prune, the last
    ``audit verify`` of the store (``result``: ok, failed or untrusted), and the
    configurations served (newest first) with what each changed, when,
    and by whom. Needs the ``audit`` scope."""
    caller_of(request).require("audit", "read the log's overview")
    return JSON(await asyncio.to_thread(overview, gateway_of(request).store, versions))
