"""The gateway at run time: one path for every call, whoever makes it (REST, CLI, MCP).

``Gateway`` is the front: it finds the tool, authorises the caller, gives the call its id
and span, and runs it through the call pipeline (``gateway.pipeline``): arguments mapped
(422 on bad ones), the intent recorded (no record, no call), the adapter called under the
backend's protections, the answer mapped and the outcome recorded. Around it: approvals
(``gateway.approvals``), repeated Idempotency-Keys (``gateway.replay``), submitted calls'
replies and deadlines (``gateway.completions``) and config reloads
(``gateway.config.directory``, ``gateway.generations``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

from adapters.base import Health
from adapters.installed import INSTALLED
from gateway.answers import CallResult
from gateway.approvals import Approvals
from gateway.audit.log import AuditLog
from gateway.audit.records import StoredRecord
from gateway.audit.store import AuditStore
from gateway.audit.views import call_view
from gateway.call_records import add_feedback, readable_records
from gateway.completions import Completions
from gateway.config.directory import ConfigDirectory
from gateway.config.loader import LoadedConfig
from gateway.errors import GatewayError, ToolNotFound
from gateway.experiments.live import Experiments
from gateway.generations import Generations
from gateway.mapping.redaction import Commitments
from gateway.memory import thaw
from gateway.metrics import Metrics
from gateway.pipeline.answer import result_of
from gateway.pipeline.authorise import authorise
from gateway.pipeline.call import Call, trace_ids
from gateway.pipeline.run import CallPipeline
from gateway.policy.approvals import Approval
from gateway.policy.auth import Authenticator, JwtVerifier, Mode, Principal
from gateway.policy.idempotency import check_key
from gateway.recovery import Recovery
from gateway.replay import KeyedCalls
from gateway.suggest import did_you_mean
from gateway.tools import Registry, Tool
from gateway.trace import shutdown as flush_spans
from gateway.trace import start_call

__all__ = ["Gateway", "trace_ids"]


class Gateway:
    """Serves ``config`` (a built registry, or the config directory that owns one) with
    ``store`` as the record; ``auth`` says who may call, ``recovery`` is a serving
    process's lease (what it leaves in flight if it dies is found and marked)."""

    def __init__(
        self,
        config: Registry | ConfigDirectory,
        store: AuditStore,
        audit_log: AuditLog | None = None,
        auth: Mode = "open",
        recovery: Recovery | None = None,
    ) -> None:
        self.source = config if isinstance(config, ConfigDirectory) else ConfigDirectory.of(config)
        self.store = store
        self.recovery = recovery
        instance = recovery.instance_id if recovery else None
        self.keyed = KeyedCalls(store, instance)
        # Who may call: API keys (a serving gateway) or anyone (the demo, the CLI).
        self.auth = Authenticator(
            auth, store, JwtVerifier.from_environment() if auth == "keys" else None
        )
        # The Merkle tree and signed checkpoints over the store; absent for one-shot CLI
        # calls, whose records the next serving process integrates.
        self.audit_log = audit_log
        self.metrics = Metrics()
        # Replies and deadlines of submitted calls (queue tools that answer 202 pending).
        self.completions = Completions(
            store, lambda: self.tools, result_of, lambda: self.registry.adapters, self.metrics
        )
        self.generations = Generations(self.source.registry, self.completions)
        self.pipeline = CallPipeline(store, self.keyed, self.metrics, instance)
        # Tools' variants: which one a call gets, their guards, and shadow runs.
        self.experiments = Experiments(store, self.metrics)
        self.approval_desk = Approvals(
            store, lambda: self.tools, lambda: self.config.version, self.call, instance
        )
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def registry(self) -> Registry:
        return self.generations.current.registry

    @property
    def config(self) -> LoadedConfig:
        return self.generations.current.registry.config

    @property
    def tools(self) -> dict[str, Tool]:
        return self.generations.current.registry.tools

    @classmethod
    def from_directory(
        cls,
        path: Path | str,
        store: AuditStore,
        audit_log: AuditLog | None = None,
        auth: Mode = "open",
        recovery: Recovery | None = None,
    ) -> Gateway:
        # The records commit sensitive values with the log's salt; with no log, a throwaway one.
        commitments = audit_log.commitments if audit_log is not None else Commitments.throwaway()
        source = ConfigDirectory.load(path, INSTALLED, commitments)
        return cls(source, store, audit_log, auth, recovery)

    async def start(
        self, watch_config_s: float | None = None, backends: Collection[str] | None = None
    ) -> None:
        """Open the adapters and record the config; with ``watch_config_s``, also reload the
        config directory whenever its files change (checked at that interval). ``backends``
        opens only those (a one-shot call needs its tool's backend alone)."""
        await self.generations.open(self.registry, backends)
        if backends is None:
            # A serving gateway carries on its guards' counts; a one-shot call (its backend
            # alone) does not read the log for them.
            await asyncio.to_thread(self.experiments.restore, self.registry)
        self.source.record_start(self.store)
        if self.recovery is not None:
            self.recovery.config_version = lambda: self.config.version
            await asyncio.to_thread(self.recovery.begin)
            self._tasks.append(asyncio.create_task(self.recovery.run()))
        if self.audit_log is not None:
            self.audit_log.start()
        self.completions.start()
        if watch_config_s:
            watch = self.source.watch(self.store, self._serve, watch_config_s)
            self._tasks.append(asyncio.create_task(watch))

    async def reload(self) -> str | None:
        """Serve the config directory again if it changed; see ``ConfigDirectory.reload``."""
        return await self.source.reload(self.store, self._serve)

    async def _serve(self, registry: Registry) -> None:
        """Serve a reloaded config, its guards' counts read back first."""
        await asyncio.to_thread(self.experiments.restore, registry)
        thaw()  # the replaced config may be frozen (``freeze_long_lived``): let it be collected
        await self.generations.serve(registry)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.recovery is not None:
            with contextlib.suppress(GatewayError):
                self.recovery.end()
        await self.experiments.drain()
        await self.completions.stop()
        await self.generations.close()
        if self.audit_log is not None:
            self.audit_log.stop()
        flush_spans()

    def tool(self, name: str) -> Tool:
        tool = self.tools.get(name)
        if tool is None:
            raise ToolNotFound(f"no tool named '{name}'{did_you_mean(name, self.tools)}")
        return tool

    async def call(
        self,
        name: str,
        arguments: dict[str, Any],
        context: dict[str, Any] | None = None,
        *,
        principal: str = "anonymous",
        traceparent: str | None = None,
        dry_run: bool = False,
        cursor: str | None = None,
        idempotency_key: str | None = None,
        caller: Principal | None = None,
        approval: Approval | None = None,
    ) -> CallResult:
        generation = self.generations.current
        tool = self.tool(name)
        # An approved call keeps the id it was previewed under: one call, one record.
        call_id = approval.call_id if approval is not None else ""
        call = Call(
            tool, generation, call_id, arguments, context, principal, caller, idempotency_key,
            approval, dry_run, cursor,
        )  # fmt: skip
        if caller is not None:
            authorise(call, self.store)
        if idempotency_key is not None:
            check_key(idempotency_key)
        if approval is None:
            call.call_id = str(uuid.uuid4())
        trace_id, call.parent_span = trace_ids(traceparent)
        span = call.span = start_call(
            name,
            call.call_id,
            trace_id,
            call.parent_span,
            {
                "legacy_gateway.backend": tool.config.backend,
                "legacy_gateway.effect": tool.config.effect,
            },
        )
        call.trace_id = span.trace_id
        generation.active += 1
        began = time.perf_counter()
        try:
            answer = await self.experiments.run(call, self.pipeline.run)
        except GatewayError as exc:
            span.end(exc.code, exc.message)
            self.metrics.call(name, exc.code, time.perf_counter() - began)
            raise
        except BaseException as exc:
            span.end("internal_error", type(exc).__name__)
            self.metrics.call(name, "internal_error", time.perf_counter() - began)
            raise
        finally:
            generation.active -= 1
        self.metrics.call(name, answer.status, time.perf_counter() - began)
        if answer.replayed:
            span.span.set_attribute("legacy_gateway.replayed", True)
        span.end()
        return answer

    # ------------------------------------------------------------------ approvals

    def approvals(self, caller: Principal) -> list[dict[str, Any]]:
        return self.approval_desk.pending(caller)

    async def decide(
        self, approval_id: str, approve: bool, approver: Principal, comment: str | None = None
    ) -> dict[str, Any]:
        """A person's decision on a parked write; an approval runs it as previewed."""
        return await self.approval_desk.decide(approval_id, approve, approver, comment)

    # ------------------------------------------------------------------ records

    def feedback(
        self, call_id: str, feedback: dict[str, Any], caller: Principal | None = None
    ) -> StoredRecord:
        """A judgement of a call, on a record of its own; see ``call_records.add_feedback``."""
        return add_feedback(self.store, call_id, feedback, caller, self.config.version)

    def call_record(self, call_id: str, caller: Principal | None = None) -> dict[str, Any]:
        return call_view(call_id, readable_records(self.store, call_id, caller))

    def visible_tools(self, caller: Principal, context: dict[str, Any] | None = None) -> list[Tool]:
        """The tools ``caller`` may call, each as the variant its calls get: the listing
        names the session (``context.session_id``) its calls will send, so that a tool
        sticky per session is listed as the variant that session's calls run."""
        tools, version = self.tools.values(), self.config.version
        return [
            self.experiments.variant_for(tool, caller.name, context, version)
            for tool in tools
            if caller.may_call(tool.name, tool.config.tags)
        ]

    def visible_tool(
        self, name: str, caller: Principal, context: dict[str, Any] | None = None
    ) -> Tool:
        """One tool as ``caller`` (in that session) sees it, if it may call it."""
        tool = self.tool(name)
        caller.require_tool(name, tool.config.tags)
        return self.experiments.variant_for(tool, caller.name, context, self.config.version)

    async def readiness(self) -> dict[str, Health]:
        names = list(self.registry.adapters)
        checks = await asyncio.gather(*(self.registry.adapters[n].check() for n in names))
        return dict(zip(names, checks, strict=True))
