"""Parked writes decided: an approval runs the call under its grant, once."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from gateway.answers import CallResult
from gateway.approvals import Approvals
from gateway.errors import ApprovalDecided, ApprovalExpired, ApprovalStale, Forbidden
from gateway.policy.approvals import Approval, preview_hash
from gateway.policy.auth import Principal
from gateway.tools import Registry
from tests.unit.pipeline.fakes import MemoryStore, synchronously

BOSS = Principal("key:boss", ("approve",))
TELLER = Principal("key:teller", ("approve", "update"))


class Runs:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    async def __call__(
        self, name: str, arguments: dict[str, Any], context: Any = None, **options: Any
    ) -> CallResult:
        self.calls.append((name, arguments, options))
        return CallResult(options["approval"].call_id, "t" * 32, "ok", {"name": "Bo"}, {})


def parked(store: MemoryStore, built: Registry, expires_in_s: float = 600) -> Approval:
    now = dt.datetime.now(dt.UTC)
    tool = built.tools["update"]
    arguments = {"customer_id": "42", "name": "Bo"}
    preview = tool.adapter.render(tool.prepared, tool.input(arguments))
    approval = Approval(
        approval_id="ap-1", call_id="call-1", tool="update",
        tool_version=built.tools["update"].version, principal="key:teller", trace_id="a" * 32,
        span_id="b" * 16, arguments=arguments, context={},
        preview=preview, preview_hash=preview_hash(preview), requested_at=now.isoformat(),
        expires_at=(now + dt.timedelta(seconds=expires_in_s)).isoformat(),
        idempotency_key="k-1",
    )  # fmt: skip
    store.add_approval(approval)
    store.append("approval.requested", "call-1", {"approval_id": "ap-1"})
    return approval


def desk(store: MemoryStore, built: Registry, runs: Runs) -> Approvals:
    return Approvals(store, lambda: built.tools, lambda: "sha256:v1", runs, "host:1")


@synchronously
async def test_an_approval_is_recorded_then_runs_the_call_under_its_grant(
    built: Registry, store: MemoryStore
) -> None:
    runs = Runs()
    parked(store, built)
    answer = await desk(store, built, runs).decide("ap-1", True, BOSS, "fine")
    assert answer["approval_id"] == "ap-1" and answer["call_id"] == "call-1"
    [(name, arguments, options)] = runs.calls
    assert (name, arguments) == ("update", {"customer_id": "42", "name": "Bo"})
    assert options["principal"] == "key:teller"
    assert options["traceparent"] == f"00-{'a' * 32}-{'b' * 16}-01"
    assert options["idempotency_key"] == "k-1"
    assert options["approval"].status == "approved"
    decided = store.records[-1]
    assert decided.kind == "approval.decided"
    assert decided.body == {"approval_id": "ap-1", "decision": "approved", "by": "key:boss",
                            "comment": "fine", "instance": "host:1"}  # fmt: skip
    assert decided.context.principal == "key:boss"


@synchronously
async def test_a_rejection_is_recorded_and_runs_nothing(
    built: Registry, store: MemoryStore
) -> None:
    runs = Runs()
    parked(store, built)
    answer = await desk(store, built, runs).decide("ap-1", False, BOSS)
    assert answer == {"approval_id": "ap-1", "call_id": "call-1", "status": "rejected"}
    assert runs.calls == []
    with pytest.raises(ApprovalDecided):
        await desk(store, built, runs).decide("ap-1", True, BOSS)


@synchronously
async def test_a_call_whose_request_would_now_differ_is_refused_on_the_record(
    built: Registry, store: MemoryStore
) -> None:
    runs = Runs()
    approval = parked(store, built)
    store.approvals[0] = replace(approval, preview_hash="another request")
    with pytest.raises(ApprovalStale):
        await desk(store, built, runs).decide("ap-1", True, BOSS)
    assert runs.calls == []
    assert store.kinds()[-1] == "approval.refused"
    assert store.approvals[0].status == "refused"


@synchronously
async def test_whoever_asked_cannot_approve_it_too(built: Registry, store: MemoryStore) -> None:
    parked(store, built)
    with pytest.raises(Forbidden):
        await desk(store, built, Runs()).decide("ap-1", True, TELLER)
    assert store.pending_approvals()


@synchronously
async def test_an_expired_approval_is_recorded_as_expired(
    built: Registry, store: MemoryStore
) -> None:
    parked(store, built, expires_in_s=-1)
    with pytest.raises(ApprovalExpired):
        await desk(store, built, Runs()).decide("ap-1", True, BOSS)
    assert store.kinds()[-1] == "approval.expired"
    assert desk(store, built, Runs()).pending(BOSS) == []
