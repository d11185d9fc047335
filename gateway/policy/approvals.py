"""Approvals: a write declared ``approval: required`` runs only once a person approves it.

The call answers 202 with the exact request it would send (the preview) and an approval id.
Someone holding the ``approve`` scope, and not the requester, approves or rejects it with
``POST /v1/approvals/{id}``; approval runs the call as previewed: if the request rendered
then would differ (the tool or config changed meanwhile), or the requester's key was revoked
or lost the tool's scope, nothing is sent and the refusal is on the record. Approvals expire.
The request, the decision (who, when, why) and the call are records of one call id.

The arguments wait in the store's ``approvals`` table (not the log: they may hold sensitive
values in clear, needed to run the call) and are dropped once the approval is decided.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import orjson

Status = Literal["pending", "approved", "rejected", "expired", "refused"]


@dataclass(frozen=True)
class Approval:
    approval_id: str
    call_id: str
    tool: str
    tool_version: str
    principal: str
    trace_id: str
    arguments: dict[str, Any] | None
    context: dict[str, Any]
    preview: dict[str, Any]
    preview_hash: str
    requested_at: str
    expires_at: str
    span_id: str | None = None
    status: Status = "pending"
    decided_by: str | None = None
    decided_at: str | None = None
    comment: str | None = None
    # Who asked, to check again at the decision: the API key, or (for a token, which the
    # gateway cannot look up again) the scopes it carried; None scopes: open mode.
    key_id: str | None = None
    scopes: list[str] | None = None
    # The key the request claimed: the approved call runs under it.
    idempotency_key: str | None = None

    def expired(self, now: dt.datetime) -> bool:
        return now >= dt.datetime.fromisoformat(self.expires_at)

    def listing(self) -> dict[str, Any]:
        """What approvers see: everything but the arguments in clear."""
        shown = asdict(self)
        shown.pop("arguments")
        shown["decide"] = f"/v1/approvals/{self.approval_id}"
        return shown

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, data: bytes | str) -> Approval:
        return cls(**orjson.loads(data))

    def decided(self, status: Status, by: str, at: str, comment: str | None) -> Approval:
        return replace(
            self, status=status, decided_by=by, decided_at=at, comment=comment, arguments=None
        )


def preview_hash(preview: dict[str, Any]) -> str:
    return hashlib.sha256(
        orjson.dumps(preview, option=orjson.OPT_SORT_KEYS, default=str)
    ).hexdigest()


def new_approval_id() -> str:
    return "apr_" + secrets.token_hex(10)
