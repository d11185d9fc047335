"""Invoke stage: the adapter's call, with the context it records its interactions through.

Each interaction the adapter reports goes on the call (written with its outcome), on its
span, and into the metrics. Each attempt of a retried call is an interaction of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from adapters.base import CallContext, Interaction
from gateway.metrics import Metrics
from gateway.pipeline.call import Call


def attempt_of(call: Call, timeout_s: float, metrics: Metrics) -> Callable[[int], Awaitable[Any]]:
    """``attempt(n)``: the n-th try of the adapter's call with the call's mapped parameters."""
    tool, span, interactions = call.tool, call.span, call.interactions

    def on_record(interaction: Interaction) -> None:
        interactions.append(interaction)
        if span is not None:
            span.interaction(tool.adapter, interaction)
        error = (interaction.error or {}).get("code")
        metrics.interaction(
            interaction.backend, interaction.adapter, error, interaction.duration_ms / 1000
        )

    ctx = CallContext(
        call.call_id,
        call.trace_id,
        tool.name,
        timeout_s,
        on_record,
        cursor=call.cursor,
        idempotency_key=call.idempotency_key,
    )
    adapter, prepared, params = tool.adapter, tool.prepared, call.params

    async def attempt(number: int) -> Any:
        ctx.attempt = number  # each attempt is an interaction of its own on the record
        return await adapter.call(prepared, params, ctx)

    return attempt


def preview(call: Call) -> dict[str, Any]:
    """A dry run's answer: the exact request the call would send, sent nowhere."""
    tool = call.tool
    return {"request": tool.adapter.render(tool.prepared, call.params)}
