"""Counts the console keeps beside its latency series, per minute for a day, in bounded memory:

- data flow: calls and errors per (agent, tool, backend), for the console's Sankey;
- signals per tool and backend: rate-limit refusals (``rate_limited``), calls refused by an
  open circuit breaker (``circuit_open``) and answers cut to the tool's output budget
  (``"truncated": true``), with the breaker's state as the records show it: open from a
  ``circuit_open`` refusal until a call on that backend gets through again;
- feedback scores per tool (sum and count per minute), for its trend and the
  feedback-falling anomaly.

Each minute holds at most ``MAX_KEYS`` keys (the rest are counted under ``(other)``), and
minutes older than a day are dropped, so memory stays under about
``MINUTES * MAX_KEYS * 200`` bytes per counter whatever the traffic.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from gateway.console.stats import MINUTES, OTHER

MAX_KEYS = 500
SIGNALS = {"rate_limited": "rate_limited", "circuit_open": "circuit_open"}


class MinuteCounts:
    """Counters per minute, a day of them."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self.minutes: OrderedDict[int, dict[Hashable, float]] = OrderedDict()

    def add(self, minute: int, key: Hashable, amount: float = 1) -> None:
        counts = self.minutes.get(minute)
        if counts is None:
            counts = self.minutes[minute] = {}
            if len(self.minutes) > 1 and minute < next(reversed(self.minutes)):
                self.minutes = OrderedDict(sorted(self.minutes.items()))  # a late record
            while self.minutes and next(iter(self.minutes)) <= minute - MINUTES:
                self.minutes.popitem(last=False)
        if key not in counts and len(counts) >= self.max_keys:
            key = OTHER
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

    def feedback_mean(self, tool: str, first: int, last: int) -> tuple[float | None, int]:
        counts = self.feedback.window(first, last)
        n = int(counts.get((tool, "n"), 0))
        return (round(counts.get((tool, "sum"), 0) / n, 4) if n else None), n

    def feedback_trend(self, tool: str, first: int, last: int) -> list[list[Any]]:
        """Per minute: [epoch seconds, mean score or None, how many scores]."""
        points: list[list[Any]] = []
        for minute in range(first, last + 1):
            counts = self.feedback.at(minute)
            n = int(counts.get((tool, "n"), 0))
            mean = round(counts.get((tool, "sum"), 0) / n, 4) if n else None
            points.append([minute * 60, mean, n])
        return points

    def feedback_tools(self) -> list[str]:
        tools = {key[0] for counts in self.feedback.minutes.values() for key in counts
                 if isinstance(key, tuple)}  # fmt: skip
        return sorted(str(tool) for tool in tools)
