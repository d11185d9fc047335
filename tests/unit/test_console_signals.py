"""What the console counts beside latency: data flow, refusals, truncations, breaker states,
feedback trends and the feedback-falling anomaly, and the alert webhook."""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from gateway.audit.records import RecordContext
from gateway.audit.sqlite_store import SQLiteStore
from gateway.console.anomalies import FEEDBACK_RECENT_MINUTES, Detector
from gateway.console.live import Console
from gateway.console.signals import ENTRY_BYTES, MAX_ENTRIES, MinuteCounts, Signals
from gateway.console.stats import MINUTES, Stats, minute_of
from gateway.recovery import Lifetimes, Recovery
from tests.http_hosts import serving


def ended(store: SQLiteStore, call_id: str, *, tool: str, backend: str, agent: str,
          error: str | None = None, result: Any = None) -> None:  # fmt: skip
    context = RecordContext("t" * 32, "s" * 16, agent, "sha256:x")
    store.append("call.intent", call_id, {"tool": tool, "backend": backend, "principal": agent},
                 context)  # fmt: skip
    outcome: dict[str, Any] = {"status": "ok", "duration_ms": 4.0, "result": result}
    if error is not None:
        outcome = {"status": "error", "duration_ms": 1.0, "error": {"code": error}}
    store.append("call.outcome", call_id, outcome, context)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "audit.sqlite")


def test_flows_refusals_truncations_and_the_breaker_come_from_the_records(
    store: SQLiteStore,
) -> None:
    console = Console(store)
    for number in range(3):
        ended(store, f"a{number}", tool="get_customer", backend="cm", agent="key:teller")
    ended(store, "b1", tool="get_customer", backend="cm", agent="key:audit-bot",
          error="rate_limited")  # fmt: skip
    ended(store, "c1", tool="list_postings", backend="ledger", agent="key:teller",
          result={"items": [1], "truncated": True, "next_cursor": "x"})  # fmt: skip
    ended(store, "c2", tool="list_postings", backend="ledger", agent="key:teller",
          error="circuit_open")  # fmt: skip
    console.step()

    flows = console.flows(60)
    assert flows[0] == {"agent": "key:teller", "tool": "get_customer", "backend": "cm",
                        "calls": 3, "errors": 0, "error_share": 0}  # fmt: skip
    by_key = {(f["agent"], f["tool"], f["backend"]): f for f in flows}
    assert by_key[("key:audit-bot", "get_customer", "cm")]["error_share"] == 1.0
    assert by_key[("key:teller", "list_postings", "ledger")]["calls"] == 2
    assert by_key[("key:teller", "list_postings", "ledger")]["error_share"] == 0.5
    assert [f["agent"] for f in console.flows(60, agent="key:audit-bot")] == ["key:audit-bot"]

    snapshot = console.snapshot(60, ("tool", "backend"))
    customer, postings = snapshot["tool"]["get_customer"], snapshot["tool"]["list_postings"]
    assert (customer["rate_limited"], customer["circuit_open"], customer["truncated"]) == (1, 0, 0)
    assert (postings["rate_limited"], postings["circuit_open"], postings["truncated"]) == (0, 1, 1)
    ledger = snapshot["backend"]["ledger"]
    assert ledger["breaker"]["state"] == "open"
    assert snapshot["backend"]["cm"]["breaker"] == {"state": "closed"}
    assert ledger["in_flight"] == 0

    ended(store, "c3", tool="list_postings", backend="ledger", agent="key:teller")
    console.step()
    assert console.snapshot(60, ("backend",))["backend"]["ledger"]["breaker"]["state"] == "closed"


def test_feedback_is_a_trend_per_tool(store: SQLiteStore) -> None:
    console = Console(store)
    ended(store, "f1", tool="get_customer", backend="cm", agent="key:teller")
    for score in (1.0, 0.5, "not a number"):
        store.append("call.feedback", "f1", {"score": score, "label": "x",
                                             "principal": "key:reviewer"})  # fmt: skip
    console.step()
    trend = console.feedback(60)["get_customer"]
    assert trend["mean_score"] == 0.75
    assert trend["scores"] == 2
    assert len(trend["per_minute"]) == 60
    assert trend["per_minute"][-1][1:] == [0.75, 2]
    assert trend["per_minute"][0][1:] == [None, 0]


def test_falling_feedback_raises_an_alert_and_resolves() -> None:
    stats, signals = Stats(), Signals()
    now = minute_of(time.time())
    stats.record("tool", "get_customer", now, 5.0, None)
    for minute in range(now - 40, now - 20):  # a baseline of good scores
        signals.feedback_given(minute, "get_customer", 0.9)
    detector = Detector(stats, signals)
    for _ in range(3):
        signals.feedback_given(now - 1, "get_customer", 0.8)  # a little lower: no alert
    assert detector.evaluate(now, 0.0) == []
    for _ in range(6):
        signals.feedback_given(now, "get_customer", 0.1)
    (alert,) = detector.evaluate(now, 1.0)
    assert (alert.group, alert.name, alert.kind, alert.state) == (
        "tool", "get_customer", "feedback_falling", "firing",
    )  # fmt: skip
    assert alert.baseline == 0.9 and alert.value < 0.5
    assert "mean feedback score" in alert.message
    later = now + FEEDBACK_RECENT_MINUTES  # the bad scores leave the recent window
    (resolved,) = detector.evaluate(later, 2.0)
    assert resolved.state == "resolved"


def test_minute_counts_keep_a_day_and_a_bounded_number_of_keys() -> None:
    counts = MinuteCounts(max_keys=3)
    for key in "abcde":
        counts.add(100, key)
    assert counts.at(100) == {"a": 1, "b": 1, "c": 1, "(other)": 2}
    counts.add(100 + MINUTES, "a")
    assert 100 not in counts.minutes  # a day later the oldest minute is gone
    assert counts.window(0, 100 + MINUTES) == {"a": 1}
    assert counts.entries == 1
    counts.add(100, "late")  # older than the day kept: not counted
    assert counts.window(0, 100 + MINUTES) == {"a": 1}


def test_a_counter_stays_within_its_memory_budget_whatever_the_traffic() -> None:
    signals = Signals()
    flows = signals.flows
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    minute = 0
    while flows.entries < MAX_ENTRIES:  # 150 flows of fresh strings each minute
        for number in range(150):
            signals.call_ended(minute, "", f"key:agent-{number % 30}", f"tool_{number % 50}",
                               f"backend_{number % 5}", None, {})  # fmt: skip
        minute += 1
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    full = flows.entries
    assert MAX_ENTRIES <= full <= MAX_ENTRIES + 1  # (other) took the last minute's rest
    assert used < MAX_ENTRIES * ENTRY_BYTES, used
    signals.call_ended(minute + 1, "", "key:new", "tool_new", "b", None, {})
    assert flows.at(minute + 1) == {"(other)": 1}  # over budget: counted, not kept apart
    assert flows.entries == full + 1  # (other), once a minute at most


class Receiver(BaseHTTPRequestHandler):
    posted: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        Receiver.posted.append(
            {"type": self.headers["content-type"], "body": json.loads(self.rfile.read(length))}
        )
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.posted = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/alerts"


def test_alerts_are_posted_to_the_webhook_when_raised_and_cleared(
    store: SQLiteStore, receiver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEGACY_GATEWAY_ALERT_WEBHOOK", receiver)
    clock_now = [time.time()]
    console = Console(store, clock=lambda: clock_now[0])
    for number in range(4):
        ended(store, f"bad{number}", tool="get_customer", backend="cm", agent="key:t",
              error="backend_unavailable")  # fmt: skip
    console.step()
    wait_for(lambda: len(Receiver.posted) >= 2)
    firing = {(p["body"]["group"], p["body"]["kind"], p["body"]["state"]) for p in Receiver.posted}
    assert firing == {("tool", "error_rate", "firing"), ("backend", "error_rate", "firing")}
    assert Receiver.posted[0]["type"] == "application/json"
    assert Receiver.posted[0]["body"]["event"] == "alert"
    assert Receiver.posted[0]["body"]["value"] == 1.0

    clock_now[0] += 5 * 60
    console._last_judged = 0.0
    console.step()
    wait_for(lambda: len(Receiver.posted) >= 4)
    assert {p["body"]["state"] for p in Receiver.posted[2:]} == {"resolved"}


def test_of_the_processes_on_one_log_one_posts_an_alert_and_the_next_takes_over(
    store: SQLiteStore, receiver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers and replicas each judge the same anomalies from the same log: the one with the
    oldest live lease posts them; when it stops, the next one posts what fires."""
    monkeypatch.setenv("LEGACY_GATEWAY_ALERT_WEBHOOK", receiver)
    oldest, younger = Recovery(store, "gw-a"), Recovery(store, "gw-b", Lifetimes(lease_s=0.4))
    oldest.begin()
    younger.begin()
    assert (oldest.posts_alerts, younger.posts_alerts) == (True, False)
    first, second = Console(store), Console(store)
    first.posts_alerts = lambda: oldest.posts_alerts
    second.posts_alerts = lambda: younger.posts_alerts
    for number in range(4):
        ended(store, f"bad{number}", tool="get_customer", backend="cm", agent="key:t",
              error="backend_unavailable")  # fmt: skip
    first.step()
    second.step()
    wait_for(lambda: len(Receiver.posted) >= 2)
    assert {(p["body"]["group"], p["body"]["state"]) for p in Receiver.posted} == {
        ("tool", "firing"), ("backend", "firing"),
    }  # fmt: skip
    assert second.webhook is not None and second.webhook.queue.empty()
    assert (second.webhook.sent, second.webhook.failed) == (0, 0)
    assert {alert.kind for alert in second.detector.active.values()} == {"error_rate"}

    time.sleep(0.5)  # the oldest goes silent (killed): its lease outlives the younger's wait
    younger.sweep()
    assert younger.posts_alerts
    second._last_judged = 0.0
    second.step()  # the new poster posts what fires now
    wait_for(lambda: len(Receiver.posted) >= 4)
    assert {(p["body"]["group"], p["body"]["state"]) for p in Receiver.posted[2:]} == {
        ("tool", "firing"), ("backend", "firing"),
    }  # fmt: skip
    assert len(Receiver.posted) == 4
    assert [lease.instance_id for lease in store.leases()] == [younger.instance_id]


def test_a_webhook_that_is_not_a_url_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                store: SQLiteStore) -> None:  # fmt: skip
    monkeypatch.setenv("LEGACY_GATEWAY_ALERT_WEBHOOK", "ftp://example.org/x")
    with pytest.raises(ValueError, match="http"):
        Console(store)


def wait_for(check: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the webhook never received the alert"
        time.sleep(0.02)


def test_a_restarted_process_posts_though_its_previous_life_is_older_and_fresh(
    store: SQLiteStore,
) -> None:
    """A process that comes back under its name (a pod restarted) retires the lease of its
    previous life, whose heartbeat may still be fresh: that lease does not post any more."""
    previous = Recovery(store, "gw-a")
    previous.begin()
    restarted = Recovery(store, "gw-a")
    restarted.begin()
    assert restarted.posts_alerts
    assert [lease.instance_id for lease in store.leases()] == [restarted.instance_id]

    replica = Recovery(store, "gw-b")
    replica.begin()
    assert (restarted.posts_alerts, replica.posts_alerts) == (True, False)
    again = Recovery(store, "gw-a")
    again.begin()
    assert not again.posts_alerts  # gw-b is now the oldest live lease
    replica.sweep()
    assert replica.posts_alerts
    assert [lease.name for lease in store.leases()] == ["gw-b", "gw-a"]
