"""The comparison of a tool's variants (or of agent versions) from the record store.

Each call is read from its records: ``call.intent`` (or ``call.rejected``) says which tool,
variant and context; ``call.outcome`` how it ended and how long it took; ``interaction``
records its retries; ``call.feedback`` scores and corrections; ``call.shadow`` how a shadow
variant's result compared. Calls are grouped by variant (or by a context key such as
``agent_version``) and each group is set against the baseline (``stats.DECISION_RULE``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.audit.records import StoredRecord
from gateway.config.models import BASELINE
from gateway.errors import InvalidArguments
from gateway.experiments import stats
from gateway.experiments.live import SHADOW, STOPPED
from gateway.experiments.reading import RecordReader, records_since, stamp

KINDS = (
    "call.intent",
    "call.rejected",
    "call.outcome",
    "interaction",
    "call.feedback",
    SHADOW,
    STOPPED,
)
STARTS = ("call.intent", "call.rejected")
CLOCK_MARGIN = timedelta(minutes=5)
_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass
class CallFacts:
    """What the record says about one call, for the comparison."""

    tool: str
    group: str
    status: str | None = None
    code: str | None = None
    duration_ms: float | None = None
    attempts: int = 0
    scores: list[float] = field(default_factory=list)
    corrected: bool = False
    shadows: list[dict[str, Any]] = field(default_factory=list)
    called_at: str = ""
    # Seconds from the call to its first review: how fast the loop closes.
    reviewed_after_s: float | None = None


def since_of(text: str | None, now: datetime | None = None) -> datetime | None:
    """``24h``, ``7d``, ``30m``, ``2w`` ago, or an ISO date or time (UTC unless it says)."""
    if text is None:
        return None
    now = now or datetime.now(UTC)
    relative = _RELATIVE.match(text.strip())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidArguments(
            [{"field": "since", "message": "give 24h, 7d, 30m, 2w or an ISO date or time"}]
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _group_of(body: dict[str, Any], by: str) -> str | None:
    if by == "variant":
        variant = body.get("variant")
        return variant if isinstance(variant, str) else None
    value = (body.get("context") or {}).get(by)
    return None if value is None else str(value)


def collect(
    records: list[StoredRecord],
    by: str,
    tool: str | None,
    since: datetime | None,
    windows: Mapping[str, datetime] | None = None,
) -> tuple[dict[str, CallFacts], list[dict[str, Any]]]:
    """The calls the report counts (their first record at or after ``since``, else after
    their tool's window), and the guard's stops."""
    windows = windows or {}
    calls: dict[str, CallFacts] = {}
    stops: list[dict[str, Any]] = []
    for record in records:
        body, call_id = record.body, record.call_id
        if record.kind == STOPPED:
            if tool is None or body.get("tool") == tool:
                stops.append({"at": record.at, "config_version": record.context.config_version,
                              **body})  # fmt: skip
            continue
        if call_id is None:
            continue
        if record.kind in ("call.intent", "call.rejected"):
            start = since if since is not None else windows.get(str(body.get("tool")))
            if start is not None and datetime.fromisoformat(record.at) < start:
                continue
            group = _group_of(body, by)
            if group is None or (tool is not None and body.get("tool") != tool):
                continue
            facts = calls.setdefault(call_id, CallFacts(str(body.get("tool")), group))
            facts.called_at = facts.called_at or record.at
            if record.kind == "call.rejected":
                facts.status, facts.code = "error", (body.get("error") or {}).get("code")
            continue
        facts_or_none = calls.get(call_id)
        if facts_or_none is None:
            continue
        facts = facts_or_none
        if record.kind == "call.outcome":
            facts.status = body.get("status")
            facts.code = (body.get("error") or {}).get("code")
            duration = body.get("duration_ms")
            facts.duration_ms = float(duration) if isinstance(duration, int | float) else None
        elif record.kind == "interaction":
            # A retried call's interactions count its attempts; a queue's reply is an
            # interaction of the same attempt.
            attempt = body.get("attempt")
            facts.attempts = max(facts.attempts, attempt if isinstance(attempt, int) else 1)
        elif record.kind == "call.feedback":
            score = body.get("score")
            if isinstance(score, int | float):
                facts.scores.append(float(score))
            facts.corrected = facts.corrected or body.get("correction") is not None
            if body.get("review") is True and facts.reviewed_after_s is None:
                delay = datetime.fromisoformat(record.at) - datetime.fromisoformat(facts.called_at)
                facts.reviewed_after_s = delay.total_seconds()
        elif record.kind == SHADOW:
            facts.shadows.append(body)
    return calls, stops


def read(store: RecordReader, start: datetime | None) -> list[StoredRecord]:
    """The records a report from ``start`` needs, in log order, read by time where the store
    keeps an index: the calls begun since ``start``, their later records from the first of
    those calls on, and every stop (a stop is rare and its report names it whenever it was).
    Without ``start``, every record of the report's kinds."""
    if start is None:
        return store.records_of_kind(*KINDS)
    begun = records_since(store, stamp(start), *STARTS)
    if not begun:
        return store.records_of_kind(STOPPED)
    # A call's later records are written after its intent; the margin covers the clocks of
    # other processes that may write them (a reply on another replica, a reviewer's score).
    first = datetime.fromisoformat(min(record.at for record in begun)) - CLOCK_MARGIN
    later = records_since(store, stamp(first), *(kind for kind in KINDS if kind not in STARTS))
    return sorted([*begun, *later], key=lambda record: record.index)


def _summary(group: str, facts: list[CallFacts]) -> dict[str, Any]:
    ended = [f for f in facts if f.status is not None]
    errors = Counter(f.code or "unknown" for f in ended if f.status == "error")
    invalid = errors.get(InvalidArguments.code, 0)
    latencies = [f.duration_ms for f in ended if f.duration_ms is not None]
    runs = [s for f in facts for s in f.shadows]
    disagreeing = [s for s in runs if not s.get("agree")]
    fields = Counter(name for s in runs for name in s.get("fields", []))
    delays = [f.reviewed_after_s for f in facts if f.reviewed_after_s is not None]
    return {
        "name": group,
        "calls": len(ended),
        "error_rate": stats.rate(sum(errors.values()), len(ended)),
        "errors_by_code": dict(sorted(errors.items())),
        "invalid_argument_rate": stats.rate(invalid, len(ended)),
        "retried_rate": stats.rate(sum(1 for f in ended if f.attempts > 1), len(ended)),
        "retries": sum(max(0, f.attempts - 1) for f in ended),
        "latency_ms": {
            **stats.mean(latencies),
            "p50": stats.percentile(latencies, 0.5),
            "p95": stats.percentile(latencies, 0.95),
        },
        "feedback_score": stats.mean([s for f in facts for s in f.scores]),
        "correction_rate": stats.rate(sum(1 for f in ended if f.corrected), len(ended)),
        "review_delay_s": {
            "reviewed": len(delays),
            "p50": stats.percentile(delays, 0.5),
            "p95": stats.percentile(delays, 0.95),
        },
        "shadow": {
            "runs": len(runs),
            "disagreement_rate": stats.rate(len(disagreeing), len(runs)),
            "errors": sum(1 for s in runs if s.get("status") == "error"),
            "fields": dict(fields.most_common()),
        },
    }


def report(
    store: RecordReader,
    tool: str | None = None,
    since: str | None = None,
    by: str = "variant",
    windows: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Per tool, per group: the comparison and each group's verdict against the baseline
    (``baseline`` for variants; for a context key, the value first seen). Without
    ``since``, a tool in ``windows`` (its ``experiment.window``) is read over its window."""
    now = datetime.now(UTC)
    starts = {name: since_of(text, now) for name, text in (windows or {}).items()}
    start = since_of(since, now)
    windowed = {name: start for name, start in starts.items() if start is not None}
    calls, stops = collect(read(store, start or windowed.get(tool or "")), by, tool, start,
                           windowed)  # fmt: skip
    grouped: dict[str, dict[str, list[CallFacts]]] = defaultdict(dict)
    for facts in calls.values():
        grouped[facts.tool].setdefault(facts.group, []).append(facts)
    tools = []
    for name, groups in sorted(grouped.items()):
        baseline = BASELINE if by == "variant" and BASELINE in groups else next(iter(groups))
        summaries = [_summary(group, facts) for group, facts in groups.items()]
        summaries.sort(key=lambda s: (s["name"] != baseline, s["name"]))
        base = summaries[0]
        for summary in summaries[1:]:
            compared = stats.difference(
                summary["error_rate"]["count"], summary["calls"],
                base["error_rate"]["count"], base["calls"],
            )  # fmt: skip
            compared["verdict"] = stats.verdict(compared, summary["calls"], base["calls"])
            summary["error_rate_versus_baseline"] = compared
        tools.append(
            {
                "tool": name,
                "window": None if since is not None else (windows or {}).get(name),
                "by": by,
                "baseline": baseline,
                "groups": summaries,
                "stopped": [s for s in stops if s.get("tool") == name],
            }
        )
    return {"decision_rule": stats.DECISION_RULE, "since": since, "tools": tools}


def render(answer: dict[str, Any]) -> str:
    """The report as text, a block per tool, a line per group."""
    lines = []
    for tool in answer["tools"]:
        lines.append(f"{tool['tool']}  (by {tool['by']}; baseline: {tool['baseline']})")
        for group in tool["groups"]:
            error, invalid = group["error_rate"], group["invalid_argument_rate"]
            parts = [
                f"  {group['name']:<16} calls {group['calls']:>6}",
                f"errors {_pct(error)}",
                f"invalid args {_pct(invalid)}",
                f"retries {group['retries']}",
                f"p50 {group['latency_ms']['p50']} ms",
            ]
            if group["feedback_score"]["n"]:
                parts.append(f"score {group['feedback_score']['mean']}")
            if group["correction_rate"]["count"]:
                parts.append(f"corrected {_pct(group['correction_rate'])}")
            shadow = group["shadow"]
            if shadow["runs"]:
                parts.append(
                    f"shadow disagrees {_pct(shadow['disagreement_rate'])} "
                    f"of {shadow['runs']} (fields: {', '.join(shadow['fields']) or '-'})"
                )
            versus = group.get("error_rate_versus_baseline")
            if versus is not None and versus["ci95"] is not None:
                low, high = versus["ci95"]
                parts.append(
                    f"vs baseline {versus['difference']:+.1%} "
                    f"[{low:+.1%}, {high:+.1%}] {versus['verdict']}"
                )
            lines.append("  ".join(parts))
        for stop in tool["stopped"]:
            lines.append(
                f"  stopped {stop['variant']} at {stop['at']}: error rate "
                f"{stop['error_rate']:.1%} over {stop['calls']} calls"
            )
    lines.append("")
    lines.append(answer["decision_rule"])
    return "\n".join(lines)


def _pct(summary: dict[str, Any]) -> str:
    if summary["rate"] is None:
        return "-"
    low, high = summary["ci95"]
    return f"{summary['rate']:.1%} [{low:.1%}, {high:.1%}]"
