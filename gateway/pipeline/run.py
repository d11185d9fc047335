"""The stages in order, for one call:

authorise → arguments (intent, map in) → admission (key, approval, intent record)
→ protection + invoke (adapter) → answer (map out, budget) → outcome (record).

Authorisation happens at the front (``Gateway.call``), before the call gets a span; the
rest runs here. Each stage is a module of this package.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from adapters.base import Submitted
from gateway.answers import CallResult
from gateway.audit.records import RecordContext
from gateway.errors import GatewayError
from gateway.faults import crash_point
from gateway.metrics import Metrics
from gateway.pipeline import outcome
from gateway.pipeline.admission import Keys, admit
from gateway.pipeline.answer import result_of
from gateway.pipeline.arguments import intent_of, map_in
from gateway.pipeline.call import Call
from gateway.pipeline.invoke import attempt_of, preview
from gateway.pipeline.protection import protected
from gateway.pipeline.store import CallStore


class CallPipeline:
    """Runs calls through the stages against one store.

    ``instance`` names the serving process (None for a one-shot CLI call): its intents carry
    it, so that recovery knows whose calls in flight a crash left.
    """

    def __init__(
        self,
        store: CallStore,
        keys: Keys,
        metrics: Metrics,
        instance: str | None = None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.metrics = metrics
        self.instance = instance

    async def run(self, call: Call) -> CallResult:
        """The call from its intent to its outcome; the answer, or the error it ended with
        (on the record, naming the call)."""
        store = self.store
        call.record = RecordContext(
            call.trace_id,
            call.span.span_id if call.span is not None else None,
            call.principal,
            call.generation.registry.config.version,
        )
        call.started = time.perf_counter()
        call.intent = intent_of(call, self.instance)
        map_in(call, store)
        ended = await admit(call, store, self.keys)
        if ended is not None:
            return ended
        crash_point("after_intent")
        try:
            if call.dry_run:
                result: Any = preview(call)
            else:
                tool = call.tool
                # The tool's own timeout, else its backend's: the bound of each wait.
                timeout = (
                    tool.config.timeout_s
                    or call.generation.registry.config.backends[tool.config.backend].timeout_s
                )
                answer = await protected(
                    call.generation,
                    tool.config.backend,
                    call.principal,
                    tool.config.is_idempotent,
                    timeout,
                    attempt_of(call, timeout, self.metrics),
                )
                if isinstance(answer, Submitted):
                    return outcome.submitted(call, store, answer)
                crash_point("before_outcome")
                result = result_of(tool, answer)
        except GatewayError as exc:
            await outcome.failed(call, store, exc)
            raise
        except Exception as exc:
            error = GatewayError(f"internal error: {type(exc).__name__}: {exc}")
            await outcome.failed(call, store, error)
            raise error from exc
        except asyncio.CancelledError:
            await outcome.interrupted(call, store)
            raise
        answered = await outcome.succeeded(call, store, result)
        crash_point("after_outcome")
        return answered
