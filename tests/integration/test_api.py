"""The agent API: tool listings, calling tools, refusing bad calls, and the call record.

Every call, refused or made, is on a hash-linked, append-only record; a call that cannot
be recorded is not made.
"""

from __future__ import annotations

import base64
import re
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from adapters.installed import INSTALLED
from estate.server import EstateServer
from gateway.audit.bundle import verify_bundle, verify_store
from gateway.audit.checkpoint import VerifierKey, open_note
from gateway.audit.merkle import verify_inclusion
from gateway.audit.records import record_leaf
from gateway.audit.sqlite_store import SQLiteStore
from gateway.config.loader import load_config
from tests.integration.support import (
    ANNA,
    DEMO_CONFIG,
    DEMO_TOOLS,
    EstateWatch,
    call_record,
    call_tool,
    error_of,
    gateway_of,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def sqlite_store(client: TestClient) -> SQLiteStore:
    store = gateway_of(client).store
    assert isinstance(store, SQLiteStore)
    return store


def successful_call(client: TestClient, **body: Any) -> dict[str, Any]:
    response = call_tool(client, "get_customer", {"customer_number": ANNA}, **body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# --------------------------------------------------------------------------- tool listings


def test_the_tool_listing_describes_every_demo_tool(demo_client: TestClient) -> None:
    response = demo_client.get("/v1/tools")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["config_version"].startswith("sha256:")
    tools = {tool["name"]: tool for tool in body["tools"]}
    assert set(tools) == DEMO_TOOLS
    for name, tool in tools.items():
        assert tool["description"], name
        assert re.fullmatch(r"[0-9a-f]{16}", tool["version"]), name
        assert tool["input_schema"]["$schema"] == DIALECT, name
        assert tool["input_schema"]["type"] == "object", name
        assert tool["input_schema"]["additionalProperties"] is False, name
        assert tool["input_schema"]["examples"], name
        assert tool["output_schema"]["$schema"] == DIALECT, name
        assert tool["output_schema"]["type"] == "object", name
        assert tool["output_schema"]["properties"], name
    assert {name: tool["effect"] for name, tool in tools.items()} == {
        "get_customer": "read",
        "search_customers": "read",
        "list_customers": "read",
        "update_customer_address": "write",
        "get_exchange_rate": "read",
        "get_account": "read",
        "accounts_of_customer": "read",
        "list_postings": "read",
        "record_posting": "write",
        "book_adjustment": "write",
        "order_status": "read",
        "place_order": "write",
        "cancel_order": "write",
        "get_customer_profile": "read",
        "add_contact_note": "write",
    }
    assert tools["update_customer_address"]["idempotent"] is False
    assert tools["get_customer"]["input_schema"]["required"] == ["customer_number"]
    assert tools["get_customer"]["input_schema"]["properties"]["customer_number"]["pattern"] == (
        "^[0-9]{8}$"
    )


def test_one_tool_can_be_read_on_its_own(demo_client: TestClient) -> None:
    listing = {tool["name"]: tool for tool in demo_client.get("/v1/tools").json()["tools"]}

    response = demo_client.get("/v1/tools/get_customer")

    assert response.status_code == 200, response.text
    assert response.json() == listing["get_customer"]


def test_the_openai_listing_is_function_definitions(demo_client: TestClient) -> None:
    response = demo_client.get("/v1/tools", params={"format": "openai"})

    assert response.status_code == 200, response.text
    functions = response.json()
    assert isinstance(functions, list)
    assert {entry["function"]["name"] for entry in functions} == DEMO_TOOLS
    for entry in functions:
        assert set(entry) == {"type", "function"}
        assert entry["type"] == "function"
        function = entry["function"]
        assert set(function) == {"name", "description", "strict", "parameters"}
        assert function["strict"] is True
        assert function["description"]
        assert function["parameters"]["type"] == "object"
        assert "$schema" not in function["parameters"]
        assert "examples" not in function["parameters"]


SOAP_TOOLS = sorted(
    name
    for name, tool in load_config(DEMO_CONFIG, INSTALLED).tools.items()
    if tool.backend in ("customer_master", "fx_rates")
)


@pytest.mark.parametrize("tool", SOAP_TOOLS)
def test_every_demo_tool_works_with_each_of_its_examples(
    demo_client: TestClient, estate: EstateServer, tool: str
) -> None:
    schema = demo_client.get(f"/v1/tools/{tool}").json()
    examples = schema["input_schema"]["examples"]
    assert examples, f"{tool} shows agents no example"
    assert schema["output_schema"]["examples"], f"{tool} shows agents no result example"
    arguments_schema = Draft202012Validator(schema["input_schema"])
    result_schema = Draft202012Validator(schema["output_schema"])

    for example in examples:
        arguments_schema.validate(example)
        watch = EstateWatch(estate)
        response = call_tool(demo_client, tool, example)

        assert response.status_code == 200, f"{tool} {example}: {response.text}"
        result = response.json()["result"]
        result_schema.validate(result)  # what the agent gets is what the schema promised
        declared = schema["output_schema"]["properties"]
        assert set(result) == set(declared), f"{tool} {example}"
        assert len(watch.new()) == 1


# --------------------------------------------------------------------------- refused calls


@pytest.mark.parametrize(
    ("tool", "arguments", "field", "message"),
    [
        ("get_customer", {"customer_number": "1234"}, "customer_number", "pattern"),
        ("get_customer", {}, "customer_number", "required"),
        ("get_customer", {"customer_number": 1234}, "customer_number", "send the value in quotes"),
        (
            "get_customer",
            {"customer_number": ANNA, "customer_numbr": ANNA},
            "customer_numbr",
            "did you mean 'customer_number'",
        ),
        ("list_customers", {"page_size": "500"}, "page_size", "integer"),
        ("list_customers", {"page_size": 5000}, "page_size", "maximum 1000"),
        (
            "search_customers",
            {"name_prefix": "smith", "status": "asleep"},
            "status",
            "active, closed, suspended, pending",
        ),
        (
            "get_exchange_rate",
            {"from_currency": "EURO", "to_currency": "USD"},
            "from_currency",
            "pattern",
        ),
    ],
    ids=[
        "pattern-mismatch",
        "missing-required",
        "wrong-type",
        "unknown-argument",
        "string-for-integer",
        "above-maximum",
        "unknown-code",
        "currency-pattern",
    ],
)
def test_bad_arguments_are_refused_naming_the_field(
    demo_client: TestClient,
    estate: EstateServer,
    tool: str,
    arguments: dict[str, Any],
    field: str,
    message: str,
) -> None:
    watch = EstateWatch(estate)

    response = call_tool(demo_client, tool, arguments)

    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "invalid_arguments"
    assert error["retryable"] is False
    errors = {e["field"]: e["message"] for e in error["details"]["errors"]}
    assert field in errors, errors
    assert message in errors[field]
    assert field in error["message"]
    assert watch.new() == []  # nothing reached the legacy system


def test_a_refused_call_is_on_the_record(demo_client: TestClient) -> None:
    response = call_tool(demo_client, "get_customer", {"customer_number": "ABC"})

    assert response.status_code == 422, response.text
    error = error_of(response)
    record = call_record(demo_client, error["call_id"])
    assert record["status"] == "rejected"
    assert record["tool"] == "get_customer"
    assert record["arguments"] == {"customer_number": "ABC"}
    assert record["error"]["code"] == "invalid_arguments"
    assert record["interactions"] == []
    assert [r["kind"] for r in record["records"]] == ["call.rejected"]


def test_an_unknown_tool_is_404_with_a_suggestion(demo_client: TestClient) -> None:
    response = call_tool(demo_client, "get_custmer", {"customer_number": ANNA})

    assert response.status_code == 404, response.text
    error = error_of(response)
    assert error["code"] == "tool_not_found"
    assert "did you mean 'get_customer'" in error["message"]
    assert demo_client.get("/v1/tools/get_custmer").status_code == 404


def test_a_body_that_is_not_json_is_422_in_the_error_shape(demo_client: TestClient) -> None:
    response = demo_client.post(
        "/v1/tools/get_customer/call",
        content=b'{"arguments": {"customer_number": ',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "invalid_arguments"
    assert error["details"]["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"arguments": {"customer_number": ANNA}, "argumnets": {}}, "argumnets"),
        ({"arguments": ["10000001"]}, "arguments"),
        ({"arguments": {"customer_number": ANNA}, "dry_run": "perhaps"}, "dry_run"),
        (
            {"arguments": {"customer_number": ANNA}, "context": {"reasoning": "x" * 17_000}},
            "context",
        ),
    ],
    ids=["unknown-key", "arguments-not-an-object", "dry-run-not-a-boolean", "context-too-large"],
)
def test_a_malformed_call_body_is_422_naming_the_key(
    demo_client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = demo_client.post("/v1/tools/get_customer/call", json=body)

    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "invalid_arguments"
    assert field in [e["field"] for e in error["details"]["errors"]]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/nothing-here", 404, "not_found"),
        ("/v1/tools/get_customer/call", 405, "method_not_allowed"),  # a GET where POST goes
        ("/v1/calls/00000000-0000-0000-0000-000000000000", 404, "call_not_found"),
    ],
    ids=["unknown-endpoint", "wrong-method", "unknown-call-id"],
)
def test_a_get_that_finds_nothing_answers_in_the_error_shape(
    demo_client: TestClient, path: str, status: int, code: str
) -> None:
    response = demo_client.get(path)

    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code


def test_liveness_reports_the_config_version(demo_client: TestClient) -> None:
    response = demo_client.get("/healthz")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
    assert (
        response.json()["config_version"] == demo_client.get("/v1/tools").json()["config_version"]
    )


# --------------------------------------------------------------------------- the record


def test_the_agent_context_and_the_trace_go_on_the_record(demo_client: TestClient) -> None:
    context = {"session_id": "sess-42", "reasoning": "the customer asked for a refund", "step": 3}

    response = demo_client.post(
        "/v1/tools/get_customer/call",
        json={"arguments": {"customer_number": ANNA}, "context": context},
        headers={"traceparent": TRACEPARENT},
    )

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["trace_id"] == TRACE_ID
    record = call_record(demo_client, answer["call_id"])
    assert record["context"] == context
    assert record["trace_id"] == TRACE_ID
    assert record["arguments"] == {"customer_number": ANNA}
    assert record["tool"] == "get_customer"
    assert record["principal"] == "anonymous"
    assert record["config_version"] == demo_client.get("/v1/tools").json()["config_version"]
    assert record["status"] == "ok"
    assert record["result"] == answer["result"]


def test_a_malformed_traceparent_gets_a_fresh_trace(demo_client: TestClient) -> None:
    response = demo_client.post(
        "/v1/tools/get_customer/call",
        json={"arguments": {"customer_number": ANNA}},
        headers={"traceparent": f"00-{TRACE_ID}-not-a-span"},
    )

    assert response.status_code == 200, response.text
    trace_id = response.json()["trace_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
    assert trace_id != TRACE_ID


def test_a_dry_run_renders_the_envelope_and_sends_nothing(
    demo_client: TestClient, estate: EstateServer
) -> None:
    watch = EstateWatch(estate)

    answer = successful_call(demo_client, dry_run=True)

    request = answer["result"]["request"]
    assert request["url"] == estate.customer_master_url
    assert request["soap_version"] == "1.1"
    assert "<ns0:CUSTNO>10000001</ns0:CUSTNO>" in request["envelope"]
    assert request["http_headers"]["SOAPAction"] == '"urn:legacy:customer-master:v1#GetCustomer"'
    assert watch.new() == []
    record = call_record(demo_client, answer["call_id"])
    assert record["dry_run"] is True
    assert record["interactions"] == []
    assert [r["kind"] for r in record["records"]] == ["call.intent", "call.outcome"]


def test_a_call_is_proven_by_the_signed_log(demo_client: TestClient) -> None:
    answer = successful_call(demo_client)
    call_id = answer["call_id"]
    records = call_record(demo_client, call_id)["records"]
    assert [r["kind"] for r in records] == ["call.intent", "interaction", "call.outcome"]
    first = records[0]["index"]
    assert [r["index"] for r in records] == [first, first + 1, first + 2]
    assert answer["receipt"]["record"] == first + 2
    assert answer["receipt"]["proof"] == f"/v1/audit/proof/{call_id}"

    proof = demo_client.get(answer["receipt"]["proof"]).json()
    checkpoint = proof["checkpoint"]
    key = VerifierKey.parse(checkpoint["verifier_key"])
    signed = open_note(checkpoint["note"], key)
    assert signed.size == checkpoint["size"] > first + 2
    assert base64.b64encode(signed.root).decode() == checkpoint["root"]
    for item in proof["records"]:
        assert item["record"]["call_id"] == call_id
        assert item["record"]["trace_id"] == answer["trace_id"]
        assert item["record"]["principal"] == "anonymous"
        leaf = record_leaf(orjson.dumps(item["record"]))
        verify_inclusion(
            item["index"],
            signed.size,
            leaf,
            [base64.b64decode(node) for node in item["inclusion_proof"]],
            signed.root,
        )
    latest = demo_client.get("/v1/audit/checkpoint").json()
    assert latest["size"] >= signed.size
    assert latest["verifier_key"] == checkpoint["verifier_key"]


def test_the_log_starts_with_the_config_it_serves(demo_client: TestClient, audit_db: Path) -> None:
    with sqlite3.connect(audit_db) as db:
        first = db.execute("SELECT idx, kind, data FROM records ORDER BY idx LIMIT 1").fetchone()
    assert first[:2] == (0, "config.loaded")
    version = gateway_of(demo_client).config.version
    assert orjson.loads(first[2])["config_version"] == version


def test_editing_a_record_is_found_at_that_record(demo_client: TestClient, audit_db: Path) -> None:
    answer = successful_call(demo_client)
    successful_call(demo_client)  # records after the edited one must not hide it
    interaction = call_record(demo_client, answer["call_id"])["records"][1]
    assert interaction["kind"] == "interaction"
    index = interaction["index"]
    gateway_of(demo_client).audit_log.sync()  # type: ignore[union-attr]

    db = sqlite3.connect(audit_db, isolation_level=None)
    try:
        db.execute("DROP TRIGGER records_no_update")
        (data,) = db.execute("SELECT data FROM records WHERE idx = ?", (index,)).fetchone()
        at = data.index(b"MULLER")
        forged = data[:at] + b"MILLER" + data[at + len(b"MULLER") :]
        assert sum(a != b for a, b in zip(data, forged, strict=True)) == 1
        db.execute("UPDATE records SET data = ? WHERE idx = ?", (forged, index))
    finally:
        db.close()

    key = gateway_of(demo_client).audit_log.signer.verifier  # type: ignore[union-attr]
    report = verify_store(SQLiteStore(audit_db), key)
    assert not report.ok
    assert report.first_bad_index == index
    assert f"record {index} was changed after it was logged" in report.problems[0]


def test_records_cannot_be_updated_or_deleted(demo_client: TestClient, audit_db: Path) -> None:
    successful_call(demo_client)

    db = sqlite3.connect(audit_db, isolation_level=None)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE records SET kind = 'call.outcome' WHERE idx = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM records WHERE idx = (SELECT MAX(idx) FROM records)")
    finally:
        db.close()


def test_a_call_that_cannot_be_recorded_is_not_made(
    demo_client: TestClient, estate: EstateServer, audit_db: Path
) -> None:
    """Another writer holds the store's write lock: the intent cannot be written."""
    store = sqlite_store(demo_client)
    # Wait 50 ms for the lock instead of the store's 5 s, to keep the test fast.
    store._db.execute("PRAGMA busy_timeout=50")
    blocker = sqlite3.connect(audit_db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    watch = EstateWatch(estate)
    try:
        response = call_tool(demo_client, "get_customer", {"customer_number": ANNA})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert response.status_code == 503, response.text
    error = error_of(response)
    assert error["code"] == "audit_unavailable"
    assert error["retryable"] is True
    assert watch.new() == []


@pytest.fixture
def on_a_closed_store(
    demo_client: TestClient, estate: EstateServer
) -> tuple[httpx.Response, EstateWatch]:
    """A call made after the gateway's store was closed, and what reached the estate."""
    gateway_of(demo_client).store.close()
    watch = EstateWatch(estate)
    return call_tool(demo_client, "get_customer", {"customer_number": ANNA}), watch


def test_a_call_on_a_closed_store_is_refused_as_audit_unavailable(
    on_a_closed_store: tuple[httpx.Response, EstateWatch],
) -> None:
    response, watch = on_a_closed_store

    assert watch.new() == []
    assert response.status_code == 503, response.text
    error = error_of(response)
    assert error["code"] == "audit_unavailable"
    assert error["retryable"] is True


def test_a_call_on_a_closed_store_reaches_no_legacy_system(
    on_a_closed_store: tuple[httpx.Response, EstateWatch],
) -> None:
    """Whatever the error code, no record means no call."""
    response, watch = on_a_closed_store

    assert response.status_code >= 500, response.text
    assert watch.new() == []


def test_feedback_is_appended_to_a_call_and_never_changes_it(demo_client: TestClient) -> None:
    answer = successful_call(demo_client)
    call_id = answer["call_id"]
    before = call_record(demo_client, call_id)

    response = demo_client.post(
        f"/v1/calls/{call_id}/feedback",
        json={
            "score": 0.2,
            "label": "wrong_customer",
            "correction": {"customer_number": "10000002"},
            "comment": "asked for Anna's husband",
            "author": "reviewer@example.com",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["record"] > before["records"][-1]["index"]

    after = call_record(demo_client, call_id)
    assert after["records"][:3] == before["records"]
    assert after["records"][3]["kind"] == "call.feedback"
    (feedback,) = after["feedback"]
    assert feedback["label"] == "wrong_customer"
    assert feedback["correction"] == {"customer_number": "10000002"}
    # The record's principal is the caller (open mode: anonymous); the author is a claim.
    assert feedback["claimed_author"] == "reviewer@example.com"
    assert feedback["principal"] == "anonymous"
    assert after["result"] == before["result"]
    proof = demo_client.get(f"/v1/audit/proof/{call_id}").json()
    assert proof["records"][-1]["record"]["principal"] == "anonymous"

    missing = demo_client.post("/v1/calls/nope/feedback", json={"author": "x"})
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "call_not_found"
    unsigned = demo_client.post(f"/v1/calls/{call_id}/feedback", json={"score": 1})
    assert unsigned.status_code == 201, unsigned.text


def test_the_log_is_exported_over_http_and_verifies_offline(
    demo_client: TestClient, tmp_path: Path
) -> None:
    answer = successful_call(demo_client)
    response = demo_client.get("/v1/audit/export", params={"from": "1"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/gzip"
    archive = tmp_path / "audit-bundle.tar.gz"
    archive.write_bytes(response.content)
    report = verify_bundle(archive)
    assert report.ok, report.problems
    assert report.records == answer["receipt"]["record"]  # records 1 to the call's last

    bad = demo_client.get("/v1/audit/export", params={"from": "yesterday"})
    assert bad.status_code == 422
    assert "neither a record index nor an ISO date" in error_of(bad)["message"]
