"""The report's statistics on known data, and the report over a known record."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.audit.records import RecordContext, StoredRecord
from gateway.errors import InvalidArguments
from gateway.experiments import stats
from gateway.experiments.report import render, report, since_of


def wilson(count: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's score interval, written out (Wilson 1927), to check the library against."""
    p = count / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half


def test_a_rate_has_its_wilson_interval() -> None:
    answer = stats.rate(9, 100)
    assert answer["rate"] == 0.09
    low, high = wilson(9, 100)
    assert answer["ci95"] == pytest.approx([low, high], abs=1e-6)
    assert answer["ci95"] == pytest.approx([0.0481, 0.1623], abs=1e-4)  # published value
    assert stats.rate(0, 0) == {"count": 0, "of": 0, "rate": None, "ci95": None}
    # Wilson's interval never leaves [0, 1], even at 0 of n.
    assert stats.rate(0, 20)["ci95"][0] == 0.0


def test_a_difference_has_newcombs_interval() -> None:
    # Newcomb (1998), method 10: from the two Wilson intervals.
    answer = stats.difference(2, 100, 9, 100)
    (l1, u1), (l2, u2) = wilson(2, 100), wilson(9, 100)
    d = 0.02 - 0.09
    low = d - math.sqrt((0.02 - l1) ** 2 + (u2 - 0.09) ** 2)
    high = d + math.sqrt((u1 - 0.02) ** 2 + (0.09 - l2) ** 2)
    assert answer["difference"] == pytest.approx(-0.07)
    assert answer["ci95"] == pytest.approx([low, high], abs=1e-6)


def test_the_decision_rule() -> None:
    assert stats.verdict(stats.difference(2, 100, 9, 100), 100, 100) == "better"
    assert stats.verdict(stats.difference(9, 100, 2, 100), 100, 100) == "worse"
    assert stats.verdict(stats.difference(5, 100, 6, 100), 100, 100) == "undecided"
    assert stats.verdict(stats.difference(0, 29, 9, 100), 29, 100) == "too_few_calls"


def test_a_mean_has_its_t_interval() -> None:
    answer = stats.mean([1.0, 2.0, 3.0, 4.0])
    # mean 2.5, sd 1.290994, t(0.975, 3) = 3.182446
    half = 3.182446305284263 * 1.2909944487358056 / 2
    assert answer == {"n": 4, "mean": 2.5, "ci95": pytest.approx([2.5 - half, 2.5 + half])}
    assert stats.mean([7.0]) == {"n": 1, "mean": 7.0, "ci95": None}
    assert stats.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0


class Records:
    """A record store that holds ``records`` (only what the report reads)."""

    def __init__(self) -> None:
        self.records: list[StoredRecord] = []

    def add(self, kind: str, call_id: str | None, body: dict[str, Any], at: str = "") -> None:
        when = at or "2026-11-01T10:00:00+00:00"
        context = RecordContext(config_version="sha256:v1")
        self.records.append(StoredRecord(len(self.records), when, kind, call_id, body, context))

    def records_of_kind(self, *kinds: str) -> list[StoredRecord]:
        return [r for r in self.records if r.kind in kinds]


def call(records: Records, n: int, variant: str, outcome: str, **extra: Any) -> None:
    cid = f"{variant}-{n}"
    intent = {"tool": "get_rate", "variant": variant,
              "context": {"agent_version": extra.pop("agent_version", "1")}}  # fmt: skip
    if outcome == "invalid":
        error = {"code": InvalidArguments.code}
        records.add("call.rejected", cid, {**intent, "error": error})
        return
    # A call's records are written as it goes: none before its intent.
    at = extra.pop("at", "")
    records.add("call.intent", cid, intent, at)
    for attempt in range(extra.pop("attempts", 1)):
        records.add("interaction", cid, {"attempt": attempt + 1}, at)
    body: dict[str, Any] = {"status": "ok" if outcome == "ok" else "error",
                            "duration_ms": extra.pop("ms", 10.0)}  # fmt: skip
    if outcome != "ok":
        body["error"] = {"code": outcome}
    records.add("call.outcome", cid, body, at)


def known_record() -> Records:
    records = Records()
    for n in range(100):  # baseline: 9 refused arguments, 1 legacy fault of 100
        outcome = "invalid" if n < 9 else "legacy_fault" if n == 9 else "ok"
        call(records, n, "baseline", outcome, ms=float(n))
    for n in range(100):  # b: 2 refused of 100, 3 retried calls
        call(records, n, "b", "invalid" if n < 2 else "ok", attempts=2 if n < 5 else 1)
    records.add("call.feedback", "b-50", {"score": 4, "correction": {"rate": 1.1}})
    records.add("call.feedback", "b-51", {"score": 2})
    records.add("call.feedback", "b-52", {"review": True, "label": "ok"},
                at="2026-11-01T12:30:00+00:00")  # fmt: skip
    records.add("call.shadow", "b-60", {"agree": False, "status": "ok", "fields": ["rate"]})
    records.add("call.shadow", "b-61", {"agree": True, "status": "ok", "fields": []})
    records.add("experiment.stopped", None, {"tool": "get_rate", "variant": "c", "calls": 20,
                                             "errors": 15, "error_rate": 0.75})  # fmt: skip
    return records


def test_the_report_counts_each_variant_and_compares_it_with_the_baseline() -> None:
    answer = report(known_record(), "get_rate")
    assert answer["decision_rule"] == stats.DECISION_RULE
    [tool] = answer["tools"]
    assert tool["baseline"] == "baseline"
    base, b = tool["groups"]
    assert (base["name"], base["calls"], b["name"], b["calls"]) == ("baseline", 100, "b", 100)
    assert base["errors_by_code"] == {"invalid_arguments": 9, "legacy_fault": 1}
    assert base["error_rate"]["count"] == 10
    assert base["invalid_argument_rate"] == stats.rate(9, 100)
    assert b["invalid_argument_rate"] == stats.rate(2, 100)
    assert b["retries"] == 3
    assert b["retried_rate"]["count"] == 3
    assert b["feedback_score"]["mean"] == 3.0
    assert b["correction_rate"]["count"] == 1
    assert b["review_delay_s"] == {"reviewed": 1, "p50": 9000.0, "p95": 9000.0}
    assert base["review_delay_s"]["reviewed"] == 0
    assert b["shadow"]["runs"] == 2
    assert b["shadow"]["disagreement_rate"]["count"] == 1
    assert b["shadow"]["fields"] == {"rate": 1}
    assert base["latency_ms"]["n"] == 91  # the refused calls never reached the backend
    versus = b["error_rate_versus_baseline"]
    assert versus == {**stats.difference(2, 100, 10, 100), "verdict": "better"}
    assert tool["stopped"][0]["variant"] == "c"
    text = render(answer)
    assert "b " in text and "better" in text and "stopped c" in text


def test_the_report_groups_by_a_context_key() -> None:
    records = Records()
    for n in range(40):
        call(records, n, "baseline", "ok", agent_version="1")
        call(records, n + 100, "baseline", "invalid" if n < 20 else "ok", agent_version="2")
    [tool] = report(records, by="agent_version")["tools"]
    assert tool["baseline"] == "1"  # the version seen first is the reference
    first, second = tool["groups"]
    assert (first["name"], second["name"]) == ("1", "2")
    assert second["error_rate_versus_baseline"]["verdict"] == "worse"


def test_since_keeps_later_calls_only() -> None:
    records = Records()
    call(records, 1, "baseline", "ok", at="2026-10-01T00:00:00+00:00")
    call(records, 2, "baseline", "ok", at="2026-11-20T00:00:00+00:00")
    [tool] = report(records, since="2026-11-01")["tools"]
    assert tool["groups"][0]["calls"] == 1
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    assert since_of("24h", now) == datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert since_of("2w", now) == datetime(2026, 11, 15, 12, tzinfo=UTC)
    with pytest.raises(InvalidArguments):
        since_of("yesterday")


def test_a_tools_window_applies_when_no_since_is_given() -> None:
    records = Records()
    long_ago, lately = "2020-01-01T00:00:00+00:00", datetime.now(UTC).isoformat()
    call(records, 1, "baseline", "ok", at=long_ago)
    call(records, 2, "baseline", "ok", at=lately)
    [tool] = report(records, windows={"get_rate": "24h"})["tools"]
    assert (tool["window"], tool["groups"][0]["calls"]) == ("24h", 1)
    [tool] = report(records, since="2019-01-01", windows={"get_rate": "24h"})["tools"]
    assert (tool["window"], tool["groups"][0]["calls"]) == (None, 2)
    [tool] = report(records)["tools"]
    assert tool["groups"][0]["calls"] == 2


class IndexedRecords(Records):
    """A store that reads a window by time, as the SQL stores do from their index."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def records_since(self, since: str, *kinds: str) -> list[StoredRecord]:
        self.asked.append((since, kinds))
        return [r for r in self.records if r.kind in kinds and r.at >= since]

    def records_of_kind(self, *kinds: str) -> list[StoredRecord]:
        assert kinds == ("experiment.stopped",), "a windowed report reads no call in full"
        return super().records_of_kind(*kinds)


def test_a_window_is_read_from_the_index_and_reports_the_same() -> None:
    indexed, plain = IndexedRecords(), Records()
    for records in (indexed, plain):
        for n in range(40):
            day = 1 + n % 28
            at = f"2026-11-{day:02d}T10:00:00+00:00"
            call(records, n, "b" if n % 2 else "baseline", "ok" if n % 5 else "legacy_fault", at=at)
            records.add("call.feedback", f"{'b' if n % 2 else 'baseline'}-{n}", {"score": 3}, at)
    answer = report(indexed, since="2026-11-20")
    assert answer == report(plain, since="2026-11-20")
    assert sum(g["calls"] for g in answer["tools"][0]["groups"]) == 9  # days 20 to 28
    [(intents_from, starts), (later_from, later)] = indexed.asked
    assert intents_from == "2026-11-20T00:00:00.000000+00:00"
    assert starts == ("call.intent", "call.rejected")
    # The later records from the first call in the window on, less a margin for clocks.
    assert later_from == "2026-11-20T09:55:00.000000+00:00"
    assert "call.outcome" in later and "call.intent" not in later
