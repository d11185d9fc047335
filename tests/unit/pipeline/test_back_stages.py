"""The stages from the backend on: protection, invoke, answer, outcome."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.base import Page, Submitted
from gateway.audit.records import RecordContext
from gateway.errors import BackendUnavailable, CircuitOpen, LegacyFault, RateLimited
from gateway.pipeline import outcome
from gateway.pipeline.answer import result_of
from gateway.pipeline.invoke import attempt_of, preview
from gateway.pipeline.protection import Generation, protected
from gateway.policy.protection import BreakerSpec, CircuitBreaker, RateLimiter, RateLimitSpec
from gateway.tools import Registry
from tests.unit.pipeline.fakes import (
    FakeAdapter,
    MemoryStore,
    metrics,
    new_call,
    synchronously,
    with_fake,
)

RECORD = RecordContext("t" * 32, "s" * 16, "cli", "sha256:v1")


def guarded(built: Registry, **protections: Any) -> Generation:
    return Generation(
        built,
        {"host": asyncio.Semaphore(protections.get("concurrency", 4))},
        {"host": protections["breaker"]} if "breaker" in protections else {},
        {"host": protections["rate"]} if "rate" in protections else {},
    )


async def answer(number: int) -> str:
    return f"answer of attempt {number}"


# ------------------------------------------------------------------ protection


@synchronously
async def test_an_admitted_call_runs_its_attempt_once_and_frees_its_slot(
    built: Registry,
) -> None:
    generation = guarded(built, concurrency=1)
    got = await protected(generation, "host", "cli", True, 1.0, answer)
    assert got == "answer of attempt 1"
    assert not generation.limits["host"].locked()


@synchronously
async def test_a_backend_at_its_limit_refuses_after_the_calls_timeout(built: Registry) -> None:
    generation = guarded(built, concurrency=1)
    await generation.limits["host"].acquire()
    sent: list[int] = []

    async def attempt(number: int) -> None:
        sent.append(number)

    with pytest.raises(BackendUnavailable) as refused:
        await protected(generation, "host", "cli", True, 0.05, attempt)
    assert "concurrency limit (4)" in refused.value.message
    assert sent == []


@synchronously
async def test_the_rate_limit_refuses_before_anything_is_sent(built: Registry) -> None:
    rate = RateLimiter("host", RateLimitSpec(per_second=0.001, burst=1))
    generation = guarded(built, rate=rate)
    await protected(generation, "host", "bot", True, 1.0, answer)
    with pytest.raises(RateLimited):
        await protected(generation, "host", "bot", True, 1.0, answer)
    # Per principal: another agent still has its burst.
    assert await protected(generation, "host", "other", True, 1.0, answer)


@synchronously
async def test_failures_open_the_breaker_and_it_then_refuses(built: Registry) -> None:
    breaker = CircuitBreaker("host", BreakerSpec(failures=2, reset_s=60))
    generation = guarded(built, breaker=breaker)

    async def down(number: int) -> None:
        raise BackendUnavailable("down")

    for _ in range(2):
        with pytest.raises(BackendUnavailable):
            await protected(generation, "host", "cli", True, 1.0, down)
    with pytest.raises(CircuitOpen):
        await protected(generation, "host", "cli", True, 1.0, answer)
    assert not generation.limits["host"].locked()


# ------------------------------------------------------------------ invoke


@synchronously
async def test_an_attempt_calls_the_adapter_and_keeps_its_interactions(
    generation: Generation,
) -> None:
    adapter = FakeAdapter()
    tool = with_fake(generation.registry.tools["lookup"], adapter)
    call = new_call(tool, generation, {}, cursor="c2", idempotency_key="k-1")
    call.params = {"ID": "42"}
    counted = metrics()
    got = await attempt_of(call, 7.0, counted)(2)
    assert got == {"NAME": "Ada"}
    [(params, ctx)] = adapter.calls
    assert params == {"ID": "42"}
    assert (ctx.call_id, ctx.tool, ctx.timeout_s, ctx.attempt) == ("call-1", "lookup", 7.0, 2)
    assert (ctx.cursor, ctx.idempotency_key) == ("c2", "k-1")
    [interaction] = call.interactions
    assert interaction.request == {"params": {"ID": "42"}}
    assert interaction.attempt == 2


def test_a_dry_run_previews_the_request(generation: Generation) -> None:
    tool = with_fake(generation.registry.tools["lookup"], FakeAdapter())
    call = new_call(tool, generation, {})
    call.params = {"ID": "42"}
    assert preview(call) == {"request": {"would_send": {"ID": "42"}}}


# ------------------------------------------------------------------ answer


def test_a_whole_answer_is_mapped_out(built: Registry) -> None:
    assert result_of(built.tools["lookup"], {"NAME": "Ada"}) == {"name": "Ada"}


def test_a_page_says_how_to_ask_for_the_next(built: Registry) -> None:
    page = Page([{"NAME": "Ada"}], "next-2", "first 1 of 3 rows")
    result = result_of(built.tools["search"], page)
    assert result["items"] == [{"name": "Ada"}]
    assert result["truncated"] is True
    assert result["next_cursor"] == "next-2"
    assert result["notice"].startswith("first 1 of 3 rows; call again")
    last = result_of(built.tools["search"], Page([{"NAME": "Bo"}], None))
    assert (last["truncated"], last["next_cursor"], "notice" in last) == (False, None, False)


def test_a_whole_list_is_cut_to_the_tools_budget_and_says_so(built: Registry) -> None:
    rows = [{"NAME": name} for name in ("Ada", "Bo", "Cy")]
    result = result_of(built.tools["search"], rows)
    assert result["items"] == [{"name": "Ada"}, {"name": "Bo"}]
    assert result["truncated"] is True


# ------------------------------------------------------------------ outcome


def finished_call(generation: Generation) -> Any:
    tool = with_fake(generation.registry.tools["lookup"], FakeAdapter())
    call = new_call(tool, generation, {})
    call.record = RECORD
    call.params = {"ID": "42"}
    return call


@synchronously
async def test_a_success_writes_interactions_and_outcome_in_one_commit(
    generation: Generation,
) -> None:
    store = MemoryStore()
    commits: list[list[str]] = []
    write = store.append_many
    store.append_many = lambda entries, context=None: (  # type: ignore[method-assign]
        commits.append([kind for kind, _, _ in entries]) or write(entries, context)
    )
    call = finished_call(generation)
    await attempt_of(call, 1.0, metrics())(1)
    answered = await outcome.succeeded(call, store, {"name": "Ada"})
    assert commits == [["interaction", "call.outcome"]]
    ending = store.records[-1]
    assert ending.body["status"] == "ok"
    assert ending.body["result"] == {"name": "Ada"}
    assert ending.body["duration_ms"] >= 0
    assert ending.context == RECORD
    assert (answered.status, answered.result) == ("ok", {"name": "Ada"})
    assert answered.receipt["record"] == ending.index


def test_a_failure_ends_the_call_with_its_error(generation: Generation) -> None:
    store = MemoryStore()
    call = finished_call(generation)
    error = LegacyFault("HOST", "the host said no")
    asyncio.run(outcome.failed(call, store, error))
    assert error.call_id == "call-1"
    [ending] = store.records
    assert ending.body["status"] == "error"
    assert ending.body["error"]["code"] == error.code


def test_an_interrupted_call_ends_as_call_interrupted(generation: Generation) -> None:
    store = MemoryStore()
    asyncio.run(outcome.interrupted(finished_call(generation), store))
    [ending] = store.records
    assert ending.body["error"]["code"] == "call_interrupted"
    assert ending.body["error"]["call_id"] == "call-1"


def test_a_submitted_call_stays_open_with_its_deadline(generation: Generation) -> None:
    store = MemoryStore()
    answered = outcome.submitted(
        finished_call(generation), store, Submitted({"queue": "q1"}, reply_within_s=30)
    )
    [ending] = store.records
    assert ending.kind == "call.submitted"
    assert ending.body["status"] == "pending"
    assert ending.body["reply_deadline_s"] == 30
    assert "reply_by" in ending.body
    assert answered.status == "pending"
    assert answered.result == {"poll": "/v1/calls/call-1", "queue": "q1"}
    assert [r.kind for r in store.records_of("call-1")] == ["call.submitted"]
