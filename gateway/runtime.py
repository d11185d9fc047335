"""The gateway at run time: one path for every call, whoever makes it (REST, CLI, MCP).

A call goes: find the tool, map the arguments (422 on bad ones), write the intent record
(no record, no call), call the adapter under the backend's concurrency cap (each interaction
recorded by the adapter), map the answer, write the outcome record.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from adapters.base import Adapter, CallContext, Health, Interaction, Page, Submitted
from gateway.answers import CallResult, receipt_of
from gateway.audit.log import AuditLog
from gateway.audit.records import RecordContext, StoredRecord
from gateway.audit.store import AuditStore
from gateway.audit.views import call_view
from gateway.completions import Completions, deadline_of
from gateway.config.loader import LoadedConfig, config_files, load_config
from gateway.errors import (
    ApprovalDecided,
    ApprovalExpired,
    ApprovalNotFound,
    BackendUnavailable,
    CallInterrupted,
    CallNotFound,
    ConfigError,
    Forbidden,
    GatewayError,
    InvalidArguments,
    ToolNotFound,
)
from gateway.faults import crash_point
from gateway.mapping.coercion import coerced_fields
from gateway.mapping.limits import recordable, wide_integers
from gateway.metrics import Metrics
from gateway.policy.approvals import Approval, new_approval_id, preview_hash
from gateway.policy.auth import Authenticator, JwtVerifier, Mode, Principal
from gateway.policy.budget import within_budget
from gateway.policy.idempotency import check_key
from gateway.policy.protection import CircuitBreaker, RateLimiter, with_retries
from gateway.policy.rechecks import refusal
from gateway.recovery import Recovery
from gateway.registry import Registry, Tool, build_registry
from gateway.replay import KeyedCalls
from gateway.suggest import did_you_mean
from gateway.trace import CallSpan, start_call
from gateway.trace import shutdown as flush_spans

log = logging.getLogger("legacy_gateway")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


def trace_ids(traceparent: str | None) -> tuple[str, str | None]:
    """(trace id, parent span id) from a W3C traceparent, or a fresh trace id."""
    if traceparent:
        match = _TRACEPARENT.match(traceparent.strip().lower())
        if match and match.group(1) != "0" * 32:
            return match.group(1), match.group(2)
    return secrets.token_hex(16), None


@dataclass
class Generation:
    """One loaded config with its open adapters; calls finish on the one they started on."""

    registry: Registry
    limits: dict[str, asyncio.Semaphore]
    breakers: dict[str, CircuitBreaker]
    rate_limits: dict[str, RateLimiter]
    active: int = 0

    @classmethod
    def of(cls, registry: Registry) -> Generation:
        backends = registry.config.backends.items()
        return cls(
            registry,
            {name: asyncio.Semaphore(backend.max_concurrency) for name, backend in backends},
            {
                name: CircuitBreaker(name, backend.circuit_breaker)
                for name, backend in backends
                if backend.circuit_breaker is not None
            },
            {
                name: RateLimiter(name, backend.rate_limit)
                for name, backend in backends
                if backend.rate_limit is not None
            },
        )


class Gateway:
    def __init__(
        self,
        registry: Registry,
        store: AuditStore,
        audit_log: AuditLog | None = None,
        auth: Mode = "open",
        recovery: Recovery | None = None,
    ) -> None:
        self.store = store
        # A serving process's lease: what it leaves in flight if it dies is found and marked.
        self.recovery = recovery
        self.keyed = KeyedCalls(store, recovery.instance_id if recovery else None)
        self._sweeper: asyncio.Task[None] | None = None
        # Who may call: API keys (a serving gateway) or anyone (the demo, the CLI).
        self.auth = Authenticator(
            auth, store, JwtVerifier.from_environment() if auth == "keys" else None
        )
        # The Merkle tree and signed checkpoints over the store; absent for one-shot CLI
        # calls, whose records the next serving process integrates.
        self.audit_log = audit_log
        self._current = Generation.of(registry)
        self._watcher: asyncio.Task[None] | None = None
        self.metrics = Metrics()
        self._retiring: set[asyncio.Task[None]] = set()
        # Replies and deadlines of submitted calls (queue tools that answer 202 pending).
        self.completions = Completions(
            store, lambda: self.tools, self._result, lambda: self.registry.adapters, self.metrics
        )

    @property
    def registry(self) -> Registry:
        return self._current.registry

    @property
    def config(self) -> LoadedConfig:
        return self._current.registry.config

    @property
    def tools(self) -> dict[str, Tool]:
        return self._current.registry.tools

    @classmethod
    def from_directory(
        cls,
        path: Path | str,
        store: AuditStore,
        audit_log: AuditLog | None = None,
        auth: Mode = "open",
        recovery: Recovery | None = None,
    ) -> Gateway:
        return cls(build_registry(load_config(path)), store, audit_log, auth, recovery)

    async def start(
        self, watch_config_s: float | None = None, backends: Collection[str] | None = None
    ) -> None:
        """Open the adapters and record the config; with ``watch_config_s``, also reload the
        config directory whenever its files change (checked at that interval). ``backends``
        opens only those (a one-shot call needs its tool's backend alone)."""
        await self._open(self.registry, backends)
        # One record per configuration change, not per start (every CLI call starts one).
        recorded = self.store.records_of_kind("config.loaded")
        previous = str(recorded[-1].body.get("config_version")) if recorded else None
        if previous != self.config.version:
            self._record_config(self.config, previous)
        if self.recovery is not None:
            self.recovery.config_version = lambda: self.config.version
            await asyncio.to_thread(self.recovery.begin)
            self._sweeper = asyncio.create_task(self.recovery.run())
        if self.audit_log is not None:
            self.audit_log.start()
        self.completions.start()
        if watch_config_s:
            self._watcher = asyncio.create_task(self._watch(watch_config_s))

    async def _open(self, registry: Registry, backends: Collection[str] | None = None) -> None:
        opened: list[Adapter[Any]] = []
        try:
            for backend, adapter in registry.adapters.items():
                if backends is not None and backend not in backends:
                    continue
                adapter.record_late = self.completions.record_late
                adapter.complete = self.completions.complete
                await adapter.open()
                opened.append(adapter)
        except BaseException:
            for adapter in opened:
                await adapter.close()
            raise

    def _record_config(self, config: LoadedConfig, previous: str | None) -> None:
        self.store.append(
            "config.loaded",
            None,
            {
                "config_version": config.version,
                "previous_version": previous,
                "directory": str(config.directory),
                "files": config.files,
                "tools": sorted(config.tools),
                "backends": sorted(config.backends),
                "content": config.canonical,
            },
            RecordContext(config_version=config.version),
        )

    # ------------------------------------------------------------------ reloading

    async def reload(self) -> str | None:
        """Load the config directory again and serve it if it is valid and changed.

        Returns the new version, or None when nothing changed. An invalid config never
        replaces the running one: the refusal is recorded and the ``ConfigError`` raised.
        """
        running = self.config
        running_adapters = self._current.registry.adapters
        try:
            config = await asyncio.to_thread(load_config, running.directory)
            if config.version == running.version:
                return None
            registry = await asyncio.to_thread(build_registry, config)
        except ConfigError as exc:
            self.store.append(
                "config.refused",
                None,
                {
                    "directory": str(running.directory),
                    "running_version": running.version,
                    "issues": [issue.__dict__ for issue in exc.issues],
                },
                RecordContext(config_version=running.version),
            )
            raise
        for backend, adapter in registry.adapters.items():
            previous = running_adapters.get(backend)
            if previous is not None:
                adapter.replaces(previous)
        await self._open(registry)
        retired, self._current = self._current, Generation.of(registry)
        self._record_config(config, running.version)
        task = asyncio.create_task(self._retire(retired))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        log.warning("config reloaded: %s (was %s)", config.version[:19], running.version[:19])
        return config.version

    async def _retire(self, generation: Generation, grace_s: float = 300.0) -> None:
        """Close a replaced config's adapters once its calls in flight have finished."""
        deadline = time.monotonic() + grace_s
        while generation.active and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for adapter in generation.registry.adapters.values():
            try:
                await adapter.close()
            except Exception:
                log.exception("closing an adapter of the replaced config failed")

    async def _watch(self, interval_s: float) -> None:
        seen = _files_state(self.config.directory)
        refused: tuple[tuple[str, float, int], ...] | None = None
        while True:
            await asyncio.sleep(interval_s)
            state = _files_state(self.config.directory)
            if state in (seen, refused):
                continue
            try:
                await self.reload()
                seen, refused = state, None
            except ConfigError as exc:
                refused = state  # recorded once; tried again when the files change again
                log.error("config change refused, still serving %s: %s",
                          self.config.version[:19], exc.message)  # fmt: skip
            except Exception:
                log.exception("config reload failed; still serving the running config")
                refused = state

    async def stop(self) -> None:
        for task in (self._watcher, self._sweeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.recovery is not None:
            with contextlib.suppress(GatewayError):
                self.recovery.end()
        for task in list(self._retiring):
            task.cancel()
        await self.completions.stop()
        for adapter in self.registry.adapters.values():
            await adapter.close()
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
        generation = self._current
        tool = self.tool(name)
        if caller is not None:
            try:
                caller.require_tool(name, tool.config.tags)
            except Forbidden as exc:
                # An agent reaching for a tool outside its scopes is worth an auditor's eye.
                exc.call_id = str(uuid.uuid4())
                self.store.append(
                    "call.forbidden",
                    exc.call_id,
                    {"tool": name, "principal": caller.name, "scopes": list(caller.scopes),
                     "error": exc.to_dict()},
                    RecordContext(principal=caller.name, config_version=self.config.version),
                )  # fmt: skip
                raise
            principal = caller.name
        if idempotency_key is not None:
            check_key(idempotency_key)
        # An approved call keeps the id it was previewed under: one call, one record.
        call_id = approval.call_id if approval is not None else str(uuid.uuid4())
        trace_id, parent_span = trace_ids(traceparent)
        span = start_call(
            name,
            call_id,
            trace_id,
            parent_span,
            {
                "legacy_gateway.backend": tool.config.backend,
                "legacy_gateway.effect": tool.config.effect,
            },
        )
        generation.active += 1
        began = time.perf_counter()
        try:
            answer = await self._call(
                generation, tool, call_id, span, parent_span, arguments, context, principal,
                dry_run, cursor, idempotency_key, approval, caller,
            )  # fmt: skip
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

    async def _call(
        self,
        generation: Generation,
        tool: Tool,
        call_id: str,
        span: CallSpan,
        parent_span: str | None,
        arguments: dict[str, Any],
        context: dict[str, Any] | None,
        principal: str,
        dry_run: bool,
        cursor: str | None,
        idempotency_key: str | None,
        approval: Approval | None = None,
        caller: Principal | None = None,
    ) -> CallResult:
        name, trace_id = tool.name, span.trace_id
        config = generation.registry.config
        record = RecordContext(trace_id, span.span_id, principal, config.version)
        started = time.perf_counter()
        intent = {
            "tool": name,
            "tool_version": tool.version,
            "backend": tool.config.backend,
            "operation": tool.config.operation,
            "effect": tool.config.effect,
            "arguments": tool.input.redact(recordable(arguments)),
            "context": context or {},
            "principal": principal,
            "config_version": config.version,
            "trace_id": trace_id,
            "parent_span_id": parent_span,
            "dry_run": dry_run,
            "cursor": cursor,
        }
        if idempotency_key is not None:
            intent["idempotency_key"] = idempotency_key
        if self.recovery is not None:
            intent["instance"] = self.recovery.instance_id
        params = self._mapped(tool, arguments, context, intent, call_id, record)
        parked = self._start(
            tool, call_id, record, intent, arguments, params, dry_run, idempotency_key,
            approval, caller,
        )  # fmt: skip
        if parked is not None:
            return parked
        crash_point("after_intent")
        # Interactions are written with the outcome, in one commit: the intent is already
        # durable, so a crash in between leaves a call on the record without an outcome.
        interactions: list[Interaction] = []
        on_record = self._recorder(tool, span, interactions)

        try:
            if dry_run:
                result: Any = {"request": tool.adapter.render(tool.prepared, params)}
            else:
                answer = await self._invoke(
                    generation, tool, params, call_id, trace_id, on_record, cursor,
                    idempotency_key, principal,
                )  # fmt: skip
                if isinstance(answer, Submitted):
                    return self._submitted(call_id, record, started, interactions, answer)
                crash_point("before_outcome")
                result = self._result(tool, answer)
        except GatewayError as exc:
            exc.call_id = call_id
            self._finish(
                call_id, record, started, interactions, {"status": "error", "error": exc.to_dict()}
            )
            raise
        except Exception as exc:
            error = GatewayError(f"internal error: {type(exc).__name__}: {exc}")
            error.call_id = call_id
            self._finish(
                call_id,
                record,
                started,
                interactions,
                {"status": "error", "error": error.to_dict()},
            )
            raise error from exc
        except asyncio.CancelledError:
            # A stop whose drain grace ran out: the call still ends on the record.
            self._finish(call_id, record, started, interactions, _interrupted(call_id))
            raise
        outcome = self._finish(
            call_id,
            record,
            started,
            interactions,
            {"status": "ok", "result": tool.output.redact(result)},
        )
        crash_point("after_outcome")
        return CallResult(call_id, trace_id, "ok", result, receipt_of(outcome))

    def _start(
        self,
        tool: Tool,
        call_id: str,
        record: RecordContext,
        intent: dict[str, Any],
        arguments: dict[str, Any],
        params: Any,
        dry_run: bool,
        idempotency_key: str | None,
        approval: Approval | None,
        caller: Principal | None,
    ) -> CallResult | None:
        """Claim the key and write the intent; or the answer that ends the call here (a
        repeat of the key, or an approval to wait for)."""
        name, principal = tool.name, str(record.principal)
        needs_approval = tool.config.approval == "required" and not dry_run
        if needs_approval and approval is not None:
            intent["approval"] = {
                "approval_id": approval.approval_id,
                "approved_by": approval.decided_by,
                "approved_at": approval.decided_at,
            }
        # The key is claimed before anything of the call is written, approval requests too;
        # an approved call runs under the key its request claimed.
        claimed = idempotency_key is not None and not dry_run and approval is None
        if claimed:
            assert idempotency_key is not None
            replayed = self.keyed.claim(
                principal, idempotency_key, call_id, name, arguments, intent, record
            )
            if replayed is not None:
                return replayed
            crash_point("after_claim")
        try:
            if needs_approval and approval is None:
                return self._request_approval(
                    tool, call_id, record, intent, arguments, params, caller, idempotency_key
                )
            self.store.append("call.intent", call_id, intent, record)
        except BaseException:
            if claimed:
                assert idempotency_key is not None
                self.store.release_key(principal, idempotency_key, call_id)
            raise
        return None

    def _mapped(
        self,
        tool: Tool,
        arguments: dict[str, Any],
        context: dict[str, Any] | None,
        intent: dict[str, Any],
        call_id: str,
        record: RecordContext,
    ) -> Any:
        """The legacy parameters of ``arguments``, or the refusal, on the record."""
        try:
            wide = wide_integers(arguments, "") + wide_integers(context or {}, "context")
            if wide:
                raise InvalidArguments(wide)
            params = tool.input(arguments)
        except GatewayError as exc:
            # A refused call is on the record too: what the agent tried, and why not.
            exc.call_id = call_id
            rejected = {**recordable(intent), "error": exc.to_dict()}
            self.store.append("call.rejected", call_id, rejected, record)
            raise
        coerced = coerced_fields(arguments, tool.input.specs)
        if coerced:
            intent["coerced"] = coerced
        return params

    async def _invoke(
        self,
        generation: Generation,
        tool: Tool,
        params: dict[str, Any],
        call_id: str,
        trace_id: str,
        record: Callable[[Interaction], None],
        cursor: str | None = None,
        idempotency_key: str | None = None,
        principal: str = "anonymous",
    ) -> Any:
        backend = tool.config.backend
        backends = generation.registry.config.backends
        timeout = tool.config.timeout_s or backends[backend].timeout_s
        ctx = CallContext(
            call_id,
            trace_id,
            tool.name,
            timeout,
            record,
            cursor=cursor,
            idempotency_key=idempotency_key,
        )
        rate_limit = generation.rate_limits.get(backend)
        if rate_limit is not None:
            rate_limit.admit(principal)
        breaker = generation.breakers.get(backend)
        if breaker is not None:
            breaker.admit()
        limit = generation.limits[backend]
        try:
            if limit.locked():
                # Bounded wait: a queue behind a stuck legacy host must not grow forever.
                await asyncio.wait_for(limit.acquire(), timeout)
            else:
                await limit.acquire()
        except TimeoutError:
            raise BackendUnavailable(
                f"backend {backend} is at its concurrency limit "
                f"({backends[backend].max_concurrency}); try again shortly"
            ) from None

        async def attempt(number: int) -> Any:
            ctx.attempt = number  # each attempt is an interaction of its own on the record
            return await tool.adapter.call(tool.prepared, params, ctx)

        try:
            answer = await with_retries(
                backends[backend].retries, tool.config.is_idempotent, attempt
            )
        except BaseException as exc:
            if breaker is not None:
                breaker.failed(exc)
            raise
        finally:
            limit.release()
        if breaker is not None:
            breaker.succeeded()
        return answer

    def _recorder(
        self, tool: Tool, span: CallSpan, interactions: list[Interaction]
    ) -> Callable[[Interaction], None]:
        """Where an adapter puts each interaction: the call's record, its span, the metrics."""

        def on_record(interaction: Interaction) -> None:
            interactions.append(interaction)
            span.interaction(tool.adapter, interaction)
            error = (interaction.error or {}).get("code")
            self.metrics.interaction(
                interaction.backend, interaction.adapter, error, interaction.duration_ms / 1000
            )

        return on_record

    # ------------------------------------------------------------------ approvals

    def _request_approval(
        self,
        tool: Tool,
        call_id: str,
        record: RecordContext,
        intent: dict[str, Any],
        arguments: dict[str, Any],
        params: Any,
        caller: Principal | None,
        idempotency_key: str | None,
    ) -> CallResult:
        """Park a write that needs a person's approval; answer with its exact preview."""
        preview = tool.adapter.render(tool.prepared, params)
        now = dt.datetime.now(dt.UTC)
        approval = Approval(
            approval_id=new_approval_id(),
            call_id=call_id,
            tool=tool.name,
            tool_version=tool.version,
            principal=str(record.principal),
            trace_id=str(record.trace_id),
            span_id=record.span_id,
            arguments=arguments,
            context=intent["context"],
            preview=preview,
            preview_hash=preview_hash(preview),
            requested_at=now.isoformat(),
            expires_at=(now + dt.timedelta(seconds=tool.config.approval_ttl_s)).isoformat(),
            key_id=caller.key_id if caller is not None else None,
            scopes=list(caller.scopes) if caller is not None and not caller.everything else None,
            idempotency_key=idempotency_key,
        )
        self.store.add_approval(approval)
        body = {**intent, "approval_id": approval.approval_id, "preview": preview,
                "expires_at": approval.expires_at}  # fmt: skip
        stored = self.store.append("approval.requested", call_id, body, record)
        result = {
            "approval_id": approval.approval_id,
            "preview": preview,
            "expires_at": approval.expires_at,
            "decide": f"/v1/approvals/{approval.approval_id}",
        }
        return CallResult(
            call_id, str(record.trace_id), "awaiting_approval", result, receipt_of(stored)
        )

    def approvals(self, caller: Principal) -> list[dict[str, Any]]:
        caller.require("approve", "see approvals")
        now = dt.datetime.now(dt.UTC)
        return [a.listing() for a in self.store.pending_approvals() if not a.expired(now)]

    async def decide(
        self, approval_id: str, approve: bool, approver: Principal, comment: str | None = None
    ) -> dict[str, Any]:
        """A person's decision on a parked write; an approval runs it as previewed."""
        approver.require("approve", "decide approvals")
        approval = self.store.get_approval(approval_id)
        if approval is None:
            raise ApprovalNotFound(f"no approval with id '{approval_id}'")
        if not any(r.kind == "approval.requested" for r in self.store.records_of(approval.call_id)):
            # The gateway stopped between keeping the arguments and recording the request:
            # no audit, no action (its key was released as never started).
            raise ApprovalNotFound(f"approval '{approval_id}' was never put on the record")
        if approval.status != "pending":
            raise ApprovalDecided(
                f"approval {approval_id} was already {approval.status} by "
                f"{approval.decided_by} at {approval.decided_at}"
            )
        now = dt.datetime.now(dt.UTC)
        context = RecordContext(
            approval.trace_id, approval.span_id, approver.name, self.config.version
        )
        if approval.expired(now):
            expired = approval.decided("expired", "gateway", now.isoformat(), None)
            if self.store.settle_approval(expired):
                self.store.append(
                    "approval.expired", approval.call_id,
                    {"approval_id": approval_id, "expires_at": approval.expires_at}, context,
                )  # fmt: skip
            raise ApprovalExpired(f"approval {approval_id} expired at {approval.expires_at}")
        if approver.owns(approval.principal):
            raise Forbidden(f"'{approver.name}' asked for this call and cannot approve it too")
        decision = approval.decided(
            "approved" if approve else "rejected", approver.name, now.isoformat(), comment
        )
        problem = None
        if approve:
            requester = self.store.find_key(approval.key_id) if approval.key_id else None
            problem = refusal(approval, self.tools.get(approval.tool), requester)
        if problem is not None:
            decision = approval.decided("refused", approver.name, now.isoformat(), comment)
        if not self.store.settle_approval(decision):
            raise ApprovalDecided(f"approval {approval_id} was decided by someone else meanwhile")
        if problem is not None:
            problem.call_id = approval.call_id
            self.store.append(
                "approval.refused", approval.call_id,
                {"approval_id": approval_id, "by": approver.name, "comment": comment,
                 "error": problem.to_dict()},
                context,
            )  # fmt: skip
            raise problem
        body = {"approval_id": approval_id, "decision": decision.status, "by": approver.name,
                "comment": comment}  # fmt: skip
        if self.recovery is not None:
            body["instance"] = self.recovery.instance_id
        self.store.append("approval.decided", approval.call_id, body, context)
        crash_point("after_approval")
        if not approve:
            return {"approval_id": approval_id, "call_id": approval.call_id, "status": "rejected"}
        grant = replace(decision, arguments=approval.arguments)
        parent = f"00-{approval.trace_id}-{approval.span_id}-01" if approval.span_id else None
        result = await self.call(
            approval.tool,
            dict(approval.arguments or {}),
            approval.context,
            principal=approval.principal,
            traceparent=parent,
            idempotency_key=approval.idempotency_key,
            approval=grant,
        )
        return {**result.as_dict(), "approval_id": approval_id}

    def _submitted(
        self,
        call_id: str,
        record: RecordContext,
        started: float,
        interactions: list[Interaction],
        submitted: Submitted,
    ) -> CallResult:
        """A submit handed over: the call stays open until its reply completes it."""
        result = {"poll": f"/v1/calls/{call_id}", **submitted.detail}
        body = {
            "status": "pending",
            "result": result,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            **deadline_of(submitted),
        }
        records: list[tuple[str, str | None, dict[str, Any]]] = [
            ("interaction", call_id, interaction.as_record()) for interaction in interactions
        ]
        records.append(("call.submitted", call_id, body))
        stored = self.store.append_many(records, record)[-1]
        return CallResult(call_id, str(record.trace_id), "pending", result, receipt_of(stored))

    @staticmethod
    def _result(tool: Tool, answer: Any) -> Any:
        """The mapped answer; a page of a larger one says how to ask for the next."""
        if not isinstance(answer, Page):
            return within_budget(tool.output(answer), tool.config.max_rows, tool.config.max_bytes)
        result = tool.output(answer.records)
        if not isinstance(result, dict):
            result = {"items": result}
        result["truncated"] = answer.next_cursor is not None
        result["next_cursor"] = answer.next_cursor
        if answer.next_cursor is not None:
            result["notice"] = (
                f"{answer.reason}; call again with the same arguments and "
                '"cursor": next_cursor for the next page'
            )
        return result

    def _finish(
        self,
        call_id: str,
        record: RecordContext,
        started: float,
        interactions: list[Interaction],
        outcome: dict[str, Any],
    ) -> StoredRecord:
        outcome["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        records: list[tuple[str, str | None, dict[str, Any]]] = [
            ("interaction", call_id, interaction.as_record()) for interaction in interactions
        ]
        records.append(("call.outcome", call_id, outcome))
        return self.store.append_many(records, record)[-1]

    def feedback(
        self, call_id: str, feedback: dict[str, Any], caller: Principal | None = None
    ) -> StoredRecord:
        """A judgement of a call, linked to it by a record of its own. Its principal is the
        authenticated caller, never a name from the body: an ``author`` the caller gives is
        kept as ``claimed_author``, unverified."""
        records = self.store.records_of(call_id)
        if not records or (caller is not None and not _may_read(caller, records)):
            raise CallNotFound(f"no call with id '{call_id}'")
        principal = caller.name if caller is not None else "cli"
        body = {key: value for key, value in feedback.items() if key != "author"}
        if feedback.get("author") is not None:
            body["claimed_author"] = feedback["author"]
        body["principal"] = principal
        context = RecordContext(records[0].context.trace_id, None, principal, self.config.version)
        return self.store.append("call.feedback", call_id, body, context)

    def call_record(self, call_id: str, caller: Principal | None = None) -> dict[str, Any]:
        records = self.store.records_of(call_id)
        if not records or (caller is not None and not _may_read(caller, records)):
            # Another agent's call is as invisible as one that does not exist.
            raise CallNotFound(f"no call with id '{call_id}'")
        return call_view(call_id, records)

    def visible_tools(self, caller: Principal) -> list[Tool]:
        tools = self.tools.values()
        return [tool for tool in tools if caller.may_call(tool.name, tool.config.tags)]

    async def readiness(self) -> dict[str, Health]:
        names = list(self.registry.adapters)
        checks = await asyncio.gather(*(self.registry.adapters[n].check() for n in names))
        return dict(zip(names, checks, strict=True))


def _interrupted(call_id: str) -> dict[str, Any]:
    error = CallInterrupted(
        "the gateway stopped before this call ended; the legacy system may have acted"
    )
    error.call_id = call_id
    return {"status": "error", "error": error.to_dict()}


def _files_state(directory: Path) -> tuple[tuple[str, float, int], ...]:
    """The config files with their times and sizes: cheap to compare every few seconds."""
    try:
        return tuple(
            (str(path), path.stat().st_mtime, path.stat().st_size)
            for path in config_files(directory)
        )
    except OSError:
        return ()


def _may_read(caller: Principal, records: list[StoredRecord]) -> bool:
    """A call's record is its caller's, and auditors' (the ``audit`` scope)."""
    return caller.has("audit") or caller.owns(records[0].context.principal)
