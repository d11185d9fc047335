"""Admission stage: the call's Idempotency-Key is claimed, then its intent is written, or
the call ends here with another answer: the first answer of a repeated key, or an approval
to wait for (a write whose tool needs a person's approval).

Nothing is written before the key is claimed, so two calls with one key never both start;
a key whose call never started (its intent or approval request failed) is given back.
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.answers import CallResult
from gateway.approvals import park
from gateway.audit.records import RecordContext
from gateway.faults import crash_point
from gateway.pipeline.call import Call
from gateway.pipeline.store import CallStore


class Keys(Protocol):
    """Claims Idempotency-Keys (``gateway.replay.KeyedCalls``)."""

    def claim(
        self,
        scope: str,
        key: str,
        call_id: str,
        name: str,
        arguments: dict[str, Any],
        intent: dict[str, Any],
        record: RecordContext,
    ) -> CallResult | None: ...


async def admit(call: Call, store: CallStore, keys: Keys) -> CallResult | None:
    """None when the call may go on (its intent is on the record); else the answer that
    ends it here."""
    approval = call.approval
    needs_approval = call.tool.config.approval == "required" and not call.dry_run
    if needs_approval and approval is not None:
        call.intent["approval"] = {
            "approval_id": approval.approval_id,
            "approved_by": approval.decided_by,
            "approved_at": approval.decided_at,
        }
    key = call.idempotency_key
    # An approved call runs under the key its request claimed; a dry run claims none.
    claimed = key is not None and not call.dry_run and approval is None
    if claimed:
        assert key is not None
        replayed = keys.claim(
            call.principal, key, call.call_id, call.tool.name, call.arguments, call.intent,
            call.record,
        )  # fmt: skip
        if replayed is not None:
            return replayed
        crash_point("after_claim")
    try:
        if needs_approval and approval is None:
            return park(call, store)
        await store.commit_many([("call.intent", call.call_id, call.intent)], call.record)
    except BaseException:
        if claimed:
            assert key is not None
            store.release_key(call.principal, key, call.call_id)
        raise
    return None
