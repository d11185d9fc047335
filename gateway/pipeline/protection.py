"""Protect stage: what stands between a call and its backend.

A backend's rate limit (per principal), its circuit breaker and its concurrency cap are
admitted in that order, then the adapter runs under the backend's retry policy. They belong
to a ``Generation``, one loaded config: a call finishes on the one it started on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.errors import BackendUnavailable
from gateway.policy.protection import CircuitBreaker, RateLimiter, with_retries
from gateway.tools import Registry


@dataclass
class Generation:
    """One loaded config with its open adapters and the protections of its backends."""

    registry: Registry
    limits: dict[str, asyncio.Semaphore]
    breakers: dict[str, CircuitBreaker]
    rate_limits: dict[str, RateLimiter]
    # Calls in flight on this generation: a replaced one closes its adapters at zero.
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


async def protected(
    generation: Generation,
    backend: str,
    principal: str,
    idempotent: bool,
    timeout_s: float,
    attempt: Callable[[int], Awaitable[Any]],
) -> Any:
    """``attempt(n)`` run as the backend's protections allow; their refusals raise
    (``RateLimited``, ``BackendUnavailable``) before anything is sent."""
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
            await asyncio.wait_for(limit.acquire(), timeout_s)
        else:
            await limit.acquire()
    except TimeoutError:
        cap = generation.registry.config.backends[backend].max_concurrency
        raise BackendUnavailable(
            f"backend {backend} is at its concurrency limit ({cap}); try again shortly"
        ) from None
    try:
        answer = await with_retries(
            generation.registry.config.backends[backend].retries, idempotent, attempt
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
