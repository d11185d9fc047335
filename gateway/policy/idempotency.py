"""Idempotency keys: a call repeated with the same key is answered, not performed again.

The first call with a key claims it in the store before its intent (or its approval request)
is written; a repeat (same principal, key, tool and arguments) gets the first call's recorded
answer back and touches no legacy system: ``awaiting_approval`` while a person decides, then
the call's outcome. Only final outcomes are answered again: a first call that failed with a
retryable error (a timeout, a backend down) lets the repeat run as a new attempt. The same
key with another tool or other arguments is refused: it means the client reused a key by
mistake, and guessing which call it meant would be worse than saying so.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from gateway.errors import CallInProgress, GatewayError, InvalidArguments, ReplayedError

MAX_KEY_LENGTH = 255


def check_key(key: str) -> str:
    """The key as given, or an error naming what is wrong with it."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidArguments(
            [
                {
                    "field": "Idempotency-Key",
                    "message": f"must be 1 to {MAX_KEY_LENGTH} printable characters",
                }
            ]
        )
    return key


def fingerprint(tool: str, arguments: dict[str, Any]) -> str:
    """What a repeat must match: the tool and its arguments, canonically serialised."""
    canonical = orjson.dumps(
        {"tool": tool, "arguments": arguments}, option=orjson.OPT_SORT_KEYS, default=str
    )
    return hashlib.sha256(canonical).hexdigest()


def replayed_answer(view: dict[str, Any]) -> tuple[str, Any]:
    """(status, result) of a first call as recorded, or the error it ended with."""
    status = view.get("status")
    call_id = str(view.get("call_id"))
    if status == "ok":
        return "ok", view.get("result")
    if status == "pending":
        return "pending", view.get("result")
    if status == "awaiting_approval":
        approval = view.get("approval") or {}
        return "awaiting_approval", {
            "approval_id": approval.get("approval_id"),
            "preview": approval.get("preview"),
            "expires_at": approval.get("expires_at"),
            "decide": f"/v1/approvals/{approval.get('approval_id')}",
        }
    if status in ("rejected", "expired"):
        return str(status), view.get("approval")
    if status in ("error", "refused", "outcome_unknown"):
        raise ReplayedError(view.get("error") or {}, call_id)
    error: GatewayError = CallInProgress(
        "the first call with this Idempotency-Key has not finished; ask again shortly, "
        f"or read it at /v1/calls/{call_id}",
        details={"first_call_id": call_id},
    )
    error.call_id = call_id
    raise error


def may_try_again(view: dict[str, Any]) -> bool:
    """A first call whose failure may pass (504, 503...): the key's next call runs again."""
    error = view.get("error") or {}
    return view.get("status") == "error" and bool(error.get("retryable"))
