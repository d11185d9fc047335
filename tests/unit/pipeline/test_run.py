"""A call through every stage, against an in-memory store and a fake backend."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.base import Submitted
from gateway.errors import GatewayError, LegacyFault
from gateway.pipeline.call import Call, trace_ids
from gateway.pipeline.protection import Generation
from gateway.pipeline.run import CallPipeline
from gateway.replay import KeyedCalls
from tests.unit.pipeline.fakes import (
    FakeAdapter,
    MemoryStore,
    metrics,
    new_call,
    synchronously,
    with_fake,
)


def pipeline(store: MemoryStore, instance: str | None = None) -> CallPipeline:
    return CallPipeline(store, KeyedCalls(store), metrics(), instance)


def lookup(generation: Generation, adapter: FakeAdapter, **fields: Any) -> Call:
    tool = with_fake(generation.registry.tools["lookup"], adapter)
    return new_call(tool, generation, {"customer_id": "42"}, principal="cli", **fields)


@synchronously
async def test_a_call_goes_from_intent_to_outcome(
    generation: Generation, store: MemoryStore
) -> None:
    adapter = FakeAdapter()
    answer = await pipeline(store, "host:1").run(lookup(generation, adapter))
    assert (answer.call_id, answer.status, answer.result) == ("call-1", "ok", {"name": "Ada"})
    assert store.kinds() == ["call.intent", "interaction", "call.outcome"]
    intent, interaction, ending = store.records
    assert intent.body["instance"] == "host:1"
    assert intent.context.principal == "cli"
    assert intent.context.config_version == generation.registry.config.version
    assert interaction.body["request"] == {"params": {"ID": "42"}}
    assert ending.body["result"] == {"name": "Ada"}
    assert answer.receipt["record"] == ending.index
    [(_, ctx)] = adapter.calls
    assert ctx.timeout_s == 7  # the tool has none of its own: its backend's


@synchronously
async def test_a_legacy_fault_ends_the_call_on_the_record_and_is_raised(
    generation: Generation, store: MemoryStore
) -> None:
    fault = LegacyFault("HOST", "no such customer")
    with pytest.raises(LegacyFault) as raised:
        await pipeline(store).run(lookup(generation, FakeAdapter(answer=fault)))
    assert raised.value.call_id == "call-1"
    assert store.kinds() == ["call.intent", "interaction", "call.outcome"]
    assert store.records[-1].body["error"]["code"] == "legacy_fault"


@synchronously
async def test_an_unexpected_error_is_an_internal_error_on_the_record(
    generation: Generation, store: MemoryStore
) -> None:
    with pytest.raises(GatewayError) as raised:
        await pipeline(store).run(lookup(generation, FakeAdapter(answer=KeyError("x"))))
    assert raised.value.message.startswith("internal error: KeyError")
    assert raised.value.call_id == "call-1"
    assert store.records[-1].body["error"]["message"] == raised.value.message


@synchronously
async def test_a_call_cancelled_at_the_backend_ends_as_interrupted(
    generation: Generation, store: MemoryStore
) -> None:
    running = asyncio.create_task(pipeline(store).run(lookup(generation, FakeAdapter(delay_s=10))))
    await asyncio.sleep(0.05)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    # Cancelled while the backend was still answering: no interaction came back.
    assert store.kinds() == ["call.intent", "call.outcome"]
    assert store.records[-1].body["error"]["code"] == "call_interrupted"


@synchronously
async def test_a_dry_run_sends_nothing_and_answers_the_request(
    generation: Generation, store: MemoryStore
) -> None:
    adapter = FakeAdapter()
    answer = await pipeline(store).run(lookup(generation, adapter, dry_run=True))
    assert answer.result == {"request": {"would_send": {"ID": "42"}}}
    assert adapter.calls == []
    assert store.kinds() == ["call.intent", "call.outcome"]


@synchronously
async def test_a_submit_answers_pending_and_leaves_the_call_open(
    generation: Generation, store: MemoryStore
) -> None:
    adapter = FakeAdapter(answer=Submitted({"queue": "q"}, reply_within_s=5))
    answer = await pipeline(store).run(lookup(generation, adapter))
    assert answer.status == "pending"
    assert store.kinds() == ["call.intent", "interaction", "call.submitted"]


@synchronously
async def test_a_repeat_of_a_key_sends_nothing(generation: Generation, store: MemoryStore) -> None:
    adapter = FakeAdapter()
    runner = pipeline(store)
    first = await runner.run(lookup(generation, adapter, idempotency_key="k-1"))
    again = await runner.run(lookup(generation, adapter, idempotency_key="k-1", call_id="call-2"))
    assert again.replayed and again.call_id == first.call_id and again.result == first.result
    assert len(adapter.calls) == 1
    assert store.kinds()[-1] == "call.replayed"


def test_a_traceparent_gives_the_trace_and_parent_span() -> None:
    trace, parent = trace_ids("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    assert (trace, parent) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    fresh, none = trace_ids("00-" + "0" * 32 + "-b7ad6b7169203331-01")
    assert len(fresh) == 32 and fresh != "0" * 32 and none is None
