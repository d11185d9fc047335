"""Arguments stage: what the call means to do (its intent), and the legacy parameters its
arguments map to. Arguments that cannot be mapped end the call here, on the record."""

from __future__ import annotations

from typing import Any

from gateway.errors import GatewayError, InvalidArguments
from gateway.mapping.coercion import coerced_fields
from gateway.mapping.limits import recordable, wide_integers
from gateway.pipeline.call import Call
from gateway.pipeline.store import CallStore


def intent_of(call: Call, instance: str | None) -> dict[str, Any]:
    """The ``call.intent`` body: the tool, the arguments as recorded (secrets redacted),
    who asked and under which config (``instance``: the serving process, for recovery)."""
    tool, record = call.tool, call.record
    intent = {
        "tool": tool.name,
        "tool_version": tool.version,
        "backend": tool.config.backend,
        "operation": tool.config.operation,
        "effect": tool.config.effect,
        "arguments": tool.input.redact(recordable(call.arguments), tool.commitments),
        "context": call.context or {},
        "principal": call.principal,
        "config_version": record.config_version,
        "trace_id": call.trace_id,
        "parent_span_id": call.parent_span,
        "dry_run": call.dry_run,
        "cursor": call.cursor,
    }
    if tool.variant is not None:
        intent["variant"] = tool.variant  # which version of the tool answers (experiments)
    if call.idempotency_key is not None:
        intent["idempotency_key"] = call.idempotency_key
    if instance is not None:
        intent["instance"] = instance
    return intent


def map_in(call: Call, store: CallStore) -> None:
    """Set ``call.params`` from the arguments, or record ``call.rejected`` and raise.

    Integers wider than the legacy side can hold are refused before mapping (in the context
    too, which is recorded); fields the mapping coerced are noted in the intent.
    """
    tool, arguments = call.tool, call.arguments
    try:
        wide = wide_integers(arguments, "") + wide_integers(call.context or {}, "context")
        if wide:
            raise InvalidArguments(wide)
        call.params = tool.input(arguments)
    except GatewayError as exc:
        # A refused call is on the record too: what the agent tried, and why not.
        exc.call_id = call.call_id
        rejected = {**recordable(call.intent), "error": exc.to_dict()}
        store.append("call.rejected", call.call_id, rejected, call.record)
        raise
    coerced = coerced_fields(arguments, tool.input.specs)
    if coerced:
        call.intent["coerced"] = coerced
