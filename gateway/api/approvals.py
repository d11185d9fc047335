"""``/v1/approvals``: writes waiting for a person, and their decisions."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.deps import authorization, caller_of, gateway_of
from gateway.api.responses import JSON

router = APIRouter(prefix="/v1")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    decision: Literal["approve", "reject"]
    comment: str | None = Field(None, max_length=2000, description="Why; on the record.")


@router.get("/approvals")
async def pending(request: Request) -> JSON:
    """Writes waiting for approval, each with the exact request it would send."""
    return JSON({"approvals": gateway_of(request).approvals(caller_of(request))})


@router.post("/approvals/{approval_id}")
async def decide(approval_id: str, decision: Decision, request: Request) -> JSON:
    """Approve (the call runs now, as previewed; its answer comes back) or reject."""
    gateway, caller = gateway_of(request), caller_of(request)
    sent = authorization(request)
    if sent is not None and gateway.auth.mode == "open":
        # A decision is a person's act under their key: one that does not check (the
        # previous demo start's, revoked; a typo) is a 401 saying so, not a decision by
        # ``anonymous``, refused as the requester's own.
        gateway.auth.holder(sent)
    answer = await gateway.decide(
        approval_id, decision.decision == "approve", caller, decision.comment
    )
    return JSON(answer)
