"""The audit log on PostgreSQL: one store, many gateway replicas, one verifiable log."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg
import pytest

from estate.server import EstateServer
from gateway.audit.bundle import verify_store
from gateway.audit.checkpoint import VerifierKey
from gateway.audit.log import AuditLog, AuditSettings
from gateway.audit.merkle import MerkleTree
from gateway.audit.postgres_store import PostgresStore
from gateway.audit.records import record_leaf
from gateway.errors import AuditUnavailable
from gateway.policy.auth import new_key
from tests.integration.support import ANNA, DEMO_CONFIG, ROOT, serve_process
from tests.services import PG_SERVER as SERVER

COMMAND = Path(sys.executable).parent / "legacy-gateway"


def test_appends_from_many_threads_get_contiguous_indexes(
    pg_store_url: str, tmp_path: Path
) -> None:
    store = PostgresStore(pg_store_url)
    try:

        def work(worker: int) -> None:
            for n in range(40):
                store.append_many(
                    [("call.intent", f"{worker}-{n}", {"n": n}),
                     ("call.outcome", f"{worker}-{n}", {"ok": True})]
                )  # fmt: skip

        threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rows = store.read(0, 10_000)
        assert [index for index, _ in rows] == list(range(480))
        for worker, n in itertools.product(range(6), range(40)):
            records = store.records_of(f"{worker}-{n}")
            assert [r.kind for r in records] == ["call.intent", "call.outcome"]
            assert records[1].index == records[0].index + 1

        log = AuditLog(store, AuditSettings(tmp_path / "signing.key"))
        checkpoint = log.sync()
        assert checkpoint is not None and checkpoint.size == 480
        assert verify_store(store, log.signer.verifier).ok
        with pytest.raises(AuditUnavailable, match="a record cannot be written"):
            store.append("call.intent", "x", {"bad": object()})
        assert store.append("call.intent", "y", {}).index == 480  # no gap left behind
    finally:
        store.close()


def test_a_window_of_one_kind_is_read_by_time(pg_store_url: str) -> None:
    store = PostgresStore(pg_store_url)
    try:
        early = store.append("call.intent", "a", {})
        time.sleep(0.002)
        later = store.append_many([("call.intent", "b", {}), ("call.outcome", "b", {})])
        assert early.at < later[0].at
        since = store.records_since(later[0].at, "call.intent", "call.outcome")
        assert [(r.kind, r.call_id) for r in since] == [("call.intent", "b"), ("call.outcome", "b")]
        assert [r.call_id for r in store.records_since(early.at, "call.intent")] == ["a", "b"]
    finally:
        store.close()


def test_replicas_opening_the_store_while_others_append_all_open(pg_store_url: str) -> None:
    """Opening takes the log head before the tables' locks, as appends do: a replica starting
    beside running ones waits for their appends instead of deadlocking with one."""
    PostgresStore(pg_store_url).close()
    stop = threading.Event()
    failures: list[BaseException] = []

    def append() -> None:
        store = PostgresStore(pg_store_url)
        try:
            while not stop.is_set():
                store.append_many([("call.intent", "c", {}), ("call.outcome", "c", {})])
        except BaseException as exc:
            failures.append(exc)
        finally:
            store.close()

    def open_and_close() -> None:
        try:
            for _ in range(15):
                PostgresStore(pg_store_url).close()
        except BaseException as exc:
            failures.append(exc)

    appenders = [threading.Thread(target=append) for _ in range(3)]
    openers = [threading.Thread(target=open_and_close) for _ in range(3)]
    for thread in appenders + openers:
        thread.start()
    for thread in openers:
        thread.join()
    stop.set()
    for thread in appenders:
        thread.join()
    assert failures == []
    store = PostgresStore(pg_store_url)
    try:
        assert [index for index, _ in store.read(0, 1_000_000)] == list(range(store.count()))
        assert store.count() > 0
    finally:
        store.close()


def test_the_tables_are_append_only_and_tampering_is_found(
    pg_store_url: str, tmp_path: Path
) -> None:
    store = PostgresStore(pg_store_url)
    try:
        for n in range(10):
            store.append("call.intent", f"c{n}", {"amount": 100 + n})
        log = AuditLog(store, AuditSettings(tmp_path / "signing.key"))
        log.sync()
        schema = pg_store_url.rsplit("=", 1)[1]
        with psycopg.connect(SERVER, autocommit=True) as raw:
            raw.execute(f'SET search_path TO "{schema}"')
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                raw.execute("UPDATE records SET kind = 'x' WHERE idx = 3")
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                raw.execute("DELETE FROM checkpoints")
            raw.execute("ALTER TABLE records DISABLE TRIGGER records_append_only")
            raw.execute(
                "UPDATE records SET data = convert_to(replace(convert_from(data, 'UTF8'), "
                "'103', '903'), 'UTF8') WHERE idx = 3"
            )
        report = verify_store(store, log.signer.verifier)
        assert report.first_bad_index == 3
        assert "record 3 was changed after it was logged" in report.problems[0]
    finally:
        store.close()


def test_three_replicas_on_one_store_lose_nothing_and_the_log_verifies(
    estate_env: dict[str, str], estate: EstateServer, pg_store_url: str, tmp_path: Path
) -> None:
    env = {
        "LEGACY_GATEWAY_AUDIT_STORE": pg_store_url,
        "LEGACY_GATEWAY_AUDIT_KEY": str(tmp_path / "shared" / "audit-signing.key"),
    }
    acknowledged: list[str] = []
    lock = threading.Lock()
    with ExitStack() as stack:
        bases = [stack.enter_context(serve_process(DEMO_CONFIG, env))[0] for _ in range(3)]
        deadline = time.monotonic() + 3.0

        def agent(slot: int) -> None:
            with httpx.Client(timeout=10) as client:
                for turn in itertools.count():
                    if time.monotonic() > deadline:
                        return
                    base = bases[(slot + turn) % len(bases)]
                    response = client.post(
                        f"{base}/v1/tools/get_customer/call",
                        json={"arguments": {"customer_number": ANNA}},
                    )
                    assert response.status_code == 200, response.text
                    with lock:
                        acknowledged.append(response.json()["call_id"])

        agents = [threading.Thread(target=agent, args=(n,)) for n in range(6)]
        for thread in agents:
            thread.start()
        for thread in agents:
            thread.join()
        time.sleep(1.5)  # every replica signs what it has seen
        checkpoint = httpx.get(f"{bases[0]}/v1/audit/checkpoint").json()

    assert len(acknowledged) > 60
    store = PostgresStore(pg_store_url)
    try:
        total = store.count()
        assert [index for index, _ in store.read(0, total)] == list(range(total))
        for call_id in acknowledged:
            kinds = [record.kind for record in store.records_of(call_id)]
            assert kinds == ["call.intent", "interaction", "call.outcome"]
        loads = store.records_of_kind("config.loaded")
        assert len(loads) == 1  # one config: recorded once, however many replicas serve it
        report = verify_store(store, VerifierKey.parse(checkpoint["verifier_key"]))
        assert report.ok, report.problems
        assert report.latest_size == total
    finally:
        store.close()
    verified = subprocess.run(
        [str(COMMAND), "audit", "verify", "--store", pg_store_url, "--key",
         str(tmp_path / "shared" / "audit-signing.key.pub")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert f"{total} record(s)" in verified.stdout


def test_proofs_come_from_subtree_hashes_stored_as_records_join(
    pg_store_url: str, tmp_path: Path
) -> None:
    store = PostgresStore(pg_store_url)
    again = PostgresStore(pg_store_url)
    try:
        log = AuditLog(store, AuditSettings(tmp_path / "signing.key"))
        total = 0
        for batch in (37, 100, 1, 63):
            store.append_many([("interaction", f"c{total + n}", {"n": n}) for n in range(batch)])
            total += batch
            log.sync()
        full = MerkleTree(store.leaves())
        assert len(full) == total == 201
        schema = pg_store_url.rsplit("=", 1)[1]
        with psycopg.connect(SERVER, autocommit=True) as raw:
            raw.execute(f'SET search_path TO "{schema}"')
            stored = raw.execute("SELECT level, count(*) FROM nodes GROUP BY level").fetchall()
            assert stored == [(4, 201 >> 4)]
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                raw.execute("UPDATE nodes SET hash = hash WHERE idx = 0")
        restarted = AuditLog(again, AuditSettings(tmp_path / "signing.key"))
        assert restarted.sync() == store.latest_checkpoint()
        assert restarted.frontier == log.frontier
        assert restarted.frontier.root() == full.root()
        for old, new in ((1, 201), (37, 137), (64, 200), (16, 16)):
            assert restarted.tree().consistency_proof(old, new) == full.consistency_proof(old, new)
        for index in (0, 63, 64, 200):
            assert restarted.tree().inclusion_proof(index) == full.inclusion_proof(index)
    finally:
        store.close()
        again.close()


def test_audit_verify_records_its_outcome_in_the_store(pg_store_url: str, tmp_path: Path) -> None:
    store = PostgresStore(pg_store_url)
    try:
        for n in range(5):
            store.append("call.intent", f"c{n}", {"amount": 100 + n})
        AuditLog(store, AuditSettings(tmp_path / "signing.key")).sync()
    finally:
        store.close()
    env = {**os.environ, "LEGACY_GATEWAY_AUDIT_KEY": str(tmp_path / "signing.key"),
           "LEGACY_GATEWAY_TRUSTED_KEYS": str(tmp_path / "trusted-keys")}  # fmt: skip
    verified = subprocess.run(
        [str(COMMAND), "audit", "verify", "--store", pg_store_url, "--audit-db",
         str(tmp_path / "audit.sqlite")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    store = PostgresStore(pg_store_url)
    try:
        latest = store.latest_verification()
        assert latest is not None
        assert (latest.result, latest.end_index, latest.checkpoint_size) == ("ok", 5, 5)
        schema = pg_store_url.rsplit("=", 1)[1]
        with psycopg.connect(SERVER, autocommit=True) as raw:
            raw.execute(f'SET search_path TO "{schema}"')
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                raw.execute("UPDATE verifications SET result = 'failed'")
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                raw.execute("DELETE FROM verifications")
    finally:
        store.close()


def test_every_revocation_moves_the_key_generation_replicas_read(pg_store_url: str) -> None:
    store, other = PostgresStore(pg_store_url), PostgresStore(pg_store_url)
    created = new_key("teller-bot", ["get_*"], "2026-01-02T03:04:05Z")
    store.add_key(created.stored)
    assert other.key_generation() == 0
    store.revoke_key(created.stored.key_id, "2026-01-03T00:00:00Z")
    assert other.key_generation() == 1
    store.close()
    other.close()


def test_replicas_follow_their_own_records_and_the_others_in_log_order(
    pg_store_url: str, tmp_path: Path
) -> None:
    ours, theirs = PostgresStore(pg_store_url), PostgresStore(pg_store_url)
    log = AuditLog(ours, AuditSettings(tmp_path / "key"))
    for number in range(30):
        (theirs if number % 3 == 0 else ours).append("call.intent", f"c{number}", {"n": number})
        if number % 7 == 0:
            log.sync()
    checkpoint = log.sync()
    stored = theirs.read(0, 30)
    assert ours.read_new(0, 30) == stored
    assert [index for index, _ in stored] == list(range(30))
    assert checkpoint is not None
    assert MerkleTree([record_leaf(data) for _, data in stored]).root() == checkpoint.root
    ours.close()
    theirs.close()


def test_a_commit_waiting_for_the_store_holds_its_call_not_the_gateway(
    estate_env: dict[str, str], estate: EstateServer, pg_store_url: str
) -> None:
    """Another session holds the log's head, so the gateway's next commit waits in the
    server: that call waits, but health, metrics and other requests of the process answer."""
    schema = pg_store_url.rsplit("schema=", 1)[1]
    call = {"arguments": {"customer_number": ANNA}}
    with serve_process(DEMO_CONFIG, {"LEGACY_GATEWAY_AUDIT_STORE": pg_store_url}) as (base, _):
        url = f"{base}/v1/tools/get_customer/call"
        assert httpx.post(url, json=call, timeout=10).status_code == 200
        answers: list[httpx.Response] = []
        with psycopg.connect(SERVER) as holder:
            holder.execute(f'SELECT next FROM "{schema}".log_head FOR UPDATE')
            waiting = threading.Thread(
                target=lambda: answers.append(httpx.post(url, json=call, timeout=60))
            )
            waiting.start()
            with psycopg.connect(SERVER, autocommit=True) as watcher:
                deadline = time.monotonic() + 20
                while not watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'UPDATE log_head%'"
                ).fetchone()[0]:  # type: ignore[index]
                    assert time.monotonic() < deadline, "the call's commit never reached the lock"
                    time.sleep(0.05)
            health = httpx.get(f"{base}/healthz", timeout=5)
            metrics = httpx.get(f"{base}/metrics", timeout=5)
            tools = httpx.get(f"{base}/v1/tools", timeout=5)
            assert waiting.is_alive() and not answers
            holder.rollback()
        waiting.join(30)
    assert health.status_code == 200, health.text
    assert metrics.status_code == 200 and "legacy_gateway" in metrics.text
    assert tools.status_code == 200 and "get_customer" in tools.text
    assert [answer.status_code for answer in answers] == [200]
