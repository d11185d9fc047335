"""Outcome stage: how a call that reached its adapter ends on the record.

The interactions the adapter reported are written with the outcome in one commit (the
intent is already durable, so a crash in between leaves a call with no outcome, which
recovery marks). A submitted call ends here for now with ``call.submitted``; its reply or
its deadline writes the outcome later (``gateway.completions``).
"""

from __future__ import annotations

import time
from typing import Any

from adapters.base import Submitted
from gateway.answers import CallResult, receipt_of
from gateway.audit.records import StoredRecord
from gateway.completions import deadline_of
from gateway.errors import CallInterrupted, GatewayError
from gateway.pipeline.call import Call
from gateway.pipeline.store import CallStore, Entry


async def finish(call: Call, store: CallStore, outcome: dict[str, Any]) -> StoredRecord:
    """Write the call's interactions and its ``call.outcome``; the outcome record."""
    outcome["duration_ms"] = round((time.perf_counter() - call.started) * 1000, 3)
    call_id = call.call_id
    entries: list[Entry] = [
        ("interaction", call_id, interaction.as_record()) for interaction in call.interactions
    ]
    entries.append(("call.outcome", call_id, outcome))
    return (await store.commit_many(entries, call.record))[-1]


async def succeeded(call: Call, store: CallStore, result: Any) -> CallResult:
    """The call's ``ok`` outcome (secrets of the result redacted on the record)."""
    stored = await finish(
        call,
        store,
        {"status": "ok", "result": call.tool.output.redact(result, call.tool.commitments)},
    )
    return CallResult(call.call_id, call.trace_id, "ok", result, receipt_of(stored))


async def failed(call: Call, store: CallStore, error: GatewayError) -> None:
    """The call's ``error`` outcome; ``error`` then names the call."""
    error.call_id = call.call_id
    await finish(call, store, {"status": "error", "error": error.to_dict()})


async def interrupted(call: Call, store: CallStore) -> None:
    """A stop whose drain grace ran out: the call still ends on the record."""
    await failed(
        call,
        store,
        CallInterrupted(
            "the gateway stopped before this call ended; the legacy system may have acted"
        ),
    )


def submitted(call: Call, store: CallStore, handed_over: Submitted) -> CallResult:
    """A submit handed over: the call stays open until its reply completes it."""
    call_id = call.call_id
    result = {"poll": f"/v1/calls/{call_id}", **handed_over.detail}
    body = {
        "status": "pending",
        "result": result,
        "duration_ms": round((time.perf_counter() - call.started) * 1000, 3),
        **deadline_of(handed_over),
    }
    entries: list[Entry] = [
        ("interaction", call_id, interaction.as_record()) for interaction in call.interactions
    ]
    entries.append(("call.submitted", call_id, body))
    stored = store.append_many(entries, call.record)[-1]
    return CallResult(call_id, call.trace_id, "pending", result, receipt_of(stored))
