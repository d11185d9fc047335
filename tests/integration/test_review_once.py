"""A call goes into the review queue once for a reason, however many processes queue it:
with ``serve --workers N`` every worker's console raises the same anomaly alert over the
same calls, and replicas on PostgreSQL share one queue."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from gateway.audit.bundle import verify_store
from gateway.audit.log import AuditLog, AuditSettings
from gateway.audit.open_store import open_store
from gateway.audit.postgres_store import PostgresStore
from gateway.audit.records import RecordContext
from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.store import AuditStore
from gateway.config.models import ReviewPolicy
from gateway.console.live import Console
from gateway.experiments import reviews
from gateway.experiments.flagged import AlertReviews

CALLS = 40
ALERTS = {"anomaly:tool:get_customer:error_rate", "anomaly:backend:customer_master:error_rate"}
POLICIES = {"get_customer": ReviewPolicy(every_anomaly=True)}


def failed_calls(store: AuditStore) -> list[str]:
    """Calls of one tool that all fail: the console's detector raises an error-rate alert on
    the tool and one on its backend, both covering every call."""
    context = RecordContext("t" * 32, "s" * 16, "key:bot", "sha256:x")
    ids = [f"bad-{n}" for n in range(CALLS)]
    for call_id in ids:
        intent = {"tool": "get_customer", "backend": "customer_master", "principal": "key:bot"}
        error = {"code": "backend_unavailable"}
        store.append_many([
            ("call.intent", call_id, intent),
            ("interaction", call_id, {"backend": "customer_master", "adapter": "soap",
                                      "duration_ms": 8.0, "error": error}),
            ("call.outcome", call_id, {"status": "error", "duration_ms": 10.0, "error": error}),
        ], context)  # fmt: skip
    return ids


def console_worker(url: str, start: Barrier) -> None:
    """One worker's console over the shared store: it reads the log, raises the alerts and
    queues the calls they cover, at the same moment as the others."""
    store = open_store(Path(url), url)
    try:
        flagged = AlertReviews(store, POLICIES.get, lambda: "sha256:x")
        console = Console(store, backfill=10_000, reviews=flagged)
        start.wait(60)
        console.step()
        assert console.alerts() != []
    finally:
        store.close()


def assert_queued_once(store: AuditStore, ids: list[str]) -> None:
    requested = store.records_of_kind(reviews.REQUESTED)
    per_reason = Counter((r.call_id, reason) for r in requested for reason in r.body["reasons"])
    assert per_reason == Counter({(call_id, alert): 1 for call_id in ids for alert in ALERTS})
    waiting = {entry["call_id"]: entry for entry in reviews.queue(store)}
    assert sorted(waiting) == sorted(ids)
    assert all(set(entry["reasons"]) == ALERTS for entry in waiting.values())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_workers_consoles_racing_on_one_alert_queue_each_call_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        str(tmp_path / "audit.sqlite")
        if backend == "sqlite"
        else request.getfixturevalue("pg_store_url")
    )
    store = open_store(Path(url), url)
    try:
        ids = failed_calls(store)
        spawn = multiprocessing.get_context("spawn")
        workers = 3
        start = spawn.Barrier(workers)
        processes = [
            spawn.Process(target=console_worker, args=(url, start)) for _ in range(workers)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(120)
        assert [process.exitcode for process in processes] == [0] * workers
        assert_queued_once(store, ids)
        # The log stays one log: every index once, in order.
        count = store.count()
        assert [index for index, _ in store.read(0, count)] == list(range(count))
    finally:
        store.close()


def test_replicas_racing_to_queue_the_same_calls_write_one_request_each(
    pg_store_url: str,
) -> None:
    replicas = [PostgresStore(pg_store_url) for _ in range(3)]
    try:
        context = RecordContext("t" * 32, None, "key:bot", "sha256:x")
        for n in range(20):
            replicas[0].append("call.intent", f"c{n}", {"n": n})
        start = threading.Barrier(6)
        written: Counter[tuple[str, str]] = Counter()
        lock = threading.Lock()

        def race(who: int) -> None:
            store = replicas[who % 3]
            start.wait(30)
            for n in range(20):
                for reason in ("sampled", "anomaly:tool:t:error_rate"):
                    body = {"tool": "t", "variant": None, "reasons": [reason], "by": who}
                    if reviews.request(store, f"c{n}", body, context) is not None:
                        with lock:
                            written[(f"c{n}", reason)] += 1
                store.append("call.feedback", f"c{n}", {"by": who})  # plain appends meanwhile

        threads = [threading.Thread(target=race, args=(who,)) for who in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        reasons = ("sampled", "anomaly:tool:t:error_rate")
        assert written == Counter({(f"c{n}", r): 1 for n in range(20) for r in reasons})
        requested = replicas[1].records_of_kind(reviews.REQUESTED)
        assert len(requested) == 40
        # A request asking again for reasons already queued writes nothing; a new one does.
        again = {"tool": "t", "variant": None, "reasons": list(reasons)}
        assert reviews.request(replicas[2], "c0", again, context) is None
        fresh = {"tool": "t", "variant": None, "reasons": ["slow", "sampled"]}
        assert reviews.request(replicas[2], "c0", fresh, context) is not None
        indexes = [index for index, _ in replicas[2].read(0, 10_000)]
        assert indexes == list(range(20 + 40 + 6 * 20 + 1))
        assert replicas[0].count() == len(indexes)
    finally:
        for store in replicas:
            store.close()


def test_the_log_with_requests_written_once_still_verifies(tmp_path: Path) -> None:
    """Records ``append_unless`` writes are records like any other: the tree takes them in,
    the checkpoint signs them, and the log verifies."""
    store = SQLiteStore(tmp_path / "audit.sqlite")
    try:
        log = AuditLog(store, AuditSettings(tmp_path / "audit.key"))
        ids = failed_calls(store)
        flagged = AlertReviews(store, POLICIES.get, lambda: "sha256:x")
        for _ in range(2):
            Console(store, backfill=10_000, reviews=flagged).step()
        assert_queued_once(store, ids)
        checkpoint = log.sync()
        assert checkpoint is not None and checkpoint.size == store.count()
        report = verify_store(store, log.signer.verifier)
        assert report.ok, report.problems
        assert report.records == store.count()
    finally:
        store.close()
