"""``/v1/calls``, ``/v1/approvals`` and ``/v1/audit``: what each hands the gateway and answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.api.fake_gateway import FakeGateway, demo_tools, error_of, serve


def test_a_call_record_is_the_gateways_view_for_the_caller() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        found = client.get("/v1/calls/c-1")
        missing = client.get("/v1/calls/c-2")

    assert found.json() == {"call_id": "c-1", "principal": "anonymous"}
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "call_not_found"


def test_feedback_is_appended_with_only_what_was_given() -> None:
    gateway = FakeGateway(demo_tools(), mode="keys")
    bearer = {"authorization": f"Bearer {gateway.keys.add('reviewer', 'audit')}"}
    with serve(gateway) as client:
        answer = client.post(
            "/v1/calls/c-1/feedback",
            json={"score": 4, "label": "correct", "author": "anna"},
            headers=bearer,
        )

    assert answer.status_code == 201
    assert answer.json() == {"call_id": "c-1", "record": 9, "at": "2026-01-01T00:00:02Z"}
    [(call_id, body, caller)] = gateway.feedbacks
    assert (call_id, body) == ("c-1", {"score": 4, "label": "correct", "author": "anna"})
    assert caller.name == "key:reviewer"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"score": "4"}, "score"),  # strict: a string is not a score
        ({"score": float("inf")}, "score"),
        ({"author": ""}, "author"),
        ({"comment": "c" * 4001}, "comment"),
    ],
)
def test_feedback_of_the_wrong_shape_names_its_field(body: dict[str, Any], field: str) -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        # json.dumps writes infinity as the bare Infinity some clients send.
        answer = client.post(
            "/v1/calls/c-1/feedback",
            content=json.dumps(body),
            headers={"content-type": "application/json"},
        )

    assert answer.status_code == 422
    assert [e["field"] for e in error_of(answer)["details"]["errors"]] == [field]
    assert gateway.feedbacks == []


def test_feedback_holding_an_integer_past_64_bits_is_refused() -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        answer = client.post("/v1/calls/c-1/feedback", json={"correction": {"n": 2**70}})

    assert answer.status_code == 422
    assert error_of(answer)["details"]["errors"] == [
        {"field": "correction", "message": "holds an integer outside the 64-bit range"}
    ]
    assert gateway.feedbacks == []


@pytest.mark.parametrize(("decision", "approve"), [("approve", True), ("reject", False)])
def test_a_decision_is_handed_on_with_its_comment(decision: str, approve: bool) -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        answer = client.post(
            "/v1/approvals/a-1", json={"decision": decision, "comment": "checked the IBAN"}
        )

    assert answer.status_code == 200
    assert answer.json()["approval_id"] == "a-1"
    [(approval_id, approved, caller, comment)] = gateway.decisions
    assert (approval_id, approved, comment) == ("a-1", approve, "checked the IBAN")
    assert caller.name == "anonymous"


@pytest.mark.parametrize("body", [{"decision": "maybe"}, {"decision": "approve", "why": "x"}, {}])
def test_a_decision_of_another_shape_is_refused(body: dict[str, Any]) -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        answer = client.post("/v1/approvals/a-1", json=body)

    assert answer.status_code == 422
    assert gateway.decisions == []


def test_the_audit_routes_say_when_there_is_no_signed_log() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        checkpoint = client.get("/v1/audit/checkpoint")
        proof = client.get("/v1/audit/proof/c-1")
        unknown = client.get("/v1/audit/proof/c-2")

    assert checkpoint.status_code == 503
    assert error_of(checkpoint) == {
        "code": "audit_unavailable",
        "message": "this gateway runs without a signed audit log",
        "retryable": error_of(checkpoint)["retryable"],
        "call_id": None,
        "details": {},
    }
    assert proof.status_code == 503
    assert unknown.status_code == 404  # the call is looked up (and its owner checked) first


def test_the_audit_routes_answer_from_the_log() -> None:
    class Log:
        def latest(self) -> dict[str, Any]:
            return {"size": 7, "note": "origin\n7\nroot\n"}

        def proof_of_call(self, call_id: str) -> dict[str, Any]:
            return {"call_id": call_id, "records": []}

    with serve(FakeGateway(demo_tools(), audit_log=Log())) as client:
        checkpoint = client.get("/v1/audit/checkpoint")
        proof = client.get("/v1/audit/proof/c-1")

    assert checkpoint.json() == {"size": 7, "note": "origin\n7\nroot\n"}
    assert proof.json() == {"call_id": "c-1", "records": []}


def test_exporting_the_log_needs_the_audit_scope() -> None:
    gateway = FakeGateway(demo_tools(), mode="keys")
    bearer = {"authorization": f"Bearer {gateway.keys.add('teller-bot', 'get_*')}"}
    with serve(gateway) as client:
        answer = client.get("/v1/audit/export", headers=bearer)

    assert answer.status_code == 403
    assert error_of(answer)["details"] == {"scope": "audit"}
