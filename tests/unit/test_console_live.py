"""The console's live state: aggregates, anomalies and events built by tailing the log."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import pytest

from gateway.audit.records import RecordContext, StoredRecord
from gateway.audit.sqlite_store import SQLiteStore
from gateway.config.models import ReviewPolicy
from gateway.console.anomalies import Detector
from gateway.console.events import Event, EventHub
from gateway.console.live import CALL_ENTRY_BYTES, Console
from gateway.console.stats import (
    BOUNDS_MS,
    GROUPS,
    MINUTES,
    SERIES_BYTES,
    Series,
    Stats,
    minute_of,
    percentile,
)
from gateway.console.tail import GAP_GRACE_S, Tailer
from gateway.experiments import reviews
from gateway.experiments.flagged import AlertReviews
from gateway.policy.auth import Principal

NOW = dt.datetime(2026, 11, 29, 12, 0, 30, tzinfo=dt.UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def call(store: SQLiteStore, call_id: str, *, tool: str = "get_customer", ok: bool = True,
         ms: float = 10.0, agent: str = "key:bot", session: str | None = None,
         backend: str = "customer_master") -> None:  # fmt: skip
    context = RecordContext("t" * 32, "s" * 16, agent, "sha256:x")
    store.append("call.intent", call_id, {
        "tool": tool, "backend": backend, "principal": agent,
        "context": {"session_id": session, "reasoning": "why"} if session else {},
    }, context)  # fmt: skip
    interaction = {"backend": backend, "adapter": "soap", "duration_ms": ms * 0.8,
                   "error": None if ok else {"code": "backend_unavailable"}}  # fmt: skip
    outcome: dict[str, Any] = {"status": "ok" if ok else "error", "duration_ms": ms}
    if not ok:
        outcome["error"] = {"code": "backend_unavailable"}
    store.append_many([("interaction", call_id, interaction), ("call.outcome", call_id, outcome)],
                      context)  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "audit.sqlite")


def test_percentiles_come_from_the_histogram_within_a_bucket() -> None:
    series = Series()
    for ms in range(1, 101):
        series.add(10, float(ms), None)
    window = series.window(10, 10)
    assert window.calls == 100
    p50, p99 = window.p(0.5), window.p(0.99)
    assert p50 is not None and p99 is not None
    # Each bucket is 1.6 times the last: the estimate is within one bucket of the truth.
    assert 50 / 1.6 <= p50 <= 50 * 1.6
    assert 99 / 1.6 <= p99 <= 99 * 1.6
    assert percentile([0] * (len(BOUNDS_MS) + 1), 0.5) is None


def test_a_slot_is_reused_a_day_later_and_older_records_are_ignored() -> None:
    series = Series()
    series.add(5, 1.0, None)
    series.add(5 + MINUTES, 1.0, "boom")  # the same slot, a day on
    assert series.window(5, 5).calls == 0
    assert series.at(5 + MINUTES).errors == 1
    series.add(5, 1.0, None)  # late by a day: dropped, not mixed into today's minute
    assert series.at(5 + MINUTES).calls == 1


def test_memory_per_series_is_fixed_and_series_are_capped() -> None:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    stats = Stats(max_series=2 + len(GROUPS))
    for minute in range(0, 3 * MINUTES, 7):  # three days of traffic
        for name in ("a", "b", "c", "d", "e"):
            stats.record("tool", name, minute, 5.0, None)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert stats.names("tool") == ["(other)", "a", "b"]
    assert stats.count == 3  # the cap leaves room for the other groups' (other)
    assert used < 3 * SERIES_BYTES * 1.3


def test_the_tailer_folds_calls_into_tool_backend_agent_and_legacy_series(
    store: SQLiteStore,
) -> None:
    console = Console(store)
    for number in range(8):
        call(store, f"ok-{number}", session="s1")
    call(store, "bad-1", ok=False, ms=2.0)
    assert console.step() == 9 * 3
    snapshot = console.snapshot(60, ("tool", "backend", "agent", "legacy"))
    tool = snapshot["tool"]["get_customer"]
    assert tool["calls"] == 9
    assert tool["errors"] == 1
    assert tool["errors_by_code"] == {"backend_unavailable": 1}
    assert tool["in_flight"] == 0
    assert snapshot["backend"]["customer_master"]["calls"] == 9
    assert snapshot["agent"]["key:bot"]["calls"] == 9
    assert snapshot["legacy"]["customer_master"]["calls"] == 9
    points = tool["per_minute"]
    assert len(points) == 60
    assert points[-1][1] == 9  # this minute
    assert console.session_calls("s1") == [f"ok-{n}" for n in range(8)]
    assert console.step() == 0  # each record once


def test_a_call_without_outcome_is_in_flight(store: SQLiteStore) -> None:
    console = Console(store, clock=Clock(NOW))
    store.append("call.intent", "c1", {"tool": "slow", "backend": "b"},
                 RecordContext(principal="key:bot"))  # fmt: skip
    console.step()
    assert console.snapshot(5, ("tool",))["tool"] == {}
    assert console.in_flight["slow"] == 1


def test_a_backend_that_starts_failing_raises_an_alert_then_resolves(
    store: SQLiteStore,
) -> None:
    clock = Clock(time.time())
    console = Console(store, clock=clock)
    published: list[Event] = []
    console.hub.publish = published.append  # type: ignore[method-assign]
    for number in range(5):
        call(store, f"bad-{number}", ok=False)
    console.step()
    alerts = console.alerts()
    assert {(a["group"], a["name"], a["kind"]) for a in alerts} == {
        ("tool", "get_customer", "error_rate"), ("backend", "customer_master", "error_rate"),
    }  # fmt: skip
    assert all(a["value"] == 1.0 and a["state"] == "firing" for a in alerts)
    fired = [e for e in published if e.kind == "alert"]
    assert len(fired) == 2 and fired[0].principal is None  # for auditors only
    gauge = console.anomaly.labels("backend", "customer_master", "error_rate")
    assert gauge._value.get() == 1  # exported for Prometheus
    clock.now += 5 * 60  # the failing minutes leave the recent window
    console._last_judged = 0.0
    console.step()
    assert console.alerts() == []
    resolved = [e for e in published if e.kind == "alert" and e.data["state"] == "resolved"]
    assert len(resolved) == 2
    assert gauge._value.get() == 0


def test_slow_calls_against_a_fast_baseline_raise_a_latency_alert() -> None:
    stats = Stats()
    now = minute_of(NOW)
    for minute in range(now - 40, now - 5):  # a baseline of fast calls
        stats.record("backend", "cm", minute, 5.0, None)
    detector = Detector(stats)
    assert detector.evaluate(now, NOW) == []
    for _ in range(5):
        stats.record("backend", "cm", now, 500.0, None)
    (alert,) = detector.evaluate(now, NOW)
    assert (alert.group, alert.name, alert.kind, alert.state) == (
        "backend",
        "cm",
        "latency_p95",
        "firing",
    )
    assert alert.baseline is not None and alert.value >= 3 * alert.baseline
    assert "p95 latency" in alert.message


def test_events_reach_only_those_who_may_see_them() -> None:
    async def main() -> tuple[list[bytes], list[bytes]]:
        hub = EventHub()
        bot = Principal("key:bot", ("get_customer",))
        auditor = Principal("key:auditor", ("audit",))
        got: dict[str, list[bytes]] = {"bot": [], "auditor": []}

        async def listen(name: str, who: Principal, frames: int) -> None:
            async for chunk in hub.stream(who):  # waiting events come in one chunk
                got[name] += [frame + b"\n\n" for frame in chunk.split(b"\n\n") if frame]
                if len(got[name]) == frames:
                    return

        tasks = [asyncio.create_task(listen("bot", bot, 3)),
                 asyncio.create_task(listen("auditor", auditor, 5))]  # fmt: skip
        await asyncio.sleep(0.01)
        hub.publish(Event("call", {"call_id": "other"}, "key:other"))
        hub.publish(Event("alert", {"name": "cm"}))
        hub.publish(Event("call", {"call_id": "mine"}, "key:bot"))
        hub.publish(Event("call", {"call_id": "mine2"}, "key:bot"))
        await asyncio.wait_for(asyncio.gather(*tasks), 2)
        assert hub.listeners == set()
        return got["bot"], got["auditor"]

    bot, auditor = asyncio.run(main())
    assert bot[1:] == [b'event: call\ndata: {"call_id":"mine"}\n\n',
                       b'event: call\ndata: {"call_id":"mine2"}\n\n']  # fmt: skip
    assert auditor[1:] == [b'event: call\ndata: {"call_id":"other"}\n\n',
                           b'event: alert\ndata: {"name":"cm"}\n\n',
                           b'event: call\ndata: {"call_id":"mine"}\n\n',
                           b'event: call\ndata: {"call_id":"mine2"}\n\n']  # fmt: skip


def test_minutes_are_utc_epoch_minutes() -> None:
    assert minute_of(120.5) == 2


class GappyStore:
    """A store whose record 1 is not committed yet (another process's insert in flight)."""

    def __init__(self) -> None:
        self.rows = {0: b"", 2: b""}

    def count(self) -> int:
        return 3

    def first_index(self) -> int:
        return 0

    def read(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        return [(i, self.rows[i]) for i in range(start, stop) if i in self.rows]

    read_new = read


def test_the_tailer_waits_at_a_gap_then_passes_it(store: SQLiteStore) -> None:
    for number in range(3):
        store.append("config.loaded", None, {"n": number})
    rows = dict(store.read(0, 3))
    gappy = GappyStore()
    gappy.rows = {0: rows[0], 2: rows[2]}
    clock = Clock(0.0)
    tailer = Tailer(gappy, backfill=100, clock=clock)  # type: ignore[arg-type]
    assert [r.body["n"] for r in tailer.read()] == [0]
    assert tailer.read() == []  # record 1 may still come
    gappy.rows[1] = rows[1]
    assert [r.body["n"] for r in tailer.read()] == [1, 2]
    tailer.position = 0
    del gappy.rows[1]
    assert [r.body["n"] for r in tailer.read()] == [0]
    clock.now = GAP_GRACE_S - 1
    assert tailer.read() == []
    clock.now = GAP_GRACE_S + 1  # it never came: a rolled-back insert
    assert [r.body["n"] for r in tailer.read()] == [2]


def test_the_calls_an_alert_covers_go_to_the_review_queue(store: SQLiteStore) -> None:
    """With ``every_anomaly``, the calls of the window that raised an alert, and those that
    end while it is open, are queued for review with the alert named as the reason."""
    policies = {"get_customer": ReviewPolicy(every_anomaly=True), "other": ReviewPolicy()}
    flagged = AlertReviews(store, policies.get, lambda: "sha256:x")
    clock = Clock(time.time())
    console = Console(store, clock=clock, reviews=flagged)
    for number in range(5):
        call(store, f"bad-{number}", ok=False)
    call(store, "other-1", tool="other", ok=False)  # same backend; its policy does not ask
    console.step()
    tool_alert = "anomaly:tool:get_customer:error_rate"
    backend_alert = "anomaly:backend:customer_master:error_rate"
    waiting = {entry["call_id"]: entry for entry in reviews.queue(store)}
    assert sorted(waiting) == [f"bad-{n}" for n in range(5)]
    assert all(set(e["reasons"]) == {tool_alert, backend_alert} for e in waiting.values())
    assert waiting["bad-0"]["alert"]["kind"] == "error_rate"
    assert waiting["bad-0"]["tool"] == "get_customer"

    # A call of the tool that ends while the alert is open is covered too.
    call(store, "late-1", ok=True)
    clock.now += 1
    console.step()
    assert set(reviews.queue(store, "get_customer")[-1]["reasons"]) == {tool_alert, backend_alert}
    assert reviews.queue(store)[-1]["call_id"] == "late-1"

    # A console started again over the same log raises the same alerts, queues nothing twice.
    requested = len(store.records_of_kind(reviews.REQUESTED))
    Console(store, clock=clock, reviews=flagged).step()
    assert len(store.records_of_kind(reviews.REQUESTED)) == requested == 12


def test_without_every_anomaly_an_alert_queues_nothing(store: SQLiteStore) -> None:
    flagged = AlertReviews(store, {"get_customer": ReviewPolicy(share=0.0)}.get, lambda: "v")
    console = Console(store, clock=Clock(time.time()), reviews=flagged)
    for number in range(5):
        call(store, f"bad-{number}", ok=False)
    console.step()
    assert console.alerts() != []
    assert reviews.queue(store) == []


def test_a_call_in_flight_outlives_the_recent_calls_and_still_comes_down(
    store: SQLiteStore,
) -> None:
    # Room for about ten recent calls: the long one is pushed out by the calls after it.
    console = Console(store, calls_bytes=10 * (CALL_ENTRY_BYTES + 60))
    context = RecordContext("a" * 32, "b" * 16, "key:bot", "sha256:x")
    store.append("call.intent", "long", {"tool": "slow", "backend": "b", "principal": "key:bot"},
                 context)  # fmt: skip
    console.step()
    assert console.in_flight["slow"] == 1
    for number in range(40):
        call(store, f"quick-{number}", tool="slow", backend="b")
    console.step()
    assert "long" not in console.calls and len(console.calls) < 40
    assert console.in_flight["slow"] == 1 and console.in_flight_backends["b"] == 1
    store.append("call.outcome", "long", {"status": "ok", "duration_ms": 900.0}, context)
    console.step()
    assert console.in_flight["slow"] == 0 and console.in_flight_backends["b"] == 0
    tile = console.snapshot(5, ("tool",))["tool"]["slow"]
    assert tile["calls"] == 41 and tile["in_flight"] == 0


class Generated:
    """A tailer of made-up calls: an intent and an outcome each, half in sessions of ten."""

    def __init__(self) -> None:
        self.made = 0
        self.batch = 0

    def read(self) -> list[StoredRecord]:
        records = []
        for number in range(self.made, self.made + self.batch):
            call_id = str(uuid.uuid4())
            context = RecordContext(uuid.uuid4().hex, "s" * 16, f"key:bot-{number % 5}", "x")
            session = {"session_id": f"session-{number // 10}"} if number % 2 else {}
            body = {"tool": f"tool-{number % 20}", "backend": "customer_master",
                    "principal": f"key:bot-{number % 5}", "context": session}  # fmt: skip
            at = dt.datetime.fromtimestamp(NOW, dt.UTC).isoformat()
            records.append(StoredRecord(2 * number, at, "call.intent", call_id, body, context))
            outcome = {"status": "ok", "duration_ms": 3.0}
            records.append(StoredRecord(2 * number + 1, at, "call.outcome", call_id, outcome,
                                        context))  # fmt: skip
        self.made += self.batch
        return records


def test_recent_calls_and_sessions_stay_within_their_bytes(store: SQLiteStore) -> None:
    calls_bytes, sessions_bytes = 2**20, 2**19
    console = Console(store, clock=Clock(NOW), calls_bytes=calls_bytes,
                      sessions_bytes=sessions_bytes)  # fmt: skip
    generated = Generated()
    console.tailer = generated  # type: ignore[assignment]
    generated.batch = 200  # every series made: what follows is only the calls kept
    console.step()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    generated.batch = 1000
    for _ in range(30):  # 30,000 calls, several times what fits
        console.step()
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert 3000 < len(console.calls) < 20_000
    assert console.session_calls(f"session-{(generated.made - 1) // 10}")
    assert console.session_calls("session-1") == []  # the oldest went
    # The count of bytes is an upper bound of what the kept calls and sessions hold.
    assert used <= calls_bytes + sessions_bytes
    assert used >= 0.6 * (calls_bytes + sessions_bytes)


def test_recent_calls_caps_come_from_the_environment(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (Console(store).calls_bytes, Console(store).sessions_bytes) == (2 * 2**20, 2**20)
    monkeypatch.setenv("LEGACY_GATEWAY_CONSOLE_CALLS_MIB", "16")
    monkeypatch.setenv("LEGACY_GATEWAY_CONSOLE_SESSIONS_MIB", "0.5")
    assert (Console(store).calls_bytes, Console(store).sessions_bytes) == (16 * 2**20, 2**19)
    monkeypatch.setenv("LEGACY_GATEWAY_CONSOLE_CALLS_MIB", "lots")
    with pytest.raises(ValueError, match="LEGACY_GATEWAY_CONSOLE_CALLS_MIB takes MiB"):
        Console(store)
