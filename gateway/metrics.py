"""Prometheus metrics at ``/metrics``: calls, legacy interactions, refusals, the log's size.

Operators alert on these at 3 a.m.: a backend whose interactions start failing or slowing,
a circuit that opened, agents being rate-limited, a log that stopped growing. Each gateway
process has its own registry (tests run many gateways in one process).

``serve --workers N`` answers ``/metrics`` for all its workers at once: they share one port,
and a scraper that keeps its connection open would otherwise see one worker's counts for
good. The supervisor gives the workers a directory of their own (``MULTIPROCESS_ENV``, set
before they import ``prometheus_client``): each keeps its values there, and whichever worker
answers a scrape adds up every worker's (``prometheus_client.multiprocess``). The gauges say
what every worker sees alike (the log's checkpoint, an anomaly of the shared log): the
largest value of any worker.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
CONTENT_TYPE = CONTENT_TYPE_LATEST
# prometheus_client's own setting: where the workers of one ``serve`` keep their values.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # Set by the supervisor before a worker starts, or never: read once.
        self._shared = os.environ.get(MULTIPROCESS_ENV) or None
        self.calls = Counter(
            "legacy_gateway_calls",
            "Tool calls by tool and outcome (ok, pending, or the error code).",
            ["tool", "outcome"],
            registry=self.registry,
        )
        self.call_seconds = Histogram(
            "legacy_gateway_call_seconds",
            "Duration of tool calls, audit included.",
            ["tool"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.interactions = Counter(
            "legacy_gateway_legacy_interactions",
            "Requests to legacy systems (each retry counts) by backend and outcome.",
            ["backend", "adapter", "outcome"],
            registry=self.registry,
        )
        self.interaction_seconds = Histogram(
            "legacy_gateway_legacy_seconds",
            "Duration of requests to legacy systems.",
            ["backend"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.replies = Counter(
            "legacy_gateway_submitted_replies",
            "Endings of submitted calls and replies that came on their own: completed, "
            "overdue (no reply by the deadline), late, handed_on (for another installation), "
            "unmatched (kept, for no call).",
            ["event"],
            registry=self.registry,
        )
        self.log_size = Gauge(
            "legacy_gateway_audit_checkpoint_size",
            "Records covered by the latest signed checkpoint this process has seen.",
            registry=self.registry,
            multiprocess_mode="max",
        )
        # Each call and interaction counts in two series: their children are looked up here
        # (``labels()`` checks and converts its values and takes a lock every time).
        self._calls: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self._interactions: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def call(self, tool: str, outcome: str, seconds: float) -> None:
        series = self._calls.get((tool, outcome))
        if series is None:
            series = self._calls[(tool, outcome)] = (
                self.calls.labels(tool, outcome),
                self.call_seconds.labels(tool),
            )
        series[0].inc()
        series[1].observe(seconds)

    def interaction(self, backend: str, adapter: str, error: str | None, seconds: float) -> None:
        key = (backend, adapter, error or "ok")
        series = self._interactions.get(key)
        if series is None:
            series = self._interactions[key] = (
                self.interactions.labels(*key),
                self.interaction_seconds.labels(backend),
            )
        series[0].inc()
        series[1].observe(seconds)

    def exposition(self) -> bytes:
        """This process's metrics, or under ``serve --workers`` those of every worker."""
        if self._shared is None:
            return generate_latest(self.registry)
        workers = CollectorRegistry()
        MultiProcessCollector(workers, self._shared)  # type: ignore[no-untyped-call]
        return generate_latest(workers)
