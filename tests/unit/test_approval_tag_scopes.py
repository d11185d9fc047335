"""An approval decided later checks the requester's tag scopes against the tool's tags then."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from gateway.errors import ApprovalRefused, ApprovalStale
from gateway.policy.approvals import Approval
from gateway.policy.rechecks import refusal
from gateway.tools import Tool


def approval(scopes: list[str]) -> Approval:
    return Approval(
        approval_id="ap_1", call_id="c1", tool="cancel_invoice", tool_version="v1",
        principal="jwt:https://issuer#bot", trace_id="t", arguments={}, context={},
        preview={}, preview_hash="h", requested_at="2026-01-01T00:00:00+00:00",
        expires_at="2026-01-02T00:00:00+00:00", scopes=scopes,
    )  # fmt: skip


def tool(tags: list[str]) -> Tool:
    # Approval no longer required: the check after the scopes, so reaching it shows they held.
    config: Any = SimpleNamespace(tags=tags, approval="none")
    return cast(Tool, SimpleNamespace(name="cancel_invoice", config=config, version="v1"))


def test_a_tag_scope_still_covering_the_tool_passes_the_scope_check() -> None:
    problem = refusal(approval(["tag:billing"]), tool(["billing", "eu"]), None)
    assert isinstance(problem, ApprovalStale) and "no longer needs approval" in problem.message


def test_a_tool_that_lost_the_tag_is_refused_as_out_of_scope() -> None:
    problem = refusal(approval(["tag:billing"]), tool(["archive"]), None)
    assert isinstance(problem, ApprovalRefused)
    assert problem.message == (
        "'jwt:https://issuer#bot' no longer has a scope for tool 'cancel_invoice'; nothing was sent"
    )
    assert problem.details == {"tool": "cancel_invoice", "scopes": ["tag:billing"]}
