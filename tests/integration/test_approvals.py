"""A write that needs a person: previewed, approved or rejected, expired, all on the record."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from estate.ledger import create_ledger
from tests.integration.support import (
    bearer,
    create_key,
    demo_copy,
    error_of,
    gateway_client,
    postings_with,
)

POSTING = {"account_number": "DE00000007", "booked_on": "2024-06-11", "amount": "12.50",
           "direction": "credit", "text": "Refund 4711", "reference": "APPROVE1"}  # fmt: skip


@dataclass
class Desk:
    client: TestClient
    audit_db: Path
    ledger: Path
    agent: str
    controller: str

    def post(self, path: str, key: str, body: Any = None) -> Any:
        return self.client.post(path, json=body or {}, headers=bearer(key))

    def book(self, reference: str) -> Any:
        return self.post(
            "/v1/tools/record_posting/call", self.agent,
            {"arguments": {**POSTING, "reference": reference}, "context": {"step": 3}},
        )  # fmt: skip

    def postings(self, reference: str) -> int:
        return postings_with(self.ledger, reference)


@pytest.fixture
def desk(
    estate_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Desk]:
    config = demo_copy(tmp_path)
    ledger_yaml = config / "ledger.yaml"
    text = ledger_yaml.read_text()
    marker = "    description: Book one posting on an account. This writes to the ledger.\n"
    assert marker in text
    ledger_yaml.write_text(text.replace(marker, marker + "    approval: required\n", 1))
    ledger = create_ledger(tmp_path / "ledger.sqlite")
    monkeypatch.setenv("LEDGER_DB", str(ledger))
    audit_db = tmp_path / "audit.sqlite"
    with gateway_client(config, audit_db, auth="keys") as client:
        agent = create_key(audit_db, "booking-bot", "record_posting,get_account")
        controller = create_key(audit_db, "controller@example.com", "approve,audit")
        yield Desk(client, audit_db, ledger, agent, controller)


def test_an_approved_write_runs_exactly_as_previewed(desk: Desk) -> None:
    asked = desk.book("APPROVE1")
    assert asked.status_code == 202, asked.text
    answer = asked.json()
    assert answer["status"] == "awaiting_approval"
    preview = answer["result"]["preview"]
    assert "INSERT INTO POSTINGS" in preview["sql"]
    assert preview["bind_values"][0] == "DE00000007"
    assert preview["bind_values"][3] == 1250  # cents, as the ledger gets them
    assert desk.postings("APPROVE1") == 0  # nothing touched the ledger yet
    approval_id = answer["result"]["approval_id"]

    refused = desk.client.get("/v1/approvals", headers=bearer(desk.agent))
    assert refused.status_code == 403
    listed = desk.client.get("/v1/approvals", headers=bearer(desk.controller)).json()
    (waiting,) = listed["approvals"]
    assert waiting["approval_id"] == approval_id
    assert waiting["principal"] == "key:booking-bot"
    assert waiting["preview"] == preview
    assert "arguments" not in waiting

    decided = desk.post(f"/v1/approvals/{approval_id}", desk.controller,
                        {"decision": "approve", "comment": "refund checked"})  # fmt: skip
    assert decided.status_code == 200, decided.text
    result = decided.json()
    assert result["call_id"] == answer["call_id"]
    assert result["status"] == "ok"
    assert result["result"] == {"booked": 1}
    assert desk.postings("APPROVE1") == 1

    again = desk.post(f"/v1/approvals/{approval_id}", desk.controller, {"decision": "approve"})
    assert again.status_code == 409
    assert error_of(again)["code"] == "approval_decided"
    assert desk.postings("APPROVE1") == 1  # never twice

    record = desk.client.get(f"/v1/calls/{answer['call_id']}", headers=bearer(desk.agent)).json()
    assert record["status"] == "ok"
    assert record["principal"] == "key:booking-bot"
    assert record["approval"]["decided_by"] == "key:controller@example.com"
    assert record["approval"]["comment"] == "refund checked"
    kinds = [r["kind"] for r in record["records"]]
    assert kinds == ["approval.requested", "approval.decided", "call.intent", "interaction",
                     "call.outcome"]  # fmt: skip
    (interaction,) = record["interactions"]
    assert interaction["request"]["bind_values"] == preview["bind_values"]


def test_a_rejected_write_never_runs(desk: Desk) -> None:
    answer = desk.book("REJECT1").json()
    approval_id = answer["result"]["approval_id"]
    rejected = desk.post(f"/v1/approvals/{approval_id}", desk.controller,
                         {"decision": "reject", "comment": "duplicate refund"})  # fmt: skip
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert desk.postings("REJECT1") == 0
    record = desk.client.get(f"/v1/calls/{answer['call_id']}", headers=bearer(desk.agent)).json()
    assert record["status"] == "rejected"
    assert record["approval"]["comment"] == "duplicate refund"


def test_nobody_approves_their_own_write_and_approvals_expire(desk: Desk) -> None:
    both = create_key(desk.audit_db, "self-approver", "record_posting,approve")
    own = desk.post("/v1/tools/record_posting/call", both,
                    {"arguments": {**POSTING, "reference": "SELF1"}}).json()  # fmt: skip
    refused = desk.post(f"/v1/approvals/{own['result']['approval_id']}", both,
                        {"decision": "approve"})  # fmt: skip
    assert refused.status_code == 403
    assert "cannot approve it too" in error_of(refused)["message"]
    no_scope = desk.post(f"/v1/approvals/{own['result']['approval_id']}", desk.agent,
                         {"decision": "approve"})  # fmt: skip
    assert no_scope.status_code == 403

    late = desk.book("LATE1").json()
    approval_id = late["result"]["approval_id"]
    with sqlite3.connect(desk.audit_db) as db:  # an hour passes
        (data,) = db.execute("SELECT data FROM approvals WHERE approval_id = ?",
                             (approval_id,)).fetchone()  # fmt: skip
        stored = orjson.loads(data)
        stored["expires_at"] = "2020-01-01T00:00:00+00:00"
        db.execute("UPDATE approvals SET data = ? WHERE approval_id = ?",
                   (orjson.dumps(stored).decode(), approval_id))  # fmt: skip
    expired = desk.post(f"/v1/approvals/{approval_id}", desk.controller, {"decision": "approve"})
    assert expired.status_code == 410
    assert error_of(expired)["code"] == "approval_expired"
    assert desk.postings("LATE1") == 0
    record = desk.client.get(f"/v1/calls/{late['call_id']}", headers=bearer(desk.controller))
    assert record.json()["status"] == "expired"


def test_a_dry_run_previews_without_asking_anyone(desk: Desk) -> None:
    dry = desk.post("/v1/tools/record_posting/call", desk.agent,
                    {"arguments": {**POSTING, "reference": "DRY1"}, "dry_run": True})  # fmt: skip
    assert dry.status_code == 200
    assert "INSERT INTO POSTINGS" in dry.json()["result"]["request"]["sql"]
    assert desk.client.get("/v1/approvals", headers=bearer(desk.controller)).json() == {
        "approvals": []
    }
