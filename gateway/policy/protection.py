"""Protecting legacy hosts from eager agents: retries, a circuit breaker, rate limits.

Per backend, declared in its YAML:

- ``retries``: a failed call is tried again (exponential backoff with jitter, tenacity) only
  when the tool is idempotent (reads by default; writes that say ``idempotent: true``) and
  the failure is one that may pass (connection refused, timeout, HTTP 502/503/504). Each
  attempt is an interaction of the call.
- ``circuit_breaker``: after ``failures`` such failures in a row the backend is left alone:
  calls get 503 ``circuit_open`` at once, with ``Retry-After``, for ``reset_s``; then one
  probe call goes through, and its success closes the circuit again.
- ``rate_limit``: each agent gets ``per_second`` calls a second on this backend, in bursts
  of up to ``burst``; beyond that, 429 ``rate_limited`` with ``Retry-After``.

The concurrency cap with its bounded wait (``max_concurrency``) and the timeouts complete
this; every refusal is an error the agent can act on, and is recorded with the call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from gateway.errors import CircuitOpen, GatewayError, RateLimited

T = TypeVar("T")


class RetrySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attempts: int = Field(3, ge=1, le=10, description="Tries in all, the first included.")
    backoff_s: float = Field(0.1, gt=0, le=10, description="First wait; it doubles, jittered.")
    max_backoff_s: float = Field(2.0, gt=0, le=60)


class BreakerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    failures: int = Field(5, ge=1, le=1000, description="Failures in a row that open it.")
    reset_s: float = Field(30.0, gt=0, le=3600, description="How long it stays open.")


class RateLimitSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_second: float = Field(gt=0, le=100_000, description="Calls a second, per agent.")
    burst: int = Field(10, ge=1, le=100_000, description="Calls at once after a quiet spell.")


def _retryable(exc: BaseException) -> bool:
    return (
        isinstance(exc, GatewayError)
        and exc.retryable
        and not isinstance(exc, CircuitOpen | RateLimited)
    )


async def with_retries(
    spec: RetrySpec | None,
    idempotent: bool,
    attempt: Callable[[int], Awaitable[T]],
) -> T:
    """Run ``attempt(n)``; again, with backoff, while it fails retryably and may be repeated."""
    tries = spec.attempts if spec is not None and idempotent else 1
    if tries == 1:
        return await attempt(1)  # most calls: no retry machinery on the hot path
    wait = (
        wait_exponential_jitter(
            multiplier=spec.backoff_s, max=spec.max_backoff_s, jitter=spec.backoff_s
        )
        if spec is not None
        else wait_exponential_jitter()
    )
    async for trying in AsyncRetrying(
        stop=stop_after_attempt(tries),
        wait=wait,
        retry=retry_if_exception(_retryable),
        reraise=True,
    ):
        with trying:
            return await attempt(trying.retry_state.attempt_number)
    raise AssertionError("tenacity ended without an outcome")  # pragma: no cover


@dataclass
class CircuitBreaker:
    backend: str
    spec: BreakerSpec
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self) -> None:
        """Let a call through, or refuse it at once while the circuit is open."""
        with self._lock:
            if self.opened_at is None:
                return
            waited = self.clock() - self.opened_at
            if waited < self.spec.reset_s or self.probing:
                left = max(self.spec.reset_s - waited, 1.0)
                raise CircuitOpen(
                    f"backend {self.backend} failed {self.failures} times in a row; it is "
                    f"left alone for {left:.0f} s more, then one call probes it",
                    details={"backend": self.backend, "retry_after_s": round(left, 1)},
                )
            self.probing = True  # half-open: this call is the probe

    def succeeded(self) -> None:
        with self._lock:
            self.failures, self.opened_at, self.probing = 0, None, False

    def failed(self, error: BaseException) -> None:
        if not _retryable(error):
            # The host answered (a fault, bad arguments, a mapping problem): it is alive.
            self.succeeded()
            return
        with self._lock:
            self.failures += 1
            if self.probing or self.failures >= self.spec.failures:
                self.opened_at, self.probing = self.clock(), False


@dataclass
class RateLimiter:
    """A token bucket per agent."""

    backend: str
    spec: RateLimitSpec
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, agent: str) -> None:
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(agent, (float(self.spec.burst), now))
            tokens = min(float(self.spec.burst), tokens + (now - last) * self.spec.per_second)
            if tokens < 1:
                wait = (1 - tokens) / self.spec.per_second
                self._buckets[agent] = (tokens, now)
                raise RateLimited(
                    f"agent '{agent}' may make {self.spec.per_second:g} calls a second to "
                    f"backend {self.backend}; try again in {wait:.2f} s",
                    details={"backend": self.backend, "retry_after_s": round(wait, 2)},
                )
            self._buckets[agent] = (tokens - 1, now)
