"""Counts the console keeps beside its latency series, per minute for a day, in bounded memory:

- data flow: calls and errors per (agent, tool, backend), for the console's Sankey;
- signals per tool and backend: rate-limit refusals (``rate_limited``), calls refused by an
  open circuit breaker (``circuit_open``) and answers cut to the tool's output budget
  (``"truncated": true``), with the breaker's state as the records show it: open from a
  ``circuit_open`` refusal until a call on that backend gets through again;
- feedback scores per tool (sum and count per minute), for its trend and the
  feedback-falling anomaly.

Each minute holds at most ``MAX_KEYS`` keys and each counter at most ``MAX_ENTRIES`` (key,
minute) entries in all; beyond either, counts go to ``(other)`` (one entry a minute). Minutes
older than a day are dropped, and the names in keys are interned (shared by every minute).
So memory is fixed whatever the traffic: at most ``ENTRY_BYTES`` per entry, about 10 MB per
counter and 30 MB for the three (``tests/unit/test_console_signals.py`` measures it).
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from gateway.console.stats import MINUTES, OTHER

MAX_KEYS = 500
MAX_ENTRIES = 50_000
ENTRY_BYTES = 200
SIGNALS = {"rate_limited": "rate_limited", "circuit_open": "circuit_open"}


class MinuteCounts:
    """Counters per minute, a day of them."""

    def __init__(self, max_keys: int = MAX_KEYS, max_entries: int = MAX_ENTRIES) -> None:
        self.max_keys = max_keys
        self.max_entries = max_entries
        self.entries = 0
        self.minutes: OrderedDict[int, dict[Hashable, float]] = OrderedDict()

    def add(self, minute: int, key: Hashable, amount: float = 1) -> None:
        counts = self.minutes.get(minute)
        if counts is None:
            newest = next(reversed(self.minutes)) if self.minutes else minute
            if minute <= newest - MINUTES:
                return  # older than the day kept
            counts = self.minutes[minute] = {}
            if minute < newest:
                self.minutes = OrderedDict(sorted(self.minutes.items()))  # a late record
            while next(iter(self.minutes)) <= minute - MINUTES:
                self.entries -= len(self.minutes.popitem(last=False)[1])
        if key not in counts:
            if len(counts) >= self.max_keys or self.entries >= self.max_entries:
                key = OTHER
            if key not in counts:
                self.entries += 1
        counts[key] = counts.get(key, 0) + amount

    def window(self, first: int, last: int) -> dict[Hashable, float]:
        total: dict[Hashable, float] = {}
        for minute, counts in self.minutes.items():
            if first <= minute <= last:
                for key, amount in counts.items():
                    total[key] = total.get(key, 0) + amount
        return total

    def at(self, minute: int) -> dict[Hashable, float]:
        return self.minutes.get(minute, {})


class Signals:
    """Flows, refusals, truncations, breaker states and feedback, folded from records."""

    def __init__(self) -> None:
        self.flows = MinuteCounts()
        self.events = MinuteCounts()
        self.feedback = MinuteCounts()
        self.breakers: dict[str, dict[str, Any]] = {}

    def call_ended(self, minute: int, at: str, agent: str, tool: str, backend: str | None,
                   error: str | None, body: dict[str, Any]) -> None:  # fmt: skip
        agent, tool = sys.intern(agent), sys.intern(tool)
        backend = sys.intern(backend) if backend else None
        self.flows.add(minute, (agent, tool, backend or "-", "calls"))
        if error is not None:
            self.flows.add(minute, (agent, tool, backend or "-", "errors"))
        kind = SIGNALS.get(error or "")
        result = body.get("result")
        if kind is None and isinstance(result, dict) and result.get("truncated") is True:
            kind = "truncated"
        if kind is not None:
            self.events.add(minute, ("tool", tool, kind))
            if backend:
                self.events.add(minute, ("backend", backend, kind))
        if backend:
            if error == "circuit_open":
                self.breakers[backend] = {"state": "open", "since": at}
            elif backend in self.breakers and self.breakers[backend]["state"] == "open":
                self.breakers[backend] = {"state": "closed", "since": at}

    def feedback_given(self, minute: int, tool: str, score: Any) -> None:
        if isinstance(score, int | float) and not isinstance(score, bool):
            tool = sys.intern(tool)
            self.feedback.add(minute, (tool, "sum"), float(score))
            self.feedback.add(minute, (tool, "n"))

    def flow_snapshot(self, first: int, last: int, agent: str | None) -> list[dict[str, Any]]:
        counts = self.flows.window(first, last)
        links: dict[tuple[str, str, str], dict[str, Any]] = {}
        for key, amount in counts.items():
            if key == OTHER or not isinstance(key, tuple):
                continue
            who, tool, backend, what = key
            if agent is not None and who != agent:
                continue
            empty = {"agent": who, "tool": tool, "backend": backend, "calls": 0, "errors": 0}
            link = links.setdefault((who, tool, backend), empty)
            link[what] += int(amount)
        for link in links.values():
            link["error_share"] = round(link["errors"] / link["calls"], 4) if link["calls"] else 0
        return sorted(links.values(), key=lambda link: -link["calls"])

    def signal_counts(self, group: str, name: str, first: int, last: int) -> dict[str, int]:
        counts = self.events.window(first, last)
        return {kind: int(counts.get((group, name, kind), 0))
                for kind in ("rate_limited", "circuit_open", "truncated")}  # fmt: skip

    def feedback_means(self, first: int, last: int) -> dict[str, tuple[float, int]]:
        """Per tool with scores in minutes ``first`` to ``last``: (mean score, how many)."""
        sums: dict[str, list[float]] = {}
        for key, amount in self.feedback.window(first, last).items():
            if isinstance(key, tuple):
                tool, what = key
                sums.setdefault(tool, [0.0, 0.0])[0 if what == "sum" else 1] += amount
        return {tool: (round(total / n, 4), int(n)) for tool, (total, n) in sums.items() if n}

    def feedback_trends(self, first: int, last: int) -> dict[str, list[list[Any]]]:
        """Per tool, per minute: [epoch seconds, mean score or None, how many scores]."""
        means = self.feedback_means(first, last)
        trends: dict[str, list[list[Any]]] = {tool: [] for tool in means}
        for minute in range(first, last + 1):
            counts = self.feedback.at(minute)
            for tool, points in trends.items():
                n = int(counts.get((tool, "n"), 0))
                mean = round(counts.get((tool, "sum"), 0) / n, 4) if n else None
                points.append([minute * 60, mean, n])
        return trends
