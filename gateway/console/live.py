"""The console's live state: aggregates, sessions, events and alerts, fed by the tailer.

Records are folded in a worker thread (off the event loop that serves calls); events are
handed to the loop for the listeners. A lock keeps readers (the API) and the folding apart.

Memory is bounded by bytes, not by traffic (ARCHITECTURE.md, "The console's memory"):
``Stats`` and ``Signals`` are fixed (see there); of each recent call the console keeps its
id and a summary shared by every call of the same tool, backend and agent, within
``CALLS_BYTES``, for the records that come after a call ended (feedback, approvals, late
interactions); calls in flight are kept apart until they end, so their in-flight counts
come down even when they outlive the recent calls (at most ``MAX_OPEN``); and the call ids
of recent sessions, within ``SESSIONS_BYTES`` (``MAX_SESSION_CALLS`` a session). A session
no longer kept is read from the store (``/v1/sessions/{id}``). For tools whose review
policy queues the calls an anomaly flagged, the last minutes' calls of each tool and backend
(``MAX_COVERED`` each): those an alert covers when it fires.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import sys
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from gateway.audit.records import StoredRecord
from gateway.audit.store import AuditStore
from gateway.console.anomalies import FEEDBACK_RECENT_MINUTES, RECENT_MINUTES, Alert, Detector
from gateway.console.events import Event, EventHub
from gateway.console.signals import Signals
from gateway.console.stats import Stats, minute_of
from gateway.console.tail import BATCH, Tailer
from gateway.console.webhook import AlertWebhook
from gateway.experiments.flagged import AlertReviews, Covered

log = logging.getLogger("legacy_gateway.console")

# The live view needs the recent calls only (older ones are read from the store): caps that
# fill within the first 10,000 calls, so a worker's memory stops growing early, not after
# hours of traffic. LEGACY_GATEWAY_CONSOLE_CALLS_MIB and ..._SESSIONS_MIB raise them.
CALLS_BYTES = 2 * 2**20  # about 10,000 recent calls (ids of 36 characters)
SESSIONS_BYTES = 1 * 2**20  # about 8,500 call ids of sessions
MAX_OPEN = 50_000  # calls in flight at once: beyond, the oldest is no longer counted
MAX_SESSION_CALLS = 1_000
MAX_SUMMARIES = 10_000  # (tool, backend, agent, variant) summaries shared by calls
# Calls an alert can cover per tool or backend (the calls of its window).
MAX_COVERED = 10_000
# What an entry costs beyond its id string: an OrderedDict slot with its link (calls), or
# a list slot (sessions); a session's list and entry. Upper bounds: tests/unit/
# test_console_live.py measures what the kept calls and sessions hold against them.
CALL_ENTRY_BYTES = 112
INFO_BYTES = 72  # a CallInfo of its own (a call not ended yet)
SESSION_ENTRY_BYTES = 8
SESSION_BYTES = 200
STARTS = ("call.intent", "call.rejected", "call.forbidden", "approval.requested")
ENDS = ("call.outcome", "call.rejected", "call.forbidden")


@dataclass(slots=True)
class CallInfo:
    tool: str
    backend: str | None
    principal: str | None
    session_id: str | None
    trace_id: str | None
    variant: str | None = None


def _names(info: CallInfo) -> tuple[str, str | None, str | None, str | None]:
    """What calls that share a summary have in common."""
    return (info.tool, info.backend, info.principal, info.variant)


def _mib_from_environment(name: str, default: int) -> int:
    """A cap in MiB (fractions allowed) from the environment, in bytes."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} takes MiB, not {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} takes MiB > 0, not {raw!r}")
    return int(value * 2**20)


def _epoch(at: str) -> float:
    return dt.datetime.fromisoformat(at).timestamp()


def _error_code(body: dict[str, Any]) -> str | None:
    error = body.get("error")
    return str(error.get("code")) if isinstance(error, dict) else None


class Console:
    def __init__(
        self,
        store: AuditStore,
        registry: CollectorRegistry | None = None,
        *,
        poll_s: float = 0.25,
        backfill: int | None = None,
        clock: Callable[[], float] = time.time,
        calls_bytes: int | None = None,
        sessions_bytes: int | None = None,
        reviews: AlertReviews | None = None,
    ) -> None:
        self.store = store
        # Calls an alert covers go to the review queue (tools whose policy asks for it).
        self.reviews = reviews
        # The last minutes' ended (and scored) calls of each tool and backend, of tools that
        # want them reviewed: what an alert, when it fires, covers.
        self.recent: dict[tuple[str, str], deque[tuple[int, Covered]]] = {}
        self._to_review: list[tuple[dict[str, Any], list[Covered]]] = []
        self.clock = clock
        self.poll_s = poll_s
        if backfill is None:
            backfill = int(os.environ.get("LEGACY_GATEWAY_CONSOLE_BACKFILL", "50000"))
        self.tailer = Tailer(store, backfill)
        self.stats = Stats()
        self.hub = EventHub()
        self.signals = Signals()
        self.detector = Detector(self.stats, self.signals)
        self.webhook = AlertWebhook.from_environment()
        # Whether this process posts alerts to the webhook: one of the processes that share
        # the log does (``Recovery.posts_alerts``); one that takes over posts what fires.
        self.posts_alerts: Callable[[], bool] = lambda: True
        self._posting = True
        self.calls_bytes = (
            calls_bytes if calls_bytes is not None
            else _mib_from_environment("LEGACY_GATEWAY_CONSOLE_CALLS_MIB", CALLS_BYTES)
        )  # fmt: skip
        self.sessions_bytes = (
            sessions_bytes if sessions_bytes is not None
            else _mib_from_environment("LEGACY_GATEWAY_CONSOLE_SESSIONS_MIB", SESSIONS_BYTES)
        )  # fmt: skip
        # Recent calls (ended ones by their shared summary), oldest first, and their cost.
        self.calls: OrderedDict[str, CallInfo] = OrderedDict()
        self._calls_used = 0
        self._summaries: dict[tuple[str, str | None, str | None, str | None], CallInfo] = {}
        self.sessions: OrderedDict[str, list[str]] = OrderedDict()
        self._sessions_used = 0
        self.in_flight: Counter[str] = Counter()
        self.in_flight_backends: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.tailed = 0
        self._open: OrderedDict[str, CallInfo] = OrderedDict()
        self._events: list[Event] = []  # published at the end of the step that made them
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_judged = 0.0
        self.anomaly = Gauge(
            "legacy_gateway_anomaly",
            "1 while the console's anomaly detector holds an alert (kind: error_rate, "
            "latency_p95 or feedback_falling) for a tool or backend, else 0.",
            ["group", "name", "kind"],
            registry=registry,
            multiprocess_mode="max",  # every worker judges the same log
        )

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                count = await asyncio.to_thread(self.step)
            except Exception as exc:  # the store may be away for a while: keep trying
                self.tailer.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("the console cannot read the audit log: %s", exc)
                count = 0
            if count < BATCH:
                await asyncio.sleep(self.poll_s)

    def step(self) -> int:
        """Read and fold what the log gained; judge anomalies once a second."""
        records = self.tailer.read()
        with self.lock:
            for record in records:
                self._fold(record)
            self.tailed += len(records)
            now = self.clock()
            if now - self._last_judged >= 1.0:
                self._last_judged = now
                self._take_over_posting()
                for alert in self.detector.evaluate(minute_of(now), now):
                    self._alert(alert)
            events, self._events = self._events, []
            to_review, self._to_review = self._to_review, []
        # Written outside the lock: readers of the live state do not wait for the store.
        if self.reviews is not None:
            for flagged, calls in to_review:
                self.reviews.request(flagged, calls)
        if events:
            # The batch's events reach the loop in one hand-over: one wake-up of the loop
            # that serves calls per batch, not one per event.
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._deliver, events)
            else:
                self._deliver(events)
        return len(records)

    def _publish(self, event: Event) -> None:
        self._events.append(event)

    def _deliver(self, events: list[Event]) -> None:
        for event in events:
            self.hub.publish(event)

    # ------------------------------------------------------------------ folding

    def _fold(self, record: StoredRecord) -> None:
        kind, call_id, body = record.kind, record.call_id, record.body
        if call_id is None:
            return
        if kind in STARTS:
            self._started(record)
        info = self._open.get(call_id) or self.calls.get(call_id)
        if info is None:
            return
        minute = minute_of(_epoch(record.at))
        if kind == "interaction":
            backend = str(body.get("backend") or info.backend)
            self.stats.record("legacy", backend, minute, body.get("duration_ms"),
                              _error_code(body))  # fmt: skip
        elif kind in ENDS:
            self._ended(record, info, minute)
        elif kind == "call.submitted":
            self._publish(Event("call", self._call_event(record, info, "pending"), info.principal))
        elif kind == "call.feedback":
            data = {"call_id": call_id, "tool": info.tool, "at": record.at,
                    **{k: body.get(k) for k in ("score", "label", "principal")}}  # fmt: skip
            self.signals.feedback_given(minute, info.tool, body.get("score"))
            if isinstance(body.get("score"), int | float):
                self._keep_for_review(("feedback", info.tool), minute, call_id, info)
            self._publish(Event("feedback", data, info.principal))
        elif kind.startswith("approval."):
            data = {"call_id": call_id, "tool": info.tool, "kind": kind, "at": record.at,
                    "approval_id": body.get("approval_id"),
                    "decision": body.get("decision"), "by": body.get("by")}  # fmt: skip
            self._publish(Event("approval", data, info.principal))

    def _started(self, record: StoredRecord) -> None:
        call_id, body = str(record.call_id), record.body
        context = body.get("context") if isinstance(body.get("context"), dict) else {}
        session = context.get("session_id") if context else None
        names = self._summary(
            str(body.get("tool")), body.get("backend"),
            record.context.principal or body.get("principal"), body.get("variant"),
        )  # fmt: skip
        info = CallInfo(names.tool, names.backend, names.principal,
                        str(session) if session is not None else None,
                        record.context.trace_id, names.variant)  # fmt: skip
        if info.session_id is not None and call_id not in self.calls:
            self._note_session(info.session_id, call_id)
        self._remember(call_id, info)
        if record.kind == "call.intent" and call_id not in self._open:
            self._open[call_id] = info
            self.in_flight[info.tool] += 1
            self.in_flight_backends[info.backend or "-"] += 1
            if len(self._open) > MAX_OPEN:  # its end would come too late to be told apart
                self._close(self._open.popitem(last=False)[1])

    def _close(self, info: CallInfo) -> None:
        """A call in flight no more: its end came (or it was given up)."""
        self.in_flight[info.tool] -= 1
        self.in_flight_backends[info.backend or "-"] -= 1

    def _cost(self, call_id: str, info: CallInfo) -> int:
        """Bytes a recent call holds: its entry and id, and what it does not share."""
        cost = CALL_ENTRY_BYTES + sys.getsizeof(call_id)
        if self._summaries.get(_names(info)) is not info:
            cost += INFO_BYTES
            cost += sys.getsizeof(info.trace_id) if info.trace_id is not None else 0
            cost += sys.getsizeof(info.session_id) if info.session_id is not None else 0
        return cost

    def _remember(self, call_id: str, info: CallInfo) -> None:
        """Keep the call among the recent ones; the oldest go past ``calls_bytes``."""
        before = self.calls.get(call_id)
        if before is not None:
            self._calls_used -= self._cost(call_id, before)
        self.calls[call_id] = info
        self._calls_used += self._cost(call_id, info)
        while self._calls_used > self.calls_bytes and self.calls:
            self._calls_used -= self._cost(*self.calls.popitem(last=False))

    def _summary(
        self, tool: str, backend: str | None, principal: str | None, variant: str | None
    ) -> CallInfo:
        """What an ended call needs kept (its names): one object, and one string of each
        name, for all calls alike."""
        key = (tool, backend, principal, variant)
        shared = self._summaries.get(key)
        if shared is None:
            shared = CallInfo(tool, backend, principal, None, None, variant)
            if len(self._summaries) < MAX_SUMMARIES:
                self._summaries[key] = shared
        return shared

    def _note_session(self, session: str, call_id: str) -> None:
        """Add the call to its session's; the oldest sessions go past ``sessions_bytes``."""
        calls = self.sessions.get(session)
        if calls is None:
            calls = self.sessions[session] = []
            self._sessions_used += SESSION_BYTES + sys.getsizeof(session)
        else:
            self.sessions.move_to_end(session)
        if len(calls) < MAX_SESSION_CALLS:
            calls.append(call_id)
            self._sessions_used += SESSION_ENTRY_BYTES + sys.getsizeof(call_id)
        while self._sessions_used > self.sessions_bytes and len(self.sessions) > 1:
            gone, ids = self.sessions.popitem(last=False)
            self._sessions_used -= SESSION_BYTES + sys.getsizeof(gone)
            self._sessions_used -= sum(SESSION_ENTRY_BYTES + sys.getsizeof(i) for i in ids)

    def _ended(self, record: StoredRecord, info: CallInfo, minute: int) -> None:
        call_id, body = str(record.call_id), record.body
        if call_id in self._open:
            self._close(self._open.pop(call_id))
        if call_id in self.calls:
            self._remember(call_id, self._summary(*_names(info)))
        error = _error_code(body) if body.get("status") != "ok" else None
        duration = body.get("duration_ms")
        self.stats.record("tool", info.tool, minute, duration, error)
        if info.backend:
            self.stats.record("backend", info.backend, minute, duration, error)
        self.stats.record("agent", info.principal or "anonymous", minute, duration, error)
        self.signals.call_ended(minute, record.at, info.principal or "anonymous", info.tool,
                                info.backend, error, body)  # fmt: skip
        self._covered_while_open(call_id, info)
        self._keep_for_review(("tool", info.tool), minute, call_id, info)
        if info.backend:
            self._keep_for_review(("backend", info.backend), minute, call_id, info)
        status = "ok" if error is None else "error"
        if record.kind != "call.outcome":
            status = record.kind.removeprefix("call.")
        self._publish(Event("call", self._call_event(record, info, status), info.principal))

    def _call_event(self, record: StoredRecord, info: CallInfo, status: str) -> dict[str, Any]:
        return {
            "call_id": record.call_id,
            "at": record.at,
            "tool": info.tool,
            "backend": info.backend,
            "principal": info.principal,
            "session_id": info.session_id,
            "trace_id": info.trace_id,
            "status": status,
            "error": _error_code(record.body),
            "duration_ms": record.body.get("duration_ms"),
        }

    # ------------------------------------------------------------------ reviews

    def _keep_for_review(
        self, key: tuple[str, str], minute: int, call_id: str, info: CallInfo
    ) -> None:
        if self.reviews is None or not self.reviews.wants(info.tool):
            return
        calls = self.recent.get(key)
        if calls is None:
            calls = self.recent[key] = deque(maxlen=MAX_COVERED)
        calls.append((minute, self._covered(call_id, info)))
        while calls and calls[0][0] < minute - FEEDBACK_RECENT_MINUTES:
            calls.popleft()

    @staticmethod
    def _covered(call_id: str, info: CallInfo) -> Covered:
        return Covered(call_id, info.tool, info.variant, info.principal, info.trace_id)

    def _covered_while_open(self, call_id: str, info: CallInfo) -> None:
        """A call that ends while an alert on its tool or backend is open is covered by it."""
        if self.reviews is None or not self.detector.active or not self.reviews.wants(info.tool):
            return
        for alert in self.detector.active.values():
            if (alert.group, alert.name) in (("tool", info.tool), ("backend", info.backend)):
                self._to_review.append((alert.as_dict(), [self._covered(call_id, info)]))

    def _covered_by_window(self, alert: Alert) -> list[Covered]:
        """The calls of the window that raised ``alert``: ended calls for the call rules,
        scored ones for falling feedback."""
        feedback = alert.kind == "feedback_falling"
        key = ("feedback", alert.name) if feedback else (alert.group, alert.name)
        minutes = FEEDBACK_RECENT_MINUTES if feedback else RECENT_MINUTES
        first = minute_of(alert.since) - minutes + 1
        seen: dict[str, Covered] = {}
        for minute, covered in self.recent.get(key, ()):
            if minute >= first:
                seen.setdefault(covered.call_id, covered)
        return list(seen.values())

    def _alert(self, alert: Alert) -> None:
        if self.reviews is not None and alert.state == "firing":
            covered = self._covered_by_window(alert)
            if covered:
                self._to_review.append((alert.as_dict(), covered))
        firing = 1 if alert.state == "firing" else 0
        self.anomaly.labels(alert.group, alert.name, alert.kind).set(firing)
        self._publish(Event("alert", alert.as_dict()))
        if self.webhook is not None and self._posting:
            self.webhook.send(alert.as_dict())

    def _take_over_posting(self) -> None:
        """Follow who posts alerts; a process that becomes the poster posts the alerts that
        fire now, which the one before it may have raised, or died before posting."""
        posting = self.posts_alerts()
        if posting and not self._posting and self.webhook is not None:
            for alert in self.detector.active.values():
                self.webhook.send(alert.as_dict())
        self._posting = posting

    # ------------------------------------------------------------------ reading

    def session_calls(self, session_id: str) -> list[str]:
        with self.lock:
            return list(self.sessions.get(session_id, ()))

    def alerts(self) -> list[dict[str, Any]]:
        with self.lock:
            return [alert.as_dict() for alert in self.detector.active.values()]

    def snapshot(
        self, minutes: int, groups: tuple[str, ...], agent: str | None = None,
        sparkline: bool = True,
    ) -> dict[str, Any]:  # fmt: skip
        """Aggregates over the last ``minutes``; with ``agent``, that agent's series alone."""
        now = minute_of(self.clock())
        with self.lock:
            out: dict[str, Any] = {}
            for group in groups:
                names = self.stats.names(group)
                if agent is not None:
                    names = [name for name in names if name == agent]
                out[group] = {
                    name: self.stats.summary(group, name, now, minutes, sparkline) for name in names
                }
            first = now - minutes + 1
            for group in ("tool", "backend"):
                for name, tile in out.get(group, {}).items():
                    tile.update(self.signals.signal_counts(group, name, first, now))
            for name, tile in out.get("tool", {}).items():
                tile["in_flight"] = self.in_flight.get(name, 0)
            for name, tile in out.get("backend", {}).items():
                tile["breaker"] = self.signals.breakers.get(name, {"state": "closed"})
                tile["in_flight"] = self.in_flight_backends.get(name, 0)
            return out

    def flows(self, minutes: int, agent: str | None = None) -> list[dict[str, Any]]:
        """Calls and errors per (agent, tool, backend) over the last ``minutes``."""
        now = minute_of(self.clock())
        with self.lock:
            return self.signals.flow_snapshot(now - minutes + 1, now, agent)

    def feedback(self, minutes: int) -> dict[str, Any]:
        """Per tool: the mean feedback score over the window, and per minute."""
        now = minute_of(self.clock())
        first = now - minutes + 1
        with self.lock:
            means = self.signals.feedback_means(first, now)
            trends = self.signals.feedback_trends(first, now)
            return {tool: {"mean_score": mean, "scores": count, "per_minute": trends[tool]}
                    for tool, (mean, count) in means.items()}  # fmt: skip
