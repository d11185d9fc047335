"""What a call answers: its result, and the receipt that points into the log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.audit.records import StoredRecord


@dataclass(frozen=True)
class CallResult:
    call_id: str
    trace_id: str
    status: str
    result: Any
    receipt: dict[str, Any]
    # The answer of an earlier call with the same Idempotency-Key, not a new call.
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        answer = {
            "call_id": self.call_id,
            "trace_id": self.trace_id,
            "status": self.status,
            "result": self.result,
            "receipt": self.receipt,
        }
        if self.replayed:
            answer["replayed"] = True
        return answer


def receipt_of(record: StoredRecord) -> dict[str, Any]:
    """What an agent keeps of a call: where its last record is, and where to get the proof."""
    return {
        "record": record.index,
        "at": record.at,
        "proof": f"/v1/audit/proof/{record.call_id}",
    }
