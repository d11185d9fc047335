"""A stand-in for ``gateway.runtime.Gateway`` with what the HTTP layer asks of it, and the
real app in front of it: routes, error handlers, authentication and size caps, with no
store, broker or backend behind them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient

from adapters.base import Health
from gateway.answers import CallResult
from gateway.api.app import create_app
from gateway.errors import CallNotFound, ToolNotFound
from gateway.metrics import Metrics
from gateway.policy.auth import Authenticator, Mode, NewKey, Principal, StoredKey, new_key

CONFIG_VERSION = "sha256:abc123"


@dataclass
class FakeTool:
    """The parts of ``gateway.tools.Tool`` that listing and calling read."""

    name: str
    tags: tuple[str, ...] = ()
    effect: str = "read"
    pages: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        self.description = self.description or f"The {self.name} tool."
        self.config = SimpleNamespace(
            tags=self.tags, effect=self.effect, description=self.description
        )
        self.adapter = SimpleNamespace(pages=self.pages)

    @property
    def listing(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "tags": list(self.tags)}

    def openai(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": self.name}}

    def matches(self, tag: str | None, words: list[str]) -> bool:
        if tag is not None and tag not in self.tags:
            return False
        return all(word in self.name for word in words)


class KeyTable:
    def __init__(self) -> None:
        self.keys: dict[str, StoredKey] = {}

    def add(self, agent: str, *scopes: str) -> str:
        created: NewKey = new_key(agent, list(scopes), "2026-01-01T00:00:00Z")
        self.keys[created.stored.key_id] = created.stored
        return created.key

    def find_key(self, key_id: str) -> StoredKey | None:
        return self.keys.get(key_id)


class FakeStore:
    def __init__(self) -> None:
        self.failure: Exception | None = None

    def count(self) -> int:
        if self.failure is not None:
            raise self.failure
        return 7

    def latest_checkpoint(self) -> Any:
        return SimpleNamespace(size=7)

    # The console follows the log from its end: this store's records are all behind it.
    def first_index(self) -> int:
        return 7

    def read(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        return []

    read_new = read


@dataclass
class FakeGateway:
    """Answers calls with ``answer`` (or raises ``error``) and notes what it was asked."""

    tools: dict[str, FakeTool]
    mode: Mode = "open"
    answer_status: str = "ok"
    error: Exception | None = None
    health: dict[str, Health] = field(default_factory=dict)
    audit_log: Any = None
    recovery: Any = None  # no lease: its console posts alerts itself
    keys: KeyTable = field(default_factory=KeyTable)
    store: FakeStore = field(default_factory=FakeStore)
    calls: list[dict[str, Any]] = field(default_factory=list)
    feedbacks: list[tuple[str, dict[str, Any], Principal]] = field(default_factory=list)
    decisions: list[tuple[str, bool, Principal, str | None]] = field(default_factory=list)
    started: bool = False

    def __post_init__(self) -> None:
        self.auth = Authenticator(self.mode, self.keys)
        self.config = SimpleNamespace(version=CONFIG_VERSION)
        self.metrics = Metrics()

    async def start(self, watch_config_s: float | None = None) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    def tool(self, name: str) -> FakeTool:
        if name not in self.tools:
            raise ToolNotFound(f"no tool named '{name}'")
        return self.tools[name]

    def visible_tools(
        self, caller: Principal, context: dict[str, Any] | None = None
    ) -> list[FakeTool]:
        return [t for t in self.tools.values() if caller.may_call(t.name, t.tags)]

    def visible_tool(
        self, name: str, caller: Principal, context: dict[str, Any] | None = None
    ) -> FakeTool:
        tool = self.tool(name)
        caller.require_tool(name, tool.tags)
        return tool

    async def call(
        self, name: str, arguments: dict[str, Any], context: Any = None, **kw: Any
    ) -> CallResult:
        self.calls.append({"name": name, "arguments": arguments, "context": context, **kw})
        caller: Principal | None = kw.get("caller")
        if caller is not None:
            caller.require_tool(name, self.tool(name).tags)
        if self.error is not None:
            raise self.error
        receipt = {"record": 3, "at": "2026-01-01T00:00:01Z", "proof": "/v1/audit/proof/c-1"}
        return CallResult("c-1", "t-1", self.answer_status, {"echo": arguments}, receipt)

    def call_record(self, call_id: str, caller: Principal | None = None) -> dict[str, Any]:
        if call_id != "c-1":
            raise CallNotFound(f"no call with id '{call_id}'")
        return {"call_id": call_id, "principal": caller.name if caller else None}

    def feedback(self, call_id: str, body: dict[str, Any], caller: Principal) -> Any:
        self.call_record(call_id, caller)
        self.feedbacks.append((call_id, body, caller))
        return SimpleNamespace(index=9, at="2026-01-01T00:00:02Z")

    def approvals(self, caller: Principal) -> list[dict[str, Any]]:
        caller.require("approve", "see approvals")
        return [{"approval_id": "a-1", "tool": "post_payment"}]

    async def decide(
        self, approval_id: str, approve: bool, caller: Principal, comment: str | None
    ) -> dict[str, Any]:
        self.decisions.append((approval_id, approve, caller, comment))
        return {"approval_id": approval_id, "status": "ok" if approve else "rejected"}

    async def readiness(self) -> dict[str, Health]:
        return self.health


def demo_tools() -> dict[str, FakeTool]:
    tools = [
        FakeTool("get_customer", ("crm",)),
        FakeTool("list_postings", ("ledger",), pages=True),
        FakeTool("post_payment", ("ledger", "billing"), effect="write"),
    ]
    return {tool.name: tool for tool in tools}


@contextmanager
def serve(gateway: FakeGateway, *, raise_server_exceptions: bool = True) -> Iterator[TestClient]:
    """The real app (FastAPI behind the fast call path) serving ``gateway``. Without
    ``raise_server_exceptions`` a test sees the 500 a client would, not the exception."""
    app = create_app(lambda: gateway)  # type: ignore[arg-type,return-value]
    with TestClient(app, raise_server_exceptions=raise_server_exceptions) as client:
        yield client


def error_of(response: Any) -> dict[str, Any]:
    """The error object of an answer in the one error shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "retryable", "call_id", "details"}
    error: dict[str, Any] = body["error"]
    return error
