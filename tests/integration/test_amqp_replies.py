"""Replies of submitted calls on a shared broker: each call ends once, at a gateway that
knows it, or at its deadline; nothing taken off a reply queue is dropped.

Real RabbitMQ, real stores (SQLite files, a PostgreSQL schema); every queue name has a
random suffix.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from estate.orders import FIRST_NEW_ORDER, OrderService
from gateway.audit.postgres_store import PostgresStore
from gateway.audit.store import AuditStore
from gateway.cli import app
from tests.integration.amqp_support import wait_until
from tests.integration.queue_support import (
    consumers,
    delete_queues,
    gateway_on,
    job_config,
    kinds,
    reply,
    sqlite_at,
    take_jobs,
    unmatched,
)
from tests.integration.support import (
    AMQP_TEST_CONFIG,
    call_record,
    gateway_of,
    serve_process,
)


def place(client: TestClient, n: int) -> str:
    arguments = {"customer_number": f"{10_000_001 + n:08d}", "item": "TIE006", "quantity": 1 + n}
    response = client.post("/v1/tools/place_order/call", json={"arguments": arguments})
    assert response.status_code == 202, response.text
    call_id: str = response.json()["call_id"]
    return call_id


def ended(client: TestClient, call_id: str, timeout_s: float = 10) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        record = call_record(client, call_id)
        return record if record["status"] not in ("pending", "in_progress") else None

    record: dict[str, Any] = wait_until(done, timeout_s, f"call {call_id} ended")
    return record


def run_job(client: TestClient, job: int) -> str:
    response = client.post("/v1/tools/run_job/call", json={"arguments": {"job": job}})
    assert response.status_code == 202, response.text
    call_id: str = response.json()["call_id"]
    return call_id


# ---------------------------------------------------------------- two installations


def test_two_gateways_on_one_reply_queue_each_complete_their_own_calls(
    order_service: OrderService, estate_env: dict[str, str], reply_queue: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """Two installations (their own stores) misconfigured onto one reply queue: each takes
    some of the other's replies, hands them back, and every call completes where it began."""
    monkeypatch.setenv("TEST_REPLY_QUEUE", reply_queue)
    caplog.set_level(logging.WARNING, logger="legacy_gateway.amqp")
    with (
        gateway_on(AMQP_TEST_CONFIG, sqlite_at(tmp_path / "a" / "audit.sqlite"), tmp_path / "a")
        as first,
        gateway_on(AMQP_TEST_CONFIG, sqlite_at(tmp_path / "b" / "audit.sqlite"), tmp_path / "b")
        as second,
    ):  # fmt: skip
        assert consumers(reply_queue) == 2
        # The second gateway found the first one on its reply queue, and said so.
        assert f"reply queue '{reply_queue}' already has 1 other consumer(s)" in caplog.text
        calls = [(first, place(first, n)) for n in range(5)]
        calls += [(second, place(second, n)) for n in range(5, 10)]
        records = [(client, ended(client, call_id)) for client, call_id in calls]
        for client, record in records:
            assert record["status"] == "ok", record
            assert record["result"]["order_number"] >= FIRST_NEW_ORDER
            _publish, answer = record["interactions"]
            assert answer["request"] == {"correlation_id": record["call_id"]}
            assert kinds(client, record["call_id"]).count("call.outcome") == 1
        # Each store holds its own calls only, and no reply was given up on.
        assert not unmatched(first) and not unmatched(second)
        first_ids = {r["call_id"] for c, r in records if c is first}
        assert all(not kinds(second, call_id) for call_id in first_ids)


def installation_of(directory: Path) -> str:
    """The installation id a gateway derives from the salt beside its audit key."""
    salt = (directory / "audit-commit.key").read_bytes()
    return hashlib.sha256(b"legacy-gateway/installation\n" + salt).hexdigest()[:16]


def test_two_serve_processes_get_their_own_reply_queues_and_complete_their_calls(
    order_service: OrderService, estate_env: dict[str, str], tmp_path: Path
) -> None:
    """The demo's way: a reply queue named per installation, two installations on a broker."""
    suffix = uuid.uuid4().hex[:8]
    pattern = f"test.replies.{suffix}.{{installation}}"
    queues: list[str] = []
    try:
        bases = []
        with (
            serve_process(AMQP_TEST_CONFIG, {
                "TEST_REPLY_QUEUE": pattern,
                "LEGACY_GATEWAY_AUDIT_DB": str(tmp_path / "one" / "audit.sqlite")}) as (a, _),
            serve_process(AMQP_TEST_CONFIG, {
                "TEST_REPLY_QUEUE": pattern,
                "LEGACY_GATEWAY_AUDIT_DB": str(tmp_path / "two" / "audit.sqlite")}) as (b, _),
        ):  # fmt: skip
            queues = [
                pattern.replace("{installation}", installation_of(tmp_path / name))
                for name in ("one", "two")
            ]
            assert queues[0] != queues[1]
            assert [consumers(queue) for queue in queues] == [1, 1]
            bases = [a, b]
            placed = []
            for n, base in enumerate(bases * 3):
                arguments = {"customer_number": "10000002", "item": "SHRT01", "quantity": n + 1}
                answer = httpx.post(f"{base}/v1/tools/place_order/call",
                                    json={"arguments": arguments}, timeout=10)  # fmt: skip
                assert answer.status_code == 202, answer.text
                placed.append((base, answer.json()["call_id"], n + 1))
            for base, call_id, quantity in placed:

                def done(base: str = base, call_id: str = call_id) -> dict[str, Any] | None:
                    record = httpx.get(f"{base}/v1/calls/{call_id}", timeout=10).json()
                    return record if record["status"] != "pending" else None

                record = wait_until(done, 15, f"call {call_id} completed")
                assert record["status"] == "ok", record
                assert record["result"]["quantity"] == quantity
                reply_to = record["interactions"][0]["request"]["properties"]["reply_to"]
                assert reply_to == queues[bases.index(base)]
    finally:
        delete_queues(*queues)


# ---------------------------------------------------------------- one installation, replicas


def test_replicas_on_one_postgresql_store_complete_each_others_calls(
    order_service: OrderService, estate_env: dict[str, str], reply_queue: str,
    pg_store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("TEST_REPLY_QUEUE", reply_queue)

    def store() -> AuditStore:
        return PostgresStore(pg_store_url)

    with gateway_on(AMQP_TEST_CONFIG, store, tmp_path) as replica_b:
        # Replica A submits and stops before any reply comes: B completes A's calls.
        with gateway_on(AMQP_TEST_CONFIG, store, tmp_path) as replica_a:
            assert consumers(reply_queue) == 2
            from_a = [place(replica_a, n) for n in range(3)]
        from_b = [place(replica_b, n) for n in range(3, 6)]
        for call_id in from_a + from_b:
            record = ended(replica_b, call_id)
            assert record["status"] == "ok", record
            assert kinds(replica_b, call_id).count("call.outcome") == 1
        assert not unmatched(replica_b)


def test_replicas_racing_one_reply_and_its_deadline_write_one_outcome(
    pg_store_url: str, reply_queue: str, job_queue: str, tmp_path: Path
) -> None:
    """The same reply delivered twice to two replicas while both sweep its deadline."""
    config = job_config(tmp_path / "config", reply_queue, job_queue, tool_deadline_s=0.3)

    def store() -> AuditStore:
        return PostgresStore(pg_store_url)

    with (
        gateway_on(config, store, tmp_path) as replica_a,
        gateway_on(config, store, tmp_path) as replica_b,
    ):
        call_ids = [run_job(replica_a, job) for job in range(1, 9)]
        time.sleep(0.25)
        with ThreadPoolExecutor(4) as pool:
            for call_id in call_ids:
                for _ in range(2):
                    pool.submit(reply, reply_queue, call_id, {"JOB": 1, "STATE": "D"})

        def all_ended() -> bool:
            return all(call_record(replica_b, c)["status"] != "pending" for c in call_ids)

        wait_until(all_ended, 10, "every job ended")
        store = gateway_of(replica_b).store

        def replies(call_id: str) -> int:
            return sum(
                1
                for r in store.records_of(call_id)
                if r.kind in ("interaction", "interaction.late") and r.body["operation"] == "reply"
            )

        # Both replies of every call are on the record (one completed it or both came late).
        wait_until(lambda: all(replies(c) == 2 for c in call_ids), 10, "every reply recorded")
        for call_id in call_ids:
            assert kinds(replica_b, call_id).count("call.outcome") == 1


# ---------------------------------------------------------------- other consumers


def test_validate_connect_and_start_up_warn_of_another_consumer(
    reply_queue: str, job_queue: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = job_config(tmp_path / "config", reply_queue, job_queue)
    quiet = CliRunner().invoke(app, ["validate", str(config), "--connect"])
    assert quiet.exit_code == 0, quiet.stderr
    assert "warning" not in quiet.stderr

    from tests.integration.amqp_support import connect

    stranger = connect()  # another installation's gateway, say, on the same queue
    try:
        channel = stranger.channel()
        channel.queue_declare(reply_queue, durable=True)
        channel.basic_consume(reply_queue, lambda *args: None)
        result = CliRunner().invoke(app, ["validate", str(config), "--connect"])
        assert result.exit_code == 0, result.stderr
        assert (
            f"warning: AMQP backend jobs: reply queue '{reply_queue}' already has 1 other "
            "consumer(s)" in result.stderr
        )
        assert "{installation}" in result.stderr  # how to fix it

        caplog.set_level(logging.WARNING, logger="legacy_gateway.amqp")
        with gateway_on(config, sqlite_at(tmp_path / "audit.sqlite"), tmp_path) as client:
            assert consumers(reply_queue) == 2
            health = client.portal.call(gateway_of(client).readiness)["jobs"]  # type: ignore[union-attr]
            assert health.ok is True
            assert "already has 1 other consumer(s)" in health.detail
        assert f"reply queue '{reply_queue}' already has 1 other consumer(s)" in caplog.text
    finally:
        stranger.close()


def test_validate_connect_does_not_take_replies_off_the_queue(
    reply_queue: str, job_queue: str, tmp_path: Path
) -> None:
    config = job_config(tmp_path / "config", reply_queue, job_queue)
    with gateway_on(config, sqlite_at(tmp_path / "audit.sqlite"), tmp_path):
        pass  # declares the queue
    reply(reply_queue, str(uuid.uuid4()), {"JOB": 1, "STATE": "D"})
    result = CliRunner().invoke(app, ["validate", str(config), "--connect"])
    assert result.exit_code == 0, result.stderr
    from tests.integration.amqp_support import take_messages

    assert len(take_messages(reply_queue)) == 1  # still there for the gateway


# ---------------------------------------------------------------- deadlines


def test_an_overdue_call_ends_reply_overdue_and_its_late_reply_is_recorded(
    reply_queue: str, job_queue: str, tmp_path: Path
) -> None:
    config = job_config(tmp_path / "config", reply_queue, job_queue, tool_deadline_s=0.5)
    with gateway_on(config, sqlite_at(tmp_path / "audit.sqlite"), tmp_path) as client:
        call_id = run_job(client, 7)
        submitted = call_record(client, call_id)
        assert submitted["status"] == "pending"
        body = next(r for r in client.app.state.gateway.store.records_of(call_id)  # type: ignore[attr-defined]
                    if r.kind == "call.submitted").body  # fmt: skip
        assert body["reply_deadline_s"] == 0.5
        assert body["reply_by"] > submitted["started_at"]

        record = ended(client, call_id)
        assert record["status"] == "error"
        assert record["error"]["code"] == "reply_overdue"
        assert record["error"]["retryable"] is False
        assert record["error"]["call_id"] == call_id
        assert record["error"]["details"]["reply_by"] == body["reply_by"]

        job = take_jobs(job_queue)[call_id]
        assert job.reply_to == reply_queue
        reply(reply_queue, call_id, {"JOB": 7, "STATE": "D"})

        def late() -> bool:
            return "interaction.late" in kinds(client, call_id)

        wait_until(late, 5, "the late reply on the record")
        after = call_record(client, call_id)
        assert after["status"] == "error" and after["error"]["code"] == "reply_overdue"
        assert kinds(client, call_id).count("call.outcome") == 1
        late_reply = after["interactions"][-1]
        assert late_reply["late"] is True
        assert late_reply["request"] == {"correlation_id": call_id}
        assert '"STATE":"D"' in late_reply["response"]["body"]
        assert not unmatched(client)
        metrics = gateway_of(client).metrics.exposition().decode()
        assert 'legacy_gateway_submitted_replies_total{event="overdue"} 1.0' in metrics
        assert 'legacy_gateway_submitted_replies_total{event="late"} 1.0' in metrics


def test_the_backend_deadline_applies_when_the_tool_sets_none(
    reply_queue: str, job_queue: str, tmp_path: Path
) -> None:
    config = job_config(tmp_path / "config", reply_queue, job_queue)
    with gateway_on(config, sqlite_at(tmp_path / "audit.sqlite"), tmp_path) as client:
        call_id = run_job(client, 3)
        store = client.app.state.gateway.store  # type: ignore[attr-defined]
        body = next(r for r in store.records_of(call_id) if r.kind == "call.submitted").body
        assert body["reply_deadline_s"] == 3600  # the documented default
        reply(reply_queue, call_id, {"JOB": 3, "STATE": "F"})
        record = ended(client, call_id)
        assert record["status"] == "ok"
        assert record["result"] == {"job": 3, "state": "failed"}


def test_a_restart_sweeps_calls_that_went_overdue_while_no_gateway_ran(
    reply_queue: str, job_queue: str, tmp_path: Path
) -> None:
    audit_db = tmp_path / "audit.sqlite"
    short = job_config(tmp_path / "short", reply_queue, job_queue, tool_deadline_s=4)
    long = job_config(tmp_path / "long", reply_queue, job_queue, tool_deadline_s=3600)
    with gateway_on(short, sqlite_at(audit_db), tmp_path) as first:
        overdue = run_job(first, 1)
    with gateway_on(long, sqlite_at(audit_db), tmp_path) as first_again:
        waiting = run_job(first_again, 2)
    assert call_record_of(audit_db, overdue) == "pending"
    # The first call's deadline passes while no gateway runs.
    due = dt.datetime.fromisoformat(submitted_body(audit_db, overdue)["reply_by"])
    time.sleep(max(0.0, (due - dt.datetime.now(dt.UTC)).total_seconds()) + 0.2)

    with gateway_on(long, sqlite_at(audit_db), tmp_path) as second:
        record = ended(second, overdue)
        assert record["error"]["code"] == "reply_overdue"
        time.sleep(0.5)
        assert call_record(second, waiting)["status"] == "pending"  # its deadline is an hour
        # The reply that waited in the queue still completes the call that is not overdue.
        reply(reply_queue, waiting, {"JOB": 2, "STATE": "D"})
        assert ended(second, waiting)["status"] == "ok"


def submitted_body(audit_db: Path, call_id: str) -> dict[str, Any]:
    from gateway.audit.sqlite_store import SQLiteStore

    store = SQLiteStore(audit_db)
    try:
        return next(r.body for r in store.records_of(call_id) if r.kind == "call.submitted")
    finally:
        store.close()


def call_record_of(audit_db: Path, call_id: str) -> str:
    from gateway.audit.sqlite_store import SQLiteStore
    from gateway.audit.views import call_view

    store = SQLiteStore(audit_db)
    try:
        status: str = call_view(call_id, store.records_of(call_id))["status"]
        return status
    finally:
        store.close()
