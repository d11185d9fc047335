"""Writes that must happen once happen once, for the right person, and nothing stays stuck.

Attacks and accidents against "exactly once": the same Idempotency-Key sent concurrently to
a tool under approval, an approval decided after the requester's key was revoked or its
scopes cut or the tool changed, a retryable failure repeated under its key, keys and
approvals left to expire, and a gateway gone in the middle of calls (its lease), on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from estate.ledger import create_ledger
from estate.server import EstateServer
from gateway.api import create_app
from gateway.audit.callstate import Lease
from gateway.audit.log import AuditLog, AuditSettings
from gateway.audit.open_store import open_store
from gateway.audit.records import RecordContext
from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.store import AuditStore
from gateway.policy.auth import new_key
from gateway.recovery import Lifetimes, Recovery, unresolved
from gateway.runtime import Gateway
from tests.integration.support import DEMO_CONFIG, EstateWatch, error_of, free_port, postings_with
from tests.services import pg_schema

POSTING = {"account_number": "DE00000007", "booked_on": "2024-06-11", "amount": "12.50",
           "direction": "credit", "text": "Refund 4711", "reference": "ONCE1"}  # fmt: skip
ADDRESS = {"customer_number": "10000078", "address_line1": "Hauptstrasse 5",
           "city": "Potsdam", "postal_code": "14467", "country": "de"}  # fmt: skip
APPROVAL_MARK = "    description: Book one posting on an account. This writes to the ledger.\n"


@dataclass
class Desk:
    """A gateway with keys, a ledger whose postings need approval, and a dead SOAP host."""

    client: TestClient
    store: AuditStore
    config: Path
    ledger: Path
    agent: str
    agent_key_id: str
    controller: str
    customer_master_port: int

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.client.app.state.gateway  # type: ignore[attr-defined]
        return gateway

    def call(self, tool: str, arguments: dict[str, Any], key: str | None, who: str = "") -> Any:
        headers = {"authorization": f"Bearer {who or self.agent}"}
        if key is not None:
            headers["idempotency-key"] = key
        return self.client.post(
            f"/v1/tools/{tool}/call", json={"arguments": arguments}, headers=headers
        )

    def book(self, reference: str, key: str | None = None) -> Any:
        return self.call("record_posting", {**POSTING, "reference": reference}, key)

    def decide(self, approval_id: str, decision: str = "approve") -> Any:
        return self.client.post(
            f"/v1/approvals/{approval_id}",
            json={"decision": decision},
            headers={"authorization": f"Bearer {self.controller}"},
        )

    def record(self, call_id: str) -> dict[str, Any]:
        response = self.client.get(
            f"/v1/calls/{call_id}", headers={"authorization": f"Bearer {self.controller}"}
        )
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()
        return record

    def pending(self) -> list[dict[str, Any]]:
        response = self.client.get(
            "/v1/approvals", headers={"authorization": f"Bearer {self.controller}"}
        )
        approvals: list[dict[str, Any]] = response.json()["approvals"]
        return approvals

    def postings(self, reference: str) -> int:
        return postings_with(self.ledger, reference)

    def edit_ledger_tools(self, old: str, new: str) -> None:
        path = self.config / "ledger.yaml"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
        assert self.client.portal is not None
        self.client.portal.call(self.gateway.reload)


def add_key(store: AuditStore, agent: str, scopes: list[str]) -> tuple[str, str]:
    made = new_key(agent, scopes, dt.datetime.now(dt.UTC).isoformat())
    store.add_key(made.stored)
    return made.key, made.stored.key_id


@contextmanager
def recovering_gateway(
    config: Path, audit_db: Path, lifetimes: Lifetimes, auth: str = "keys"
) -> Iterator[TestClient]:
    """The agent API in process, with a lease and its sweeps, like ``serve``."""

    def build() -> Gateway:
        store = SQLiteStore(audit_db)
        audit_log = AuditLog(store, AuditSettings.from_environment(audit_db))
        recovery = Recovery(store, f"test-{uuid.uuid4().hex[:6]}", lifetimes)
        return Gateway.from_directory(config, store, audit_log, auth, recovery)  # type: ignore[arg-type]

    with TestClient(create_app(build)) as client:
        yield client
        client.app.state.gateway.store.close()  # type: ignore[attr-defined]


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    config = tmp_path / "config"
    config.mkdir()
    for name in ("backends.yaml", "codes.yaml", "customers.yaml", "ledger.yaml"):
        shutil.copy(DEMO_CONFIG / name, config / name)
    for folder in ("wsdl", "copybooks"):
        shutil.copytree(DEMO_CONFIG / folder, config / folder)
    ledger_yaml = config / "ledger.yaml"
    text = ledger_yaml.read_text()
    assert APPROVAL_MARK in text
    ledger_yaml.write_text(text.replace(APPROVAL_MARK, APPROVAL_MARK + "    approval: required\n"))
    ledger = create_ledger(tmp_path / "ledger.sqlite")
    port = free_port()  # nothing listens there until a test starts the customer master
    monkeypatch.setenv("LEDGER_DB", str(ledger))
    monkeypatch.setenv("CUSTOMER_MASTER_URL", f"http://127.0.0.1:{port}/customer-master")
    lifetimes = Lifetimes(lease_s=60, idempotency_ttl_s=3600)
    with recovering_gateway(config, tmp_path / "audit.sqlite", lifetimes) as client:
        store = client.app.state.gateway.store  # type: ignore[attr-defined]
        agent, agent_key_id = add_key(store, "booking-bot", ["record_posting", "*customer*"])
        controller, _ = add_key(store, "controller@example.com", ["approve", "audit"])
        yield Desk(client, store, config, ledger, agent, agent_key_id, controller, port)


# ---------------------------------------------------------------- approvals and keys


def test_one_key_sent_concurrently_makes_one_approval_and_one_posting(desk: Desk) -> None:
    key = f"post-{uuid.uuid4()}"
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: desk.book("ONCE1", key), range(8)))
    parked = [a for a in answers if a.status_code == 202]
    busy = [a for a in answers if a.status_code == 409]
    assert len(parked) + len(busy) == 8, [a.text for a in answers]
    assert all(error_of(a)["code"] == "call_in_progress" for a in busy)
    assert {a.json()["call_id"] for a in parked} == {parked[0].json()["call_id"]}
    assert {a.json()["result"]["approval_id"] for a in parked} == {
        parked[0].json()["result"]["approval_id"]
    }
    (waiting,) = desk.pending()
    call_id = parked[0].json()["call_id"]
    assert waiting["call_id"] == call_id

    again = desk.book("ONCE1", key)  # while a person decides: the same approval
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "awaiting_approval"
    assert again.json()["replayed"] is True
    assert again.json()["result"]["approval_id"] == waiting["approval_id"]

    decided = desk.decide(waiting["approval_id"])
    assert decided.status_code == 200, decided.text
    assert decided.json()["result"] == {"booked": 1}
    after = desk.book("ONCE1", key)  # once decided: the outcome, and nothing sent
    assert after.status_code == 200, after.text
    assert after.json()["status"] == "ok"
    assert after.json()["call_id"] == call_id
    assert after.json()["result"] == {"booked": 1}
    assert desk.postings("ONCE1") == 1
    record = desk.record(call_id)
    assert record["idempotency_key"] == key
    kinds = [r["kind"] for r in record["records"]]
    assert kinds.count("approval.requested") == 1
    assert kinds.count("call.intent") == 1
    assert kinds.count("call.outcome") == 1


def test_a_rejected_approval_is_the_answer_to_its_key(desk: Desk) -> None:
    key = f"post-{uuid.uuid4()}"
    asked = desk.book("ONCE2", key).json()
    assert desk.decide(asked["result"]["approval_id"], "reject").status_code == 200
    again = desk.book("ONCE2", key)
    assert again.status_code == 200
    assert again.json()["status"] == "rejected"
    assert again.json()["call_id"] == asked["call_id"]
    assert desk.pending() == []
    assert desk.postings("ONCE2") == 0


def test_an_approval_is_refused_when_the_requesters_key_was_revoked(desk: Desk) -> None:
    asked = desk.book("REVOKED1").json()
    desk.store.revoke_key(desk.agent_key_id, dt.datetime.now(dt.UTC).isoformat())
    refused = desk.decide(asked["result"]["approval_id"])
    assert refused.status_code == 409, refused.text
    error = error_of(refused)
    assert error["code"] == "approval_refused"
    assert "revoked" in error["message"]
    assert "nothing was sent" in error["message"]
    assert error["call_id"] == asked["call_id"]
    assert desk.postings("REVOKED1") == 0
    record = desk.record(asked["call_id"])
    assert record["status"] == "refused"
    assert record["error"]["code"] == "approval_refused"
    assert record["approval"]["decided_by"] == "key:controller@example.com"
    assert "call.intent" not in [r["kind"] for r in record["records"]]
    assert desk.pending() == []
    again = desk.decide(asked["result"]["approval_id"])  # refused is final
    assert error_of(again)["code"] == "approval_decided"


def test_an_approval_is_refused_when_the_requester_lost_the_scope(desk: Desk) -> None:
    asked = desk.book("SCOPE1").json()
    # An operator cuts the key's scopes in the store (keys have no edit command).
    assert isinstance(desk.store, SQLiteStore)
    with sqlite3.connect(desk.store.path) as db:
        db.execute(
            "UPDATE api_keys SET scopes = ? WHERE key_id = ?",
            (orjson.dumps(["get_customer"]).decode(), desk.agent_key_id),
        )
    refused = desk.decide(asked["result"]["approval_id"])
    assert refused.status_code == 409, refused.text
    assert error_of(refused)["code"] == "approval_refused"
    assert "no longer has a scope for tool 'record_posting'" in error_of(refused)["message"]
    assert desk.postings("SCOPE1") == 0
    assert desk.record(asked["call_id"])["status"] == "refused"


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("width: 30, case: upper, max_length: 30", "width: 30, case: lower, max_length: 30",
         "changed since the preview"),
        ("    approval: required\n", "", "no longer needs approval"),
        ("  record_posting:\n", "  record_posting_v2:\n", "was removed from the config"),
    ],
    ids=["tool_changed", "approval_dropped", "tool_removed"],
)  # fmt: skip
def test_an_approval_is_refused_when_the_tool_changed(
    desk: Desk, old: str, new: str, says: str
) -> None:
    asked = desk.book("CONFIG1").json()
    desk.edit_ledger_tools(old, new)
    refused = desk.decide(asked["result"]["approval_id"])
    assert refused.status_code == 409, refused.text
    error = error_of(refused)
    assert error["code"] == "approval_stale"
    assert says in error["message"]
    assert desk.postings("CONFIG1") == 0
    record = desk.record(asked["call_id"])
    assert record["status"] == "refused"
    assert record["error"]["code"] == "approval_stale"


# ---------------------------------------------------------------- retryable failures


def test_a_retryable_failure_lets_the_same_key_try_again(desk: Desk) -> None:
    key = f"addr-{uuid.uuid4()}"
    down = desk.call("update_customer_address", ADDRESS, key)
    assert down.status_code == 503, down.text
    first = error_of(down)
    assert first["code"] == "backend_unavailable"
    assert first["retryable"] is True
    still_down = desk.call("update_customer_address", ADDRESS, key)  # a new attempt, failing
    assert still_down.status_code == 503
    second_id = error_of(still_down)["call_id"]
    assert second_id != first["call_id"]
    assert desk.record(second_id)["retry_of"] == first["call_id"]

    estate = EstateServer(port=desk.customer_master_port).start()
    try:
        watch = EstateWatch(estate)
        up = desk.call("update_customer_address", ADDRESS, key)
        assert up.status_code == 200, up.text
        watch.sole()  # sent once, now that the host is back
        third_id = up.json()["call_id"]
        assert third_id not in (first["call_id"], second_id)
        assert "replayed" not in up.json()
        assert desk.record(third_id)["retry_of"] == second_id
        assert desk.record(first["call_id"])["retried_by"] == [second_id]
        assert desk.record(second_id)["retried_by"] == [third_id]

        watch = EstateWatch(estate)
        final = desk.call("update_customer_address", ADDRESS, key)  # final: replayed
        assert final.status_code == 200
        assert final.json()["replayed"] is True
        assert final.json()["call_id"] == third_id
        assert watch.new() == []
    finally:
        estate.stop()


def test_a_final_failure_is_replayed_and_sends_nothing(desk: Desk) -> None:
    estate = EstateServer(port=desk.customer_master_port, hostile=True).start()
    try:
        key = f"get-{uuid.uuid4()}"
        failed = desk.call("get_customer", {"customer_number": "99999500"}, key)
        assert failed.status_code == 502, failed.text
        assert error_of(failed)["retryable"] is False
        watch = EstateWatch(estate)
        again = desk.call("get_customer", {"customer_number": "99999500"}, key)
        assert again.status_code == 502
        assert error_of(again)["call_id"] == error_of(failed)["call_id"]
        assert watch.new() == []

        key = f"get-{uuid.uuid4()}"
        busy = desk.call("get_customer", {"customer_number": "99999503"}, key)
        assert error_of(busy)["retryable"] is True
        watch = EstateWatch(estate)
        retried = desk.call("get_customer", {"customer_number": "99999503"}, key)
        assert error_of(retried)["call_id"] != error_of(busy)["call_id"]
        assert len(watch.new()) >= 1  # tried again on the legacy host
    finally:
        estate.stop()


# ---------------------------------------------------------------- expiry


def test_an_undecided_approval_expires_on_the_record_and_answers_its_key(desk: Desk) -> None:
    key = f"post-{uuid.uuid4()}"
    asked = desk.book("EXPIRE1", key).json()
    approval_id = asked["result"]["approval_id"]
    assert isinstance(desk.store, SQLiteStore)
    with sqlite3.connect(desk.store.path) as db:  # the approval's hour passes
        (data,) = db.execute(
            "SELECT data FROM approvals WHERE approval_id = ?", (approval_id,)
        ).fetchone()
        stored = orjson.loads(data)
        stored["expires_at"] = "2020-01-01T00:00:00+00:00"
        db.execute(
            "UPDATE approvals SET data = ? WHERE approval_id = ?",
            (orjson.dumps(stored).decode(), approval_id),
        )
    assert desk.gateway.recovery is not None
    desk.gateway.recovery.sweep()  # nobody asked: the sweep writes the expiry
    record = desk.record(asked["call_id"])
    assert record["status"] == "expired"
    assert "approval.expired" in [r["kind"] for r in record["records"]]
    assert desk.pending() == []
    again = desk.book("EXPIRE1", key)
    assert again.json()["status"] == "expired"
    assert again.json()["call_id"] == asked["call_id"]
    assert error_of(desk.decide(approval_id))["code"] == "approval_decided"
    assert desk.postings("EXPIRE1") == 0


def test_a_key_expires_on_the_record_and_then_starts_a_new_call(desk: Desk) -> None:
    estate = EstateServer(port=desk.customer_master_port).start()
    try:
        key = f"addr-{uuid.uuid4()}"
        first = desk.call("update_customer_address", ADDRESS, key)
        assert first.status_code == 200, first.text
        recovery = desk.gateway.recovery
        assert recovery is not None
        recovery.sweep()  # within its lifetime: kept
        assert desk.call("update_customer_address", ADDRESS, key).json()["replayed"] is True
        recovery.lifetimes = Lifetimes(idempotency_ttl_s=0.001)
        recovery.sweep()
        record = desk.record(first.json()["call_id"])
        released = record["key_released"]
        assert released["idempotency_key"] == key
        assert released["reason"] == "expired"
        assert released["ttl_s"] == 0.001
        watch = EstateWatch(estate)
        again = desk.call("update_customer_address", ADDRESS, key)
        assert again.status_code == 200
        assert again.json()["call_id"] != first.json()["call_id"]
        assert "replayed" not in again.json()
        watch.sole()
    finally:
        estate.stop()


def test_lifetimes_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Lifetimes.from_environment() == Lifetimes(60, 86_400, 3_600)
    monkeypatch.setenv("LEGACY_GATEWAY_IDEMPOTENCY_TTL_S", "600")
    monkeypatch.setenv("LEGACY_GATEWAY_LEASE_S", "5")
    assert Lifetimes.from_environment() == Lifetimes(5, 600, 3_600)
    monkeypatch.setenv("LEGACY_GATEWAY_LEASE_S", "soon")
    with pytest.raises(ValueError, match="LEGACY_GATEWAY_LEASE_S must be seconds"):
        Lifetimes.from_environment()


# ---------------------------------------------------------------- a gateway gone mid-call


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where replicas keep their calls: a SQLite file, or a schema of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield str(tmp_path / "audit.sqlite")
        return
    with pg_schema("once") as url:
        yield url


def start_call(store: AuditStore, owner: Recovery, effect: str, key: str | None = None) -> str:
    """What a process writes before it touches the legacy side: key claim, then intent."""
    call_id = str(uuid.uuid4())
    intent: dict[str, Any] = {"tool": "t", "effect": effect, "principal": "bot",
                              "instance": owner.instance_id}  # fmt: skip
    if key is not None:
        assert store.claim_key("bot", key, call_id, "fp", owner.instance_id) is None
        intent["idempotency_key"] = key
    store.append("call.intent", call_id, intent, RecordContext(principal="bot"))
    return call_id


def statuses(store: AuditStore, *call_ids: str) -> list[str]:
    from gateway.audit.views import call_view

    return [str(call_view(c, store.records_of(c))["status"]) for c in call_ids]


def test_only_a_gone_processs_calls_are_marked_and_its_keys_freed(shared_store: str) -> None:
    store = open_store(Path(shared_store), shared_store)
    try:
        killed = Recovery(store, "host-a:8080")
        killed.begin()
        write = start_call(store, killed, "write", "w-key")
        read = start_call(store, killed, "read", "r-key")
        never_started = str(uuid.uuid4())  # claimed, then killed before its intent
        assert store.claim_key("bot", "n-key", never_started, "fp", killed.instance_id) is None

        live = Recovery(store, "host-b:8080")  # another replica, renewing its lease
        live.begin()
        running = start_call(store, live, "write", "live-key")

        silent = Recovery(store, "host-c:8080")  # a replica that stopped renewing
        silent.begin()
        abandoned = start_call(store, silent, "write")

        restarted = Recovery(store, "host-a:8080")  # host-a again: its previous life is over
        assert restarted.begin() == 2
        assert statuses(store, write, read, running) == [
            "outcome_unknown", "outcome_unknown", "in_progress",
        ]  # fmt: skip
        # The write's key answers outcome_unknown; the read's and the unstarted one are free.
        assert store.claim_key("bot", "w-key", "other", "fp") == (write, "fp")
        assert store.claim_key("bot", "r-key", "other-r", "fp") is None
        assert store.claim_key("bot", "n-key", "other-n", "fp") is None
        assert store.claim_key("bot", "live-key", "other-l", "fp") == (running, "fp")
        released = [r for r in store.records_of(never_started) if r.kind == "idempotency.released"]
        assert released[0].body["reason"] == "never_started"

        # host-c's lease ages past lease_s: any live replica settles it, exactly once.
        old = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=120)).isoformat()
        assert store.retire_lease(silent.instance_id)
        assert store.register_lease(Lease(silent.instance_id, "host-c:8080", 0, old, old))
        assert live.recover() == 1
        assert restarted.recover() == 0
        assert statuses(store, abandoned, running) == ["outcome_unknown", "in_progress"]
        outcomes = [r for r in store.records_of(abandoned) if r.kind == "call.outcome"]
        assert len(outcomes) == 1
        assert outcomes[0].body["error"]["code"] == "outcome_unknown"
        assert outcomes[0].body["error"]["details"]["instance"] == silent.instance_id
        assert {lease.name for lease in store.leases()} == {"host-a:8080", "host-b:8080"}
        # What an operator lists: the marked calls to check, and the one still running.
        listed = {call["call_id"]: call["status"] for call in unresolved(store)}
        assert listed == {write: "outcome_unknown", read: "outcome_unknown",
                          abandoned: "outcome_unknown", running: "in_progress"}  # fmt: skip
    finally:
        store.close()


def test_calls_of_no_instance_are_marked_only_when_old(shared_store: str) -> None:
    store = open_store(Path(shared_store), shared_store)
    try:
        ended = str(uuid.uuid4())
        store.append("call.intent", ended, {"tool": "t", "effect": "read"})
        store.append("call.outcome", ended, {"status": "ok"})
        fresh = str(uuid.uuid4())  # a one-shot CLI call running right now
        store.append("call.intent", fresh, {"tool": "t", "effect": "write"})
        (fresh_intent,) = store.records_of(fresh)
        assert Recovery(store, "h:1").begin() == 0
        # The next start reads from the young call on, not from the start of the log.
        assert store.recovery_mark("orphans") == fresh_intent.index
        time.sleep(0.01)
        size = store.count()
        reads = spy_on_unfinished(store)
        assert Recovery(store, "h:2", Lifetimes(orphan_after_s=0.001)).begin() == 1
        assert reads == [fresh_intent.index]
        assert statuses(store, fresh) == ["outcome_unknown"]
        assert store.recovery_mark("orphans") == size
    finally:
        store.close()


def spy_on_unfinished(store: AuditStore) -> list[int]:
    """The index each read of unfinished calls starts from, from now on."""
    reads: list[int] = []
    unfinished = store.unfinished

    def reading(since: int = 0) -> list[Any]:
        reads.append(since)
        return unfinished(since)

    store.unfinished = reading  # type: ignore[method-assign]
    return reads


def lease_of(store: AuditStore, owner: Recovery) -> Lease:
    return next(lease for lease in store.leases() if lease.instance_id == owner.instance_id)


def test_a_lease_moves_past_the_calls_that_ended_and_a_crash_is_still_found(
    shared_store: str,
) -> None:
    """A long life's stop, or its crash, reads the log from its oldest unfinished call."""
    store = open_store(Path(shared_store), shared_store)
    try:
        worker = Recovery(store, "host-a:8080")
        worker.begin()
        ended = start_call(store, worker, "read")
        store.append("call.outcome", ended, {"status": "ok"})
        running = start_call(store, worker, "write")
        (running_intent,) = store.records_of(running)
        store.append("call.intent", "other", {"tool": "t", "instance": "gw_someone_else"})
        worker.sweep()
        assert lease_of(store, worker).first_idx == running_intent.index
        store.append("call.outcome", running, {"status": "ok"})
        worker.sweep()
        size = store.count()
        assert lease_of(store, worker).first_idx == size

        reads = spy_on_unfinished(store)
        worker.end()  # a clean stop: nothing of its own unfinished, the lease goes
        assert reads == [size]
        assert worker.instance_id not in {lease.instance_id for lease in store.leases()}

        worker = Recovery(store, "host-a:8080")
        worker.begin()
        for _ in range(3):
            store.append("call.outcome", start_call(store, worker, "read"), {"status": "ok"})
        worker.sweep()
        mark = lease_of(store, worker).first_idx
        assert mark == store.count()
        lost = start_call(store, worker, "write")  # then the process is killed
        reads.clear()
        assert Recovery(store, "host-a:8080").begin() == 1
        assert reads[0] == mark  # the settle, then the calls of no instance
        assert statuses(store, lost, ended, running) == ["outcome_unknown", "ok", "ok"]
    finally:
        store.close()


def test_keys_are_taken_over_and_expired_once_on_either_store(shared_store: str) -> None:
    from gateway.policy.expiry import expire_keys

    store = open_store(Path(shared_store), shared_store)
    try:
        context = RecordContext(principal="gateway")
        store.append("call.outcome", "first", {"status": "error", "error": {"retryable": True}})
        assert store.claim_key("bot", "k", "first", "fp", "gw_1") is None
        # Two repeats race for the key of a retryable failure: one takes it over.
        assert store.take_over_key("bot", "k", "first", "second", "gw_2")
        assert not store.take_over_key("bot", "k", "first", "third", "gw_3")
        assert store.claim_key("bot", "k", "x", "fp") == ("second", "fp")
        (claim,) = store.claimed_keys(instance="gw_2")
        assert (claim.call_id, claim.instance) == ("second", "gw_2")

        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=10)
        assert expire_keys(store, later - dt.timedelta(seconds=60), 5, context) == 0  # young
        assert expire_keys(store, later, 5, context) == 1
        assert expire_keys(store, later, 5, context) == 0  # released once, recorded once
        (released,) = [r for r in store.records_of("second") if r.kind == "idempotency.released"]
        assert released.body == {"idempotency_key": "k", "principal": "bot", "reason": "expired",
                                 "claimed_at": claim.at, "ttl_s": 5}  # fmt: skip
        assert store.claim_key("bot", "k", "fourth", "fp") is None
    finally:
        store.close()


def test_an_approval_kept_but_never_recorded_cannot_run(desk: Desk) -> None:
    from gateway.policy.approvals import Approval

    # A gateway stopped between keeping the approval's arguments and recording the request.
    now = dt.datetime.now(dt.UTC)
    ghost = Approval(
        approval_id="apr_unrecorded", call_id=str(uuid.uuid4()), tool="record_posting",
        tool_version="v", principal="key:booking-bot", trace_id="0" * 32,
        arguments={**POSTING, "reference": "GHOST1"}, context={}, preview={},
        preview_hash="h", requested_at=now.isoformat(),
        expires_at=(now + dt.timedelta(hours=1)).isoformat(),
    )  # fmt: skip
    desk.store.add_approval(ghost)
    refused = desk.decide("apr_unrecorded")
    assert refused.status_code == 404, refused.text
    assert "never put on the record" in error_of(refused)["message"]
    assert desk.postings("GHOST1") == 0
