"""Anomalies per tool and backend: recent traffic against its own baseline.

The baseline is the hour before the last ``RECENT_MINUTES``; the recent window is the last
``RECENT_MINUTES`` (the current minute included, so a backend that starts failing shows up
within seconds). An alert fires when, with at least ``MIN_CALLS`` recent calls:

- the error rate is at least ``ERROR_FLOOR`` and ``FACTOR`` times the baseline's, or
- p95 latency is ``FACTOR`` times the baseline's (with ``MIN_BASELINE`` calls to judge by),

and resolves when neither holds. Per tool, feedback is judged over longer windows (scores
come far more rarely than calls): ``feedback_falling`` fires when the mean score of the last
``FEEDBACK_RECENT_MINUTES`` (at least ``FEEDBACK_MIN`` scores) is ``FEEDBACK_DROP`` or more
below the mean of the ``BASELINE_MINUTES`` before (at least ``FEEDBACK_MIN_BASELINE``).
The call rules are in deploy/prometheus/alerts.yaml for Prometheus too, over the gateway's
own metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.console.signals import Signals
from gateway.console.stats import Stats

RECENT_MINUTES = 2
BASELINE_MINUTES = 60
MIN_CALLS = 3
MIN_BASELINE = 20
FACTOR = 3.0
ERROR_FLOOR = 0.2
WATCHED = ("tool", "backend")
FEEDBACK_RECENT_MINUTES = 10
FEEDBACK_MIN = 3
FEEDBACK_MIN_BASELINE = 5
FEEDBACK_DROP = 0.3


@dataclass
class Alert:
    group: str
    name: str
    kind: str  # error_rate, latency_p95 or feedback_falling
    value: float
    baseline: float | None
    since: float
    state: str = "firing"

    @property
    def key(self) -> tuple[str, str, str]:
        return self.group, self.name, self.kind

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "name": self.name,
            "kind": self.kind,
            "value": self.value,
            "baseline": self.baseline,
            "since": self.since,
            "state": self.state,
            "message": self.message,
        }

    @property
    def message(self) -> str:
        what = {"error_rate": "error rate", "latency_p95": "p95 latency"}.get(
            self.kind, "mean feedback score"
        )
        unit = " ms" if self.kind == "latency_p95" else ""
        base = "no baseline" if self.baseline is None else f"baseline {self.baseline}{unit}"
        return f"{self.group} {self.name}: {what} {self.value}{unit} ({base})"


class Detector:
    def __init__(self, stats: Stats, signals: Signals | None = None) -> None:
        self.stats = stats
        self.signals = signals
        self.active: dict[tuple[str, str, str], Alert] = {}

    def evaluate(self, now_minute: int, now_s: float) -> list[Alert]:
        """Alerts that fired or resolved since the last evaluation."""
        changed: list[Alert] = []
        seen: set[tuple[str, str, str]] = set()
        judged = self._judge_feedback(now_minute, now_s)
        for group in WATCHED:
            for name in self.stats.names(group):
                judged += self._judge(group, name, now_minute, now_s)
        for alert in judged:
            seen.add(alert.key)
            if alert.key not in self.active:
                self.active[alert.key] = alert
                changed.append(alert)
            else:
                self.active[alert.key].value = alert.value
        for key in [key for key in self.active if key not in seen]:
            resolved = self.active.pop(key)
            resolved.state = "resolved"
            changed.append(resolved)
        return changed

    def _judge(self, group: str, name: str, now_minute: int, now_s: float) -> list[Alert]:
        series = self.stats.get(group, name)
        if series is None:
            return []
        recent = series.window(now_minute - RECENT_MINUTES + 1, now_minute)
        if recent.calls < MIN_CALLS:
            return []
        start = now_minute - RECENT_MINUTES - BASELINE_MINUTES + 1
        baseline = series.window(start, now_minute - RECENT_MINUTES)
        alerts = []
        rate, base_rate = recent.error_rate or 0.0, baseline.error_rate
        if rate >= ERROR_FLOOR and rate >= FACTOR * (base_rate or 0.0):
            alerts.append(Alert(group, name, "error_rate", rate, base_rate, now_s))
        p95, base_p95 = recent.p(0.95), baseline.p(0.95)
        if (
            p95 is not None
            and base_p95 is not None
            and baseline.timed >= MIN_BASELINE
            and p95 >= FACTOR * base_p95
        ):
            alerts.append(Alert(group, name, "latency_p95", p95, base_p95, now_s))
        return alerts

    def _judge_feedback(self, now_minute: int, now_s: float) -> list[Alert]:
        """Every tool's recent feedback against its baseline, each window summed once."""
        if self.signals is None:
            return []
        first = now_minute - FEEDBACK_RECENT_MINUTES + 1
        recent = self.signals.feedback_means(first, now_minute)
        baseline = self.signals.feedback_means(first - BASELINE_MINUTES, first - 1)
        alerts = []
        for tool, (mean, count) in sorted(recent.items()):
            base, base_count = baseline.get(tool, (None, 0))
            if (
                base is not None
                and count >= FEEDBACK_MIN
                and base_count >= FEEDBACK_MIN_BASELINE
                and mean <= base - FEEDBACK_DROP
            ):
                alerts.append(Alert("tool", tool, "feedback_falling", mean, base, now_s))
        return alerts
