"""Reading a call back from its records: what ``GET /v1/calls/{id}`` and ``calls show`` print."""

from __future__ import annotations

from typing import Any

from gateway.audit.records import StoredRecord

_INTENT_KEYS = (
    "tool",
    "tool_version",
    "backend",
    "operation",
    "effect",
    "arguments",
    "context",
    "principal",
    "config_version",
    "trace_id",
    "dry_run",
)


def call_view(call_id: str, records: list[StoredRecord]) -> dict[str, Any]:
    view: dict[str, Any] = {"call_id": call_id, "status": "in_progress"}
    interactions: list[dict[str, Any]] = []
    for record in records:
        body = record.body
        if record.kind.startswith("approval."):
            _approval(view, record)
        elif record.kind in ("call.intent", "call.rejected"):
            view.update({key: body.get(key) for key in _INTENT_KEYS})
            for optional in ("idempotency_key", "retry_of", "instance", "coerced"):
                if optional in body:
                    view[optional] = body[optional]
            view["started_at"] = record.at
            if view["status"] == "awaiting_approval":
                view["status"] = "in_progress"  # approved, and running now
            if record.kind == "call.rejected":
                view.update(status="rejected", error=body.get("error"), finished_at=record.at)
        elif record.kind == "interaction":
            interactions.append({"at": record.at, **body})
        elif record.kind == "interaction.late":
            interactions.append({"at": record.at, "late": True, **body})
        elif record.kind == "call.submitted":
            view["submitted_at"] = record.at
            if "finished_at" not in view:  # a quick reply may be on the record first
                view["status"] = "pending"
                view["result"] = body.get("result")
        elif record.kind == "call.forbidden":
            view.update(
                tool=body.get("tool"), principal=body.get("principal"), status="forbidden",
                error=body.get("error"), started_at=record.at, finished_at=record.at,
            )  # fmt: skip
        elif record.kind == "call.feedback":
            view.setdefault("feedback", []).append({"at": record.at, **body})
        elif record.kind == "call.replayed":
            view.setdefault("replays", []).append({"at": record.at, **body})
        elif record.kind == "idempotency.retried":
            view.setdefault("retried_by", []).append(body.get("retry_call_id"))
        elif record.kind == "call.unresolved":
            view["unresolved"] = {"at": record.at, **body}
        elif record.kind == "idempotency.released":
            view["key_released"] = {"at": record.at, **body}
        elif record.kind == "call.outcome":
            view["status"] = body.get("status")
            view["finished_at"] = record.at
            view["duration_ms"] = body.get("duration_ms")
            if "result" in body:
                view["result"] = body["result"]
            if "error" in body:
                view["error"] = body["error"]
    view["interactions"] = interactions
    view["records"] = [record.summary() for record in records]
    return view


def _approval(view: dict[str, Any], record: StoredRecord) -> None:
    body = record.body
    if record.kind == "approval.requested":
        view.update({key: body.get(key) for key in _INTENT_KEYS})
        view["started_at"] = record.at
        view["status"] = "awaiting_approval"
        if "idempotency_key" in body:
            view["idempotency_key"] = body["idempotency_key"]
        view["approval"] = {
            "approval_id": body.get("approval_id"),
            "preview": body.get("preview"),
            "expires_at": body.get("expires_at"),
        }
    elif record.kind in ("approval.decided", "approval.expired"):
        decision = body.get("decision", "expired")
        view.setdefault("approval", {}).update(
            decision=decision, decided_by=body.get("by"), decided_at=record.at,
            comment=body.get("comment"),
        )  # fmt: skip
        if decision != "approved":
            view.update(status=decision, finished_at=record.at)
    elif record.kind == "approval.refused":
        view.setdefault("approval", {}).update(
            decision="refused", decided_by=body.get("by"), decided_at=record.at
        )
        view.update(status="refused", error=body.get("error"), finished_at=record.at)
