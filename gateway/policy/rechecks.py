"""What an approval must still hold when a person approves it, hours after it was asked.

The requester asked under a key with some scopes, for a tool as it was configured then.
By the decision, the key may be revoked, its scopes cut, the tool removed, changed, or no
longer under approval. Running the write then would act for someone who may no longer
act, or send something nobody previewed: the approval is refused instead, on the record.
"""

from __future__ import annotations

from gateway.errors import ApprovalRefused, ApprovalStale, GatewayError
from gateway.policy.approvals import Approval, preview_hash
from gateway.policy.auth import Principal, StoredKey
from gateway.tools import Tool


def refusal(
    approval: Approval, tool: Tool | None, requester_key: StoredKey | None
) -> GatewayError | None:
    """Why the approved call must not run now, or None when it may."""
    who = f"'{approval.principal}'"
    if approval.key_id is not None:
        if requester_key is None:
            return ApprovalRefused(
                f"the API key {who} asked with no longer exists; nothing was sent",
                details={"key_id": approval.key_id},
            )
        if requester_key.revoked_at is not None:
            return ApprovalRefused(
                f"the API key {who} asked with was revoked at {requester_key.revoked_at}, "
                "after asking; nothing was sent",
                details={"key_id": approval.key_id, "revoked_at": requester_key.revoked_at},
            )
        scopes: tuple[str, ...] | None = requester_key.scopes
    else:
        scopes = None if approval.scopes is None else tuple(approval.scopes)
    tags = tool.config.tags if tool is not None else ()
    if scopes is not None and not Principal(approval.principal, scopes).may_call(
        approval.tool, tags
    ):
        return ApprovalRefused(
            f"{who} no longer has a scope for tool '{approval.tool}'; nothing was sent",
            details={"tool": approval.tool, "scopes": list(scopes)},
        )
    if tool is None:
        return ApprovalStale(
            f"tool '{approval.tool}' was removed from the config after the preview; "
            "nothing was sent"
        )
    if tool.config.approval != "required":
        return ApprovalStale(
            f"tool '{tool.name}' no longer needs approval; nothing was sent. "
            "Call it again to run it under its current config"
        )
    if tool.version != approval.tool_version:
        return ApprovalStale(
            f"tool '{tool.name}' changed since the preview; nothing was sent. "
            "Call it again for a new preview and approval",
            details={"previewed_version": approval.tool_version, "current_version": tool.version},
        )
    try:
        params = tool.input(dict(approval.arguments or {}))
        rendered = tool.adapter.render(tool.prepared, params)
    except GatewayError as exc:
        return ApprovalStale(
            f"the previewed arguments no longer map under the current config: {exc.message}; "
            "nothing was sent"
        )
    if preview_hash(rendered) != approval.preview_hash:
        return ApprovalStale("the request would differ from the approved preview; nothing was sent")
    return None
