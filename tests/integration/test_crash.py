"""kill -9 at every point of a call, restart, and nothing is lost, stuck or unmarked.

``legacy-gateway serve`` runs as a process in front of the demo estate (the SOAP customer
master and the ODBC ledger). For each crash point it is killed with SIGKILL in the middle
of one call (``LEGACY_GATEWAY_CRASH_AT`` places the kill; during the legacy exchange the
test kills it itself while the estate holds a slow request), then started again under the
same instance name. After every restart: each call acknowledged before is on the record
with its outcome, the call in flight has an outcome record (``outcome_unknown`` when the
legacy side may have acted) and is listed by ``calls unresolved``, its Idempotency-Key
answers without ever saying ``call_in_progress``, no posting is booked twice, and the log
verifies.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from estate.server import EstateServer
from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.views import call_view
from tests.integration.support import (
    ANNA,
    DEMO_CONFIG,
    EstateWatch,
    create_key,
    postings_with,
    run,
    serve_process,
)

SLOW_CUSTOMER = "99999408"  # the hostile estate answers it after 3 s
POSTING = {"account_number": "DE00000007", "booked_on": "2024-06-11", "amount": "3.10",
           "direction": "credit", "text": "Crash test"}  # fmt: skip


@dataclass
class Estate:
    config: Path
    audit_db: Path
    ledger: Path
    agent: str
    controller: str
    env: dict[str, str]
    acknowledged: dict[str, str] = field(default_factory=dict)  # call id -> posting ref
    crash_points: list[str] = field(default_factory=list)

    @contextmanager
    def gateway(self, crash_at: str | None = None) -> Iterator[tuple[httpx.Client, Any]]:
        env = {**self.env}
        if crash_at is not None:
            env["LEGACY_GATEWAY_CRASH_AT"] = crash_at
        with (
            serve_process(self.config, env) as (base, proc),
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            yield client, proc

    def post(self, client: httpx.Client, path: str, body: Any, key: str | None = None,
             who: str | None = None) -> httpx.Response:  # fmt: skip
        headers = {"authorization": f"Bearer {who or self.agent}"}
        if key is not None:
            headers["idempotency-key"] = key
        return client.post(path, json=body, headers=headers)

    def book(self, client: httpx.Client, ref: str, key: str | None = None,
             tool: str = "record_posting") -> httpx.Response:  # fmt: skip
        return self.post(client, f"/v1/tools/{tool}/call",
                         {"arguments": {**POSTING, "reference": ref}}, key)  # fmt: skip

    def acknowledge(self, client: httpx.Client) -> None:
        """Calls that complete and are answered: these must survive every later crash."""
        for _ in range(3):
            ref = new_ref()
            booked = self.book(client, ref, key=f"ack-{ref}")
            assert booked.status_code == 200, booked.text
            self.acknowledged[booked.json()["call_id"]] = ref
            read = self.post(client, "/v1/tools/get_customer/call",
                             {"arguments": {"customer_number": ANNA}})  # fmt: skip
            assert read.status_code == 200, read.text
            self.acknowledged[read.json()["call_id"]] = ""

    def crash(self, point: str, during: Callable[[httpx.Client, Any], None]) -> None:
        """Start a gateway armed at ``point``, do ``during`` (which ends in its death)."""
        with self.gateway(None if point == "during_exchange" else point) as (client, proc):
            during(client, proc)
            assert proc.wait(30) == -signal.SIGKILL
        self.crash_points.append(point)

    def record(self, client: httpx.Client, call_id: str) -> dict[str, Any]:
        response = client.get(
            f"/v1/calls/{call_id}", headers={"authorization": f"Bearer {self.agent}"}
        )
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()
        return record

    def postings(self, ref: str) -> int:
        return postings_with(self.ledger, ref)

    def unresolved(self) -> list[dict[str, Any]]:
        listed = run("calls", "unresolved", "--audit-db", str(self.audit_db))
        assert listed.returncode == 0, listed.stderr
        calls: list[dict[str, Any]] = orjson.loads(listed.stdout)
        return calls

    def check_nothing_lost(self) -> None:
        store = SQLiteStore(self.audit_db)
        try:
            for call_id, ref in self.acknowledged.items():
                view = call_view(call_id, store.records_of(call_id))
                assert view["status"] == "ok", (call_id, view["status"])
                if ref:
                    assert self.postings(ref) == 1, ref
            # Every call that started has ended on the record: none is in flight forever.
            assert store.unfinished() == []
        finally:
            store.close()
        verified = run("audit", "verify", "--audit-db", str(self.audit_db))
        assert verified.returncode == 0, verified.stdout + verified.stderr


def new_ref() -> str:
    return "C" + uuid.uuid4().hex[:10].upper()


def gone(send: Callable[[], Any]) -> None:
    """Send a request the gateway dies in the middle of: no answer comes back."""
    with pytest.raises(httpx.HTTPError):
        send()


@pytest.fixture
def crash_estate(estate_env: dict[str, str], tmp_path: Path) -> Estate:
    config = tmp_path / "config"
    config.mkdir()
    for path in DEMO_CONFIG.iterdir():
        target = config / path.name
        if path.is_dir():
            target.symlink_to(path)
        else:
            target.write_bytes(path.read_bytes())
    # One write that needs a person's approval, beside the demo's direct one.
    ledger = yaml.safe_load((DEMO_CONFIG / "ledger.yaml").read_text())
    approved = {**ledger["tools"]["record_posting"], "approval": "required"}
    (config / "approved.yaml").write_text(
        yaml.safe_dump({"tools": {"record_posting_approved": approved}})
    )
    audit_db = tmp_path / "audit.sqlite"
    agent = create_key(audit_db, "crash-bot", "record_posting*,get_customer")
    controller = create_key(audit_db, "controller", "approve,audit")
    env = {
        "LEGACY_GATEWAY_AUDIT_DB": str(audit_db),
        "LEGACY_GATEWAY_AUTH": "keys",
        # The same name across restarts: a restart settles its previous life at once.
        "LEGACY_GATEWAY_INSTANCE": f"crash-{uuid.uuid4().hex[:6]}",
    }
    return Estate(config, audit_db, Path(estate_env["LEDGER_DB"]), agent, controller, env)


POINTS = ("after_claim", "after_intent", "during_exchange", "before_outcome", "after_outcome",
          "after_approval")  # fmt: skip


def test_a_gateway_killed_at_every_point_of_a_call_loses_and_sticks_nothing(
    crash_estate: Estate, estate: EstateServer
) -> None:
    run_ = crash_estate
    keys = {point: f"{point}-{uuid.uuid4()}" for point in POINTS}
    refs = {point: new_ref() for point in POINTS}

    with run_.gateway() as (client, _):
        run_.acknowledge(client)
    # 1. Key claimed, killed before the intent: nothing was sent, the key is free again.
    # 2. Intent written, killed before the ledger was touched.
    # 4. The ledger booked it, killed before the outcome was written.
    # 5. Outcome written, killed before the answer left.
    for point in ("after_claim", "after_intent", "before_outcome", "after_outcome"):
        run_.crash(point, lambda c, _, p=point: gone(lambda: run_.book(c, refs[p], keys[p])))
    # 3. Killed while the legacy host holds the request (a slow customer read).
    run_.crash("during_exchange", lambda c, proc: kill_mid_exchange(
        run_, estate, c, proc, keys["during_exchange"]))  # fmt: skip

    with run_.gateway() as (client, _):
        check_first_restart(run_, client, keys, refs)
        asked = run_.book(client, refs["after_approval"], keys["after_approval"],
                          tool="record_posting_approved")  # fmt: skip
        assert asked.status_code == 202, asked.text
        run_.acknowledge(client)

    # 6. Approved, killed before the approved call's intent.
    decide = f"/v1/approvals/{asked.json()['result']['approval_id']}"
    run_.crash("after_approval", lambda c, _: gone(
        lambda: run_.post(c, decide, {"decision": "approve"}, who=run_.controller)))  # fmt: skip

    with run_.gateway() as (client, _):
        repeat = run_.book(client, refs["after_approval"], keys["after_approval"],
                           tool="record_posting_approved")  # fmt: skip
        # Nothing was sent, and the interrupted call freed its key: a new approval.
        assert repeat.status_code == 202, repeat.text
        assert repeat.json()["call_id"] != asked.json()["call_id"]
        interrupted = run_.record(client, asked.json()["call_id"])
        assert interrupted["status"] == "error"
        assert interrupted["error"]["code"] == "call_interrupted"
        assert run_.postings(refs["after_approval"]) == 0
        run_.acknowledge(client)

    assert [c["status"] for c in run_.unresolved()] == ["outcome_unknown"] * 3
    run_.check_nothing_lost()
    assert sorted(run_.crash_points) == sorted(POINTS)


def kill_mid_exchange(
    run_: Estate, estate: EstateServer, client: httpx.Client, proc: Any, key: str
) -> None:
    """Send a slow read, and kill the gateway once the legacy host has the request."""
    watch = EstateWatch(estate)

    def arrived() -> bool:
        return any(SLOW_CUSTOMER.encode() in r.body for r in watch.new())

    with httpx.Client(base_url=str(client.base_url), timeout=30) as other:
        body = {"arguments": {"customer_number": SLOW_CUSTOMER}}
        sender = threading.Thread(
            target=gone, args=(lambda: run_.post(other, "/v1/tools/get_customer/call", body, key),)
        )
        sender.start()
        for _ in range(200):
            if arrived():
                break
            sender.join(0.05)
        assert arrived(), "the request never reached the estate"
        os.kill(proc.pid, signal.SIGKILL)
        sender.join(10)


def check_first_restart(
    run_: Estate, client: httpx.Client, keys: dict[str, str], refs: dict[str, str]
) -> None:
    unresolved = {call["idempotency_key"]: call for call in run_.unresolved()}
    assert set(unresolved) == {keys["after_intent"], keys["during_exchange"],
                               keys["before_outcome"]}  # fmt: skip
    for call in unresolved.values():
        assert call["status"] == "outcome_unknown"

    # after_claim: the key starts the call now, once.
    again = run_.book(client, refs["after_claim"], keys["after_claim"])
    assert again.status_code == 200, again.text
    assert "replayed" not in again.json()
    assert run_.postings(refs["after_claim"]) == 1
    run_.acknowledged[again.json()["call_id"]] = refs["after_claim"]

    # Writes the ledger may or may not have booked: answered outcome_unknown, never resent.
    for point in ("after_intent", "before_outcome"):
        repeat = run_.book(client, refs[point], keys[point])
        assert repeat.status_code == 502, repeat.text
        error = repeat.json()["error"]
        assert error["code"] == "outcome_unknown"
        assert error["retryable"] is False
        assert error["call_id"] == unresolved[keys[point]]["call_id"]
        assert run_.record(client, error["call_id"])["status"] == "outcome_unknown"
    assert run_.postings(refs["after_intent"]) == 0
    assert run_.postings(refs["before_outcome"]) == 1  # booked once, and not again

    # A read cut off mid-exchange: its key is free, the repeat reads again.
    read = run_.post(client, "/v1/tools/get_customer/call",
                     {"arguments": {"customer_number": SLOW_CUSTOMER}},
                     keys["during_exchange"])  # fmt: skip
    assert read.status_code == 200, read.text
    assert read.json()["call_id"] != unresolved[keys["during_exchange"]]["call_id"]
    run_.acknowledged[read.json()["call_id"]] = ""

    # after_outcome: complete on the record; the repeat is its answer.
    done = run_.book(client, refs["after_outcome"], keys["after_outcome"])
    assert done.status_code == 200, done.text
    assert done.json()["replayed"] is True
    assert run_.postings(refs["after_outcome"]) == 1
    run_.acknowledged[done.json()["call_id"]] = refs["after_outcome"]
