"""Windowed call aggregates per tool, backend, agent and legacy backend, in fixed memory.

Each series holds a day of one-minute slots in flat arrays: calls, errors, a log-scale
latency histogram (for p50/p95/p99) and, sparsely, the error codes seen. A slot is reused
when the day wraps (each remembers which minute it holds), so memory never grows with
traffic: ``SERIES_BYTES`` (about 180 KB) per series for a day, at most ``MAX_SERIES`` series
(about 46 MB); series beyond that are folded into ``(other)`` of their group. Percentiles are
exact to a histogram bucket (each 1.6 times the last), interpolated within it.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MINUTES = 24 * 60
# Upper bounds in milliseconds: 0.5 ms * 1.6^n up to ~2 min; the last bucket is unbounded.
BOUNDS_MS: tuple[float, ...] = tuple(0.5 * 1.6**n for n in range(27))
BUCKETS = len(BOUNDS_MS) + 1
SERIES_BYTES = MINUTES * (8 + 4 + 4 + 4 * BUCKETS)
MAX_SERIES = 256
GROUPS = ("tool", "backend", "agent", "legacy")
OTHER = "(other)"


def bucket_of(duration_ms: float) -> int:
    return bisect_left(BOUNDS_MS, duration_ms)


def percentile(histogram: list[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a histogram over ``BOUNDS_MS``, in milliseconds."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            low = BOUNDS_MS[index - 1] if index > 0 else 0.0
            high = BOUNDS_MS[index] if index < len(BOUNDS_MS) else BOUNDS_MS[-1] * 1.6
            return round(low + (high - low) * (rank - seen) / count, 3)
        seen += count
    return BOUNDS_MS[-1]


@dataclass
class Window:
    """What a series did over some minutes."""

    calls: int = 0
    errors: int = 0
    timed: int = 0  # calls with a duration (refusals before the legacy call have none)
    histogram: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    codes: Counter[str] = field(default_factory=Counter)

    def add(self, other: Window) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.timed += other.timed
        for index, count in enumerate(other.histogram):
            self.histogram[index] += count
        self.codes.update(other.codes)

    @property
    def error_rate(self) -> float | None:
        return round(self.errors / self.calls, 4) if self.calls else None

    def p(self, q: float) -> float | None:
        return percentile(self.histogram, q)

    def as_dict(self, seconds: float) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "calls_per_s": round(self.calls / seconds, 4) if seconds else None,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "errors_by_code": dict(self.codes),
            "p50_ms": self.p(0.5),
            "p95_ms": self.p(0.95),
            "p99_ms": self.p(0.99),
        }


class Series:
    """A day of one-minute slots for one tool, backend, agent or legacy backend."""

    def __init__(self) -> None:
        self.minute = array("q", [-1]) * MINUTES  # which minute each slot holds
        self.calls = array("I", [0]) * MINUTES
        self.errors = array("I", [0]) * MINUTES
        self.timed = array("I", [0]) * MINUTES
        self.histogram = array("I", [0]) * (MINUTES * BUCKETS)
        self.codes: dict[int, Counter[str]] = {}

    def _slot(self, minute: int) -> int:
        slot = minute % MINUTES
        if self.minute[slot] != minute:
            if self.minute[slot] > minute:
                return -1  # older than a day: out of the window
            self.minute[slot] = minute
            self.calls[slot] = self.errors[slot] = self.timed[slot] = 0
            base = slot * BUCKETS
            for index in range(base, base + BUCKETS):
                self.histogram[index] = 0
            self.codes.pop(slot, None)
        return slot

    def add(self, minute: int, duration_ms: float | None, error: str | None) -> None:
        slot = self._slot(minute)
        if slot < 0:
            return
        self.calls[slot] += 1
        if error is not None:
            self.errors[slot] += 1
            self.codes.setdefault(slot, Counter())[error] += 1
        if duration_ms is not None:
            self.timed[slot] += 1
            self.histogram[slot * BUCKETS + bucket_of(duration_ms)] += 1

    def at(self, minute: int) -> Window:
        slot = minute % MINUTES
        window = Window()
        if self.minute[slot] != minute:
            return window
        window.calls, window.errors = self.calls[slot], self.errors[slot]
        window.timed = self.timed[slot]
        window.histogram = list(self.histogram[slot * BUCKETS : (slot + 1) * BUCKETS])
        window.codes = Counter(self.codes.get(slot, {}))
        return window

    def window(self, first: int, last: int) -> Window:
        """Minutes ``first`` to ``last``, both included."""
        total = Window()
        for minute in range(max(first, last - MINUTES + 1), last + 1):
            if self.minute[minute % MINUTES] == minute:
                total.add(self.at(minute))
        return total


class Stats:
    """Every series, by group and name."""

    def __init__(self, max_series: int = MAX_SERIES) -> None:
        self.max_series = max_series
        self.series: dict[str, dict[str, Series]] = {group: {} for group in GROUPS}
        self.count = 0

    def record(
        self, group: str, name: str, minute: int, duration_ms: float | None, error: str | None
    ) -> None:
        series = self.series[group].get(name)
        if series is None:
            # One series of each group is kept for the rest, so the cap holds.
            if self.count >= self.max_series - len(GROUPS):
                name = OTHER
                series = self.series[group].get(name)
            if series is None:
                series = self.series[group][name] = Series()
                self.count += 1
        series.add(minute, duration_ms, error)

    def names(self, group: str) -> list[str]:
        return sorted(self.series[group])

    def get(self, group: str, name: str) -> Series | None:
        return self.series[group].get(name)

    def summary(
        self, group: str, name: str, now_minute: int, minutes: int, sparkline: bool = True
    ) -> dict[str, Any]:
        series = self.series[group][name]
        first = now_minute - minutes + 1
        summary = series.window(first, now_minute).as_dict(minutes * 60.0)
        if sparkline:
            points = []
            for minute in range(first, now_minute + 1):
                window = series.at(minute)
                points.append([minute * 60, window.calls, window.errors, window.p(0.95)])
            summary["per_minute"] = points
        return summary

    @property
    def memory_bytes(self) -> int:
        return self.count * SERIES_BYTES


def minute_of(epoch_s: float) -> int:
    return math.floor(epoch_s / 60)
