"""The circuit breaker and the rate limiter on a clock of their own."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import BackendUnavailable, CircuitOpen, LegacyFault, RateLimited
from gateway.policy.protection import (
    BreakerSpec,
    CircuitBreaker,
    RateLimiter,
    RateLimitSpec,
    RetrySpec,
    with_retries,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_lets_one_probe_through_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker("host", BreakerSpec(failures=2, reset_s=10), clock)
    breaker.failed(BackendUnavailable("down"))
    breaker.admit()
    breaker.failed(BackendUnavailable("down"))
    with pytest.raises(CircuitOpen) as refused:
        breaker.admit()
    assert refused.value.details["retry_after_s"] == 10
    clock.now += 10
    breaker.admit()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.admit()  # only one probe at a time
    breaker.failed(BackendUnavailable("still down"))
    clock.now += 5
    with pytest.raises(CircuitOpen):
        breaker.admit()
    clock.now += 5
    breaker.admit()
    breaker.succeeded()
    breaker.admit()
    breaker.admit()


def test_an_answering_host_is_alive_even_when_it_says_no() -> None:
    breaker = CircuitBreaker("host", BreakerSpec(failures=2, reset_s=10), Clock())
    breaker.failed(BackendUnavailable("down"))
    breaker.failed(LegacyFault("Client", "no such customer"))
    breaker.failed(BackendUnavailable("down"))
    breaker.admit()  # the fault in between reset the count


def test_the_rate_limit_is_per_agent() -> None:
    clock = Clock()
    limiter = RateLimiter("host", RateLimitSpec(per_second=2, burst=2), clock)
    limiter.admit("a")
    limiter.admit("a")
    with pytest.raises(RateLimited) as refused:
        limiter.admit("a")
    assert refused.value.details["retry_after_s"] == 0.5
    limiter.admit("b")  # another agent has its own bucket
    clock.now += 0.5
    limiter.admit("a")


def test_retries_only_for_idempotent_calls_and_passing_failures() -> None:
    asyncio.run(_retries())


async def _retries() -> None:
    spec = RetrySpec(attempts=3, backoff_s=0.001, max_backoff_s=0.002)
    tried: list[int] = []

    async def flaky(number: int) -> str:
        tried.append(number)
        if number < 3:
            raise BackendUnavailable("not yet")
        return "ok"

    assert await with_retries(spec, True, flaky) == "ok"
    assert tried == [1, 2, 3]
    tried.clear()
    with pytest.raises(BackendUnavailable):
        await with_retries(spec, False, flaky)
    assert tried == [1]

    async def faulty(number: int) -> str:
        tried.append(number)
        raise LegacyFault("Client", "bad")

    tried.clear()
    with pytest.raises(LegacyFault):
        await with_retries(spec, True, faulty)
    assert tried == [1]
