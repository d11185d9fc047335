"""One tool call as it passes through the pipeline: what was asked, by whom, and what the
stages found out so far (its record context, its intent, its mapped parameters, the
interactions its adapter reported)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adapters.base import Interaction
from gateway.audit.records import RecordContext
from gateway.policy.approvals import Approval
from gateway.policy.auth import Principal

if TYPE_CHECKING:
    from gateway.pipeline.protection import Generation
    from gateway.tools import Tool
    from gateway.trace import CallSpan

# Until the call's ids are known: a frozen placeholder, shared, so a call allocates one context.
_NOT_YET = RecordContext()
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


def trace_ids(traceparent: str | None) -> tuple[str, str | None]:
    """(trace id, parent span id) from a W3C traceparent, or a fresh trace id."""
    if traceparent:
        match = _TRACEPARENT.match(traceparent.strip().lower())
        if match and match.group(1) != "0" * 32:
            return match.group(1), match.group(2)
    return secrets.token_hex(16), None


@dataclass(slots=True, eq=False)
class Call:
    """A call from the moment its tool is known to its last record.

    The front fills in what was asked; each stage reads it and adds what it found (the
    authorise stage the principal's name, the arguments stage ``params``, admission the
    intent on the record). ``approval`` is the grant of an approved call, which keeps the
    ``call_id`` it was previewed under.
    """

    tool: Tool
    generation: Generation
    call_id: str
    arguments: dict[str, Any]
    context: dict[str, Any] | None = None
    principal: str = "anonymous"
    caller: Principal | None = None
    idempotency_key: str | None = None
    approval: Approval | None = None
    dry_run: bool = False
    cursor: str | None = None
    trace_id: str = ""
    parent_span: str | None = None
    span: CallSpan | None = None
    # Filled in as the call goes: where its records point, what it meant to do, what it
    # sent (the legacy parameters), what the adapter reported, and when it began.
    record: RecordContext = _NOT_YET
    intent: dict[str, Any] = field(default_factory=dict)
    params: Any = None
    interactions: list[Interaction] = field(default_factory=list)
    started: float = 0.0
