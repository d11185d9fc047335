"""Calls with an Idempotency-Key: claim the key, or answer from the call that holds it.

A key is claimed before anything of the call is written (its intent, or its approval
request), so two calls with one key never both start. A repeat gets the first call's answer
as recorded, and sends nothing. Only final answers are repeated: when the first call failed
with a retryable error, the repeat takes the key over and runs as a new attempt, its intent
naming the first call (``retry_of``) and the first call's record naming it.
"""

from __future__ import annotations

from typing import Any

from gateway.answers import CallResult, receipt_of
from gateway.audit.records import RecordContext
from gateway.audit.views import call_view
from gateway.errors import IdempotencyKeyReused
from gateway.pipeline.store import CallStore
from gateway.policy.idempotency import fingerprint, may_try_again, replayed_answer

# The record a repeat's receipt points at: the last one that settled the first call so far.
_ANSWERED_BY = (
    "call.outcome",
    "call.submitted",
    "approval.refused",
    "approval.expired",
    "approval.decided",
    "approval.requested",
)
_REPLAYED_FIELDS = ("principal", "context", "trace_id", "idempotency_key", "arguments")


class KeyedCalls:
    def __init__(self, store: CallStore, instance: str | None = None) -> None:
        self.store = store
        self.instance = instance

    def claim(
        self,
        scope: str,
        key: str,
        call_id: str,
        name: str,
        arguments: dict[str, Any],
        intent: dict[str, Any],
        record: RecordContext,
    ) -> CallResult | None:
        """None when ``call_id`` now holds the key (new, or a retry: ``intent`` then names
        the first attempt), else the answer of the call that holds it."""
        wanted = fingerprint(name, arguments)
        # A takeover raced by another repeat of the same key: read the new holder again.
        for _ in range(3):
            first = self.store.claim_key(scope, key, call_id, wanted, self.instance)
            if first is None:
                return None
            first_call, first_fingerprint = first
            if first_fingerprint != wanted:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was used for another call (another tool or other "
                    "arguments); use a fresh key for a new call",
                    details={"first_call_id": first_call},
                )
            records = self.store.records_of(first_call)
            view = call_view(first_call, records)
            if not may_try_again(view):
                return self._replay(first_call, view, records, intent, record)
            if self.store.take_over_key(scope, key, first_call, call_id, self.instance):
                intent["retry_of"] = first_call
                self.store.append(
                    "idempotency.retried",
                    first_call,
                    {"idempotency_key": key, "retry_call_id": call_id,
                     "error": (view.get("error") or {}).get("code")},
                    record,
                )  # fmt: skip
                return None
        return self._replay(first_call, view, records, intent, record)

    def _replay(
        self,
        first_call: str,
        view: dict[str, Any],
        records: list[Any],
        intent: dict[str, Any],
        record: RecordContext,
    ) -> CallResult:
        """A repeated Idempotency-Key: the first call's answer, and nothing sent anywhere."""
        # Who repeated it, and why, is on the record of the first call.
        self.store.append(
            "call.replayed", first_call, {k: intent[k] for k in _REPLAYED_FIELDS}, record
        )
        status, result = replayed_answer(view)
        ending = next((r for r in reversed(records) if r.kind in _ANSWERED_BY), None)
        receipt = receipt_of(ending) if ending is not None else {}
        return CallResult(
            first_call, str(view.get("trace_id")), status, result, receipt, replayed=True
        )
