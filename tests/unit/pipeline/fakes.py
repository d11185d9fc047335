"""In-memory stand-ins for what the pipeline stages need: a record store and a backend.

The tools are real (built from a small HTTP config by the registry); only their adapter is
replaced by ``FakeAdapter``, so the stages run without a database, a broker or a network.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adapters.base import CallContext, Interaction
from adapters.installed import INSTALLED
from gateway.audit.records import RecordContext, StoredRecord
from gateway.audit.store import Already, any_record
from gateway.config.loader import load_config
from gateway.mapping.redaction import Commitments
from gateway.metrics import Metrics
from gateway.pipeline.call import Call
from gateway.pipeline.protection import Generation
from gateway.pipeline.store import Entry
from gateway.policy.approvals import Approval
from gateway.tools import Registry, Tool, build_registry

CONFIG = """\
backends:
  host:
    adapter: http
    description: A legacy host.
    base_url: http://127.0.0.1:9/
    timeout_s: 7
    max_concurrency: {max_concurrency}
tools:
  lookup:
    description: Looks a customer up.
    backend: host
    operation: GET /customers/{{ID}}
    input:
      customer_id: {{to: ID, pattern: "^[0-9]+$"}}
    output:
      fields:
        name: {{from: NAME}}
  search:
    description: Lists customers by name.
    backend: host
    max_rows: 2
    operation: GET /customers
    output:
      list: true
      fields:
        name: {{from: NAME}}
  update:
    description: Changes a customer's name.
    backend: host
    effect: write
    approval: required
    operation: POST /customers/{{ID}}
    input:
      customer_id: {{to: ID, pattern: "^[0-9]+$"}}
      name: {{to: NAME}}
    output:
      fields:
        name: {{from: NAME}}
"""


class MemoryStore:
    """The ``CallStore`` protocol over lists and dicts."""

    def __init__(self) -> None:
        self.records: list[StoredRecord] = []
        self.keys: dict[tuple[str, str], tuple[str, str]] = {}
        self.approvals: list[Approval] = []
        self.released: list[tuple[str, str, str]] = []

    def append(
        self,
        kind: str,
        call_id: str | None,
        body: dict[str, Any],
        context: RecordContext | None = None,
    ) -> StoredRecord:
        return self.append_many([(kind, call_id, body)], context)[-1]

    def append_many(
        self, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord]:
        written = [
            StoredRecord(
                index=len(self.records) + n,
                at="2026-01-01T00:00:00+00:00",
                kind=kind,
                call_id=call_id,
                body=body,
                context=context or RecordContext(),
            )
            for n, (kind, call_id, body) in enumerate(entries)
        ]
        self.records.extend(written)
        return written

    def append_unless(
        self,
        call_id: str,
        kind: str,
        entries: list[Entry],
        context: RecordContext | None = None,
        already: Already = any_record,
    ) -> list[StoredRecord] | None:
        mine = [r for r in self.records if r.call_id == call_id and r.kind == kind]
        return None if already(mine) else self.append_many(entries, context)

    async def commit_many(
        self, entries: list[Entry], context: RecordContext | None = None
    ) -> list[StoredRecord]:
        return self.append_many(entries, context)

    def records_of(self, call_id: str) -> list[StoredRecord]:
        return [record for record in self.records if record.call_id == call_id]

    def records_of_kind(self, *kinds: str) -> list[StoredRecord]:
        return [record for record in self.records if record.kind in kinds]

    def claim_key(
        self, scope: str, key: str, call_id: str, fingerprint: str, instance: str | None = None
    ) -> tuple[str, str] | None:
        held = self.keys.get((scope, key))
        if held is not None:
            return held
        self.keys[(scope, key)] = (call_id, fingerprint)
        return None

    def take_over_key(
        self, scope: str, key: str, old_call_id: str, new_call_id: str, instance: str | None
    ) -> bool:
        held = self.keys.get((scope, key))
        if held is None or held[0] != old_call_id:
            return False
        self.keys[(scope, key)] = (new_call_id, held[1])
        return True

    def release_key(self, scope: str, key: str, call_id: str) -> bool:
        self.released.append((scope, key, call_id))
        return self.keys.pop((scope, key), None) is not None

    def add_approval(self, approval: Approval) -> None:
        self.approvals.append(approval)

    def get_approval(self, approval_id: str) -> Approval | None:
        return next((a for a in self.approvals if a.approval_id == approval_id), None)

    def pending_approvals(self) -> list[Approval]:
        return [a for a in self.approvals if a.status == "pending"]

    def settle_approval(self, approval: Approval) -> bool:
        held = self.get_approval(approval.approval_id)
        if held is None or held.status != "pending":
            return False
        self.approvals[self.approvals.index(held)] = approval
        return True

    def find_key(self, key_id: str) -> None:
        return None

    def kinds(self) -> list[str]:
        return [record.kind for record in self.records]


@dataclass
class FakeAdapter:
    """Answers each call with ``answer`` (or raises it), recording one interaction."""

    answer: Any = field(default_factory=lambda: {"NAME": "Ada"})
    delay_s: float = 0.0
    calls: list[tuple[Any, CallContext]] = field(default_factory=list)
    name: str = "fake"

    async def call(self, prepared: Any, params: Any, ctx: CallContext) -> Any:
        self.calls.append((params, ctx))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        failure = self.answer if isinstance(self.answer, BaseException) else None
        ctx.record(
            Interaction(
                "fake", "host", ctx.tool, ctx.attempt, {"params": params},
                None if failure else {"answer": self.answer}, 1.5,
                {"code": "legacy_fault"} if failure else None,
            )
        )  # fmt: skip
        if failure is not None:
            raise failure
        return self.answer

    def render(self, prepared: Any, params: Any) -> dict[str, Any]:
        return {"would_send": params}


def registry(tmp_path: Path, max_concurrency: int = 4) -> Registry:
    (tmp_path / "gateway.yaml").write_text(CONFIG.format(max_concurrency=max_concurrency))
    return build_registry(load_config(tmp_path, INSTALLED), Commitments.throwaway())


def with_fake(tool: Tool, adapter: FakeAdapter) -> Tool:
    return replace(tool, adapter=adapter)  # type: ignore[arg-type]


def new_call(tool: Tool, generation: Generation, arguments: dict[str, Any], **fields: Any) -> Call:
    call = Call(tool, generation, fields.pop("call_id", "call-1"), arguments, **fields)
    call.trace_id = call.trace_id or "0" * 31 + "1"
    return call


def metrics() -> Metrics:
    return Metrics()


def synchronously(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Runs an async test on a loop of its own (fixtures are passed through)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run
