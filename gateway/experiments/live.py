"""Variants at run time: a call is given its variant before its intent is written, the
outcome counts towards the variant's guard, and a read's shadow variants run after it.

A variant whose calls fail more often than its guard allows is stopped for the config
being served: ``experiment.stopped`` is written, and its traffic returns to the baseline.
Shadow runs go through the backend's protections (rate limit, breaker, concurrency cap) as
the calls they follow do, under the calling agent's name; their result is never returned,
only compared with the live one on a ``call.shadow`` record linked to the call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from gateway.answers import CallResult
from gateway.audit.records import RecordContext
from gateway.config.models import BASELINE
from gateway.errors import GatewayError
from gateway.experiments import guard as guard_counts
from gateway.experiments import reviews
from gateway.experiments.compare import MAX_DIFFERENCES, differences, field_of
from gateway.experiments.reading import RecordReader
from gateway.experiments.split import choose, sticky_key
from gateway.metrics import Metrics
from gateway.pipeline.answer import result_of
from gateway.pipeline.call import Call
from gateway.pipeline.invoke import attempt_of
from gateway.pipeline.protection import protected
from gateway.pipeline.store import CallStore
from gateway.tools import Registry, Tool

log = logging.getLogger("legacy_gateway")

STOPPED = "experiment.stopped"
SHADOW = "call.shadow"


class Experiments:
    """The variants of the tools being served: who gets which, and how each is doing."""

    def __init__(self, store: CallStore, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics
        # (config version, tool, variant): a guard judges a variant under one config.
        self._tallies: dict[tuple[str, str, str], guard_counts.Tally] = {}
        self._stopped: dict[str, set[tuple[str, str]]] = {}
        self._shadows: set[asyncio.Task[None]] = set()

    def stopped(self, config_version: str) -> set[tuple[str, str]]:
        """(tool, variant) pairs stopped under this config, from the record the first time."""
        known = self._stopped.get(config_version)
        if known is None:
            records = getattr(self.store, "records_of_kind", None)
            found = records(STOPPED) if records is not None else []
            known = self._stopped[config_version] = {
                (record.body["tool"], record.body["variant"])
                for record in found
                if record.context.config_version == config_version
            }
        return known

    def restore(self, registry: Registry) -> None:
        """Before ``registry`` is served: its guards' counts so far, from the record (a
        restart or a reload back to a config carries on where its calls left off)."""
        guarded = any(
            tool.variants and tool.config.experiment.guard is not None
            for tool in registry.tools.values()
        )
        version = registry.config.version
        readable = hasattr(self.store, "records_of_kind")
        if not guarded or not readable or any(key[0] == version for key in self._tallies):
            return
        reader = cast(RecordReader, self.store)
        for (tool, variant), tally in guard_counts.rebuild(reader, version).items():
            self._tallies[(version, tool, variant)] = tally

    def variant_for(
        self, tool: Tool, principal: str, context: dict[str, Any] | None, version: str
    ) -> Tool:
        """The version of ``tool`` this caller sees (in listings and calls)."""
        if not tool.variants:
            return tool
        stopped = {variant for name, variant in self.stopped(version) if name == tool.name}
        key = sticky_key(tool.config, principal, context)
        picked = choose(tool.name, tool.config, key, stopped)
        return tool if picked == BASELINE else tool.variants[picked]

    async def run(self, call: Call, run: Callable[[Call], Awaitable[CallResult]]) -> CallResult:
        """``run(call)`` on the call's variant; its outcome counted, its shadows started,
        and the call put in the review queue if the tool's policy picks it."""
        base = call.tool
        if not base.variants and base.config.review is None:
            return await run(call)
        version = call.generation.registry.config.version
        if base.variants:
            call.tool = self.variant_for(base, call.principal, call.context, version)
        began = time.perf_counter()
        try:
            answer = await run(call)
        except GatewayError as exc:
            self._count(call, base, version, failed=True)
            self._review(call, base, version, exc.code, began)
            raise
        if answer.replayed or call.dry_run:
            return answer
        self._count(call, base, version, failed=False)
        self._review(call, base, version, None, began)
        if answer.status == "ok":
            for name, spec in base.config.variants.items():
                if spec.shadow:
                    self._start_shadow(call, base.variants[name], answer.result)
        return answer

    def _review(
        self, call: Call, base: Tool, version: str, error: str | None, began: float
    ) -> None:
        policy = base.config.review
        if policy is None or not call.call_id:
            return
        elapsed = (time.perf_counter() - began) * 1000
        why = reviews.reasons(policy, call.call_id, base.config.effect, error, elapsed)
        if why:
            body = {"tool": base.name, "variant": call.tool.variant, "reasons": why}
            context = RecordContext(call.trace_id, None, call.principal, version)
            reviews.request(self.store, call.call_id, body, context)

    # ------------------------------------------------------------------ guard

    def _count(self, call: Call, base: Tool, version: str, failed: bool) -> None:
        variant = call.tool.variant or BASELINE
        guard = base.config.experiment.guard
        if variant == BASELINE or guard is None:
            return
        tally = self._tallies.setdefault((version, base.name, variant), guard_counts.Tally())
        tally.calls += 1
        tally.errors += failed
        if tally.calls < guard.min_calls or tally.errors / tally.calls <= guard.max_error_rate:
            return
        stopped = self.stopped(version)
        if (base.name, variant) in stopped:
            return
        stopped.add((base.name, variant))
        body = {
            "tool": base.name,
            "variant": variant,
            "calls": tally.calls,
            "errors": tally.errors,
            "error_rate": round(tally.errors / tally.calls, 6),
            "guard": guard.model_dump(),
            "traffic_to": BASELINE,
        }
        self.store.append(STOPPED, None, body, RecordContext(config_version=version))
        log.warning("variant %s of %s stopped by its guard: %s", variant, base.name, body)

    # ------------------------------------------------------------------ shadows

    def _start_shadow(self, call: Call, shadow: Tool, live: Any) -> None:
        task = asyncio.create_task(self._shadow(call, shadow, live))
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    async def _shadow(self, call: Call, tool: Tool, live: Any) -> None:
        """Run ``tool`` (a shadow variant) on the call's arguments; record the comparison."""
        generation = call.generation
        generation.active += 1  # the config's adapters stay open until the shadow is done
        began = time.perf_counter()
        twin = Call(
            tool, generation, call.call_id, call.arguments, call.context, call.principal,
            trace_id=call.trace_id,
        )  # fmt: skip
        body: dict[str, Any] = {
            "tool": tool.name,
            "variant": tool.variant,
            "live_variant": call.tool.variant,
            "tool_version": tool.version,
        }
        try:
            twin.params = tool.input(call.arguments)
            timeout = (
                tool.config.timeout_s
                or generation.registry.config.backends[tool.config.backend].timeout_s
            )
            answer = await protected(
                generation, tool.config.backend, call.principal, True, timeout,
                attempt_of(twin, timeout, self.metrics),
            )  # fmt: skip
            result = result_of(tool, answer)
            found = differences(
                call.tool.output.redact(live, call.tool.commitments),
                tool.output.redact(result, tool.commitments),
            )
            body |= {
                "status": "ok",
                "agree": not found,
                "fields": sorted({field_of(d["field"]) for d in found}),
                "differences": found[:MAX_DIFFERENCES],
                "difference_count": len(found),
            }
        except GatewayError as exc:
            body |= {"status": "error", "agree": False, "error": exc.to_dict()}
        except Exception as exc:
            error = GatewayError(f"internal error: {type(exc).__name__}: {exc}")
            body |= {"status": "error", "agree": False, "error": error.to_dict()}
        finally:
            generation.active -= 1
        body["duration_ms"] = round((time.perf_counter() - began) * 1000, 3)
        body["attempts"] = len(twin.interactions)
        try:
            self.store.append(SHADOW, call.call_id, body, call.record)
        except GatewayError:
            log.exception("the shadow run of call %s could not be recorded", call.call_id)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Let shadow runs in flight finish (or cancel them after ``timeout_s``)."""
        pending = list(self._shadows)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout_s)
        for task in late:
            task.cancel()
