"""Writes that wait for a person: parked with their exact preview, listed, decided.

A call of a tool with ``approval: required`` is parked by the admission stage (``park``):
its arguments are kept beside the log and an ``approval.requested`` record answers the agent
with the preview. A person with the ``approve`` scope lists the pending ones and decides;
an approval runs the call as previewed, under the call id it was previewed under.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from gateway.answers import CallResult, receipt_of
from gateway.audit.records import RecordContext
from gateway.audit.store import AuditStore
from gateway.errors import ApprovalDecided, ApprovalExpired, ApprovalNotFound, Forbidden
from gateway.faults import crash_point
from gateway.policy.approvals import Approval, new_approval_id, preview_hash
from gateway.policy.auth import Principal
from gateway.policy.rechecks import refusal
from gateway.tools import Tool

if TYPE_CHECKING:
    from gateway.pipeline.call import Call
    from gateway.pipeline.store import CallStore


class RunApproved(Protocol):
    """Runs an approved call (``Gateway.call``) under its grant."""

    def __call__(
        self,
        name: str,
        arguments: dict[str, Any],
        context: dict[str, Any] | None = None,
        *,
        principal: str = "anonymous",
        traceparent: str | None = None,
        idempotency_key: str | None = None,
        approval: Approval | None = None,
    ) -> Awaitable[CallResult]: ...


def park(call: Call, store: CallStore) -> CallResult:
    """Park a write that needs a person's approval; answer with its exact preview."""
    tool, record, caller = call.tool, call.record, call.caller
    preview = tool.adapter.render(tool.prepared, call.params)
    now = dt.datetime.now(dt.UTC)
    approval = Approval(
        approval_id=new_approval_id(),
        call_id=call.call_id,
        tool=tool.name,
        tool_version=tool.version,
        principal=str(record.principal),
        trace_id=str(record.trace_id),
        span_id=record.span_id,
        arguments=call.arguments,
        context=call.intent["context"],
        preview=preview,
        preview_hash=preview_hash(preview),
        requested_at=now.isoformat(),
        expires_at=(now + dt.timedelta(seconds=tool.config.approval_ttl_s)).isoformat(),
        key_id=caller.key_id if caller is not None else None,
        scopes=list(caller.scopes) if caller is not None and not caller.everything else None,
        idempotency_key=call.idempotency_key,
    )
    store.add_approval(approval)
    body = {**call.intent, "approval_id": approval.approval_id, "preview": preview,
            "expires_at": approval.expires_at}  # fmt: skip
    stored = store.append("approval.requested", call.call_id, body, record)
    result = {
        "approval_id": approval.approval_id,
        "preview": preview,
        "expires_at": approval.expires_at,
        "decide": f"/v1/approvals/{approval.approval_id}",
    }
    return CallResult(
        call.call_id, str(record.trace_id), "awaiting_approval", result, receipt_of(stored)
    )


class Approvals:
    """The pending approvals of a store, and the decisions on them.

    ``tools`` and ``config_version`` are the running config's (a reload may change them);
    ``run`` runs an approved call through the gateway; ``instance`` names the serving process
    on the decision's record.
    """

    def __init__(
        self,
        store: AuditStore,
        tools: Callable[[], dict[str, Tool]],
        config_version: Callable[[], str],
        run: RunApproved,
        instance: str | None = None,
    ) -> None:
        self.store = store
        self._tools = tools
        self._config_version = config_version
        self._run = run
        self._instance = instance

    def pending(self, caller: Principal) -> list[dict[str, Any]]:
        caller.require("approve", "see approvals")
        now = dt.datetime.now(dt.UTC)
        return [a.listing() for a in self.store.pending_approvals() if not a.expired(now)]

    async def decide(
        self, approval_id: str, approve: bool, approver: Principal, comment: str | None = None
    ) -> dict[str, Any]:
        """A person's decision on a parked write; an approval runs it as previewed."""
        approver.require("approve", "decide approvals")
        store = self.store
        approval = store.get_approval(approval_id)
        if approval is None:
            raise ApprovalNotFound(f"no approval with id '{approval_id}'")
        if not any(r.kind == "approval.requested" for r in store.records_of(approval.call_id)):
            # The gateway stopped between keeping the arguments and recording the request:
            # no audit, no action (its key was released as never started).
            raise ApprovalNotFound(f"approval '{approval_id}' was never put on the record")
        if approval.status != "pending":
            raise ApprovalDecided(
                f"approval {approval_id} was already {approval.status} by "
                f"{approval.decided_by} at {approval.decided_at}"
            )
        now = dt.datetime.now(dt.UTC)
        context = RecordContext(
            approval.trace_id, approval.span_id, approver.name, self._config_version()
        )
        if approval.expired(now):
            expired = approval.decided("expired", "gateway", now.isoformat(), None)
            if store.settle_approval(expired):
                store.append(
                    "approval.expired", approval.call_id,
                    {"approval_id": approval_id, "expires_at": approval.expires_at}, context,
                )  # fmt: skip
            raise ApprovalExpired(f"approval {approval_id} expired at {approval.expires_at}")
        if approver.owns(approval.principal):
            raise Forbidden(f"'{approver.name}' asked for this call and cannot approve it too")
        decision = approval.decided(
            "approved" if approve else "rejected", approver.name, now.isoformat(), comment
        )
        problem = None
        if approve:
            requester = store.find_key(approval.key_id) if approval.key_id else None
            problem = refusal(approval, self._tools().get(approval.tool), requester)
        if problem is not None:
            decision = approval.decided("refused", approver.name, now.isoformat(), comment)
        if not store.settle_approval(decision):
            raise ApprovalDecided(f"approval {approval_id} was decided by someone else meanwhile")
        if problem is not None:
            problem.call_id = approval.call_id
            store.append(
                "approval.refused", approval.call_id,
                {"approval_id": approval_id, "by": approver.name, "comment": comment,
                 "error": problem.to_dict()},
                context,
            )  # fmt: skip
            raise problem
        body = {"approval_id": approval_id, "decision": decision.status, "by": approver.name,
                "comment": comment}  # fmt: skip
        if self._instance is not None:
            body["instance"] = self._instance
        store.append("approval.decided", approval.call_id, body, context)
        crash_point("after_approval")
        if not approve:
            return {"approval_id": approval_id, "call_id": approval.call_id, "status": "rejected"}
        grant = replace(decision, arguments=approval.arguments)
        parent = f"00-{approval.trace_id}-{approval.span_id}-01" if approval.span_id else None
        result = await self._run(
            approval.tool,
            dict(approval.arguments or {}),
            approval.context,
            principal=approval.principal,
            traceparent=parent,
            idempotency_key=approval.idempotency_key,
            approval=grant,
        )
        return {**result.as_dict(), "approval_id": approval_id}
