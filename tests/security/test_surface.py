"""Attacks on the gateway's surface: who a record names, what a request may carry, how big
anything reaching the record may be, and what a malformed request gets back.

Each test is an attack an agent (or anyone who reaches the port) could try; each must end in
a clear error in the one error shape, never a 500, a redirect or a forged record.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from gateway.audit.records import RecordContext
from gateway.audit.store import now
from gateway.policy.auth import new_key
from tests.integration.support import ANNA, DEMO_CONFIG, error_of, gateway_client, gateway_of

ISSUER = "https://login.example.com/"
AUDIENCE = "legacy-gateway"
MCP_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
MCP_HEADERS = {"accept": "application/json, text/event-stream"}


class Keyed:
    """A gateway checking keys and JWTs, with the means to mint both."""

    def __init__(self, client: TestClient, issuer_key: rsa.RSAPrivateKey) -> None:
        self.client = client
        self.issuer_key = issuer_key

    def key(self, agent: str, scopes: str) -> dict[str, str]:
        created = new_key(agent, scopes.split(","), now())
        gateway_of(self.client).store.add_key(created.stored)
        return {"authorization": f"Bearer {created.key}"}

    def token(self, **claims: Any) -> dict[str, str]:
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "agent-42", "scope": "get_customer",
                "exp": int(time.time()) + 300, **claims}  # fmt: skip
        encoded = jwt.encode(body, self.issuer_key, algorithm="RS256", headers={"kid": "k1"})
        return {"authorization": f"Bearer {encoded}"}

    def call(self, headers: dict[str, str], tool: str = "get_customer", **body: Any) -> Any:
        arguments = body.pop("arguments", {"customer_number": ANNA})
        return self.client.post(
            f"/v1/tools/{tool}/call", json={"arguments": arguments, **body}, headers=headers
        )


@pytest.fixture(scope="module")
def keyed(
    estate_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Keyed]:
    issuer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(issuer_key.public_key()))
    tmp = tmp_path_factory.mktemp("surface")
    jwks = tmp / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LEGACY_GATEWAY_JWT_JWKS", str(jwks))
        env.setenv("LEGACY_GATEWAY_JWT_ISSUER", ISSUER)
        env.setenv("LEGACY_GATEWAY_JWT_AUDIENCE", AUDIENCE)
        with gateway_client(DEMO_CONFIG, tmp / "audit.sqlite", auth="keys") as client:
            yield Keyed(client, issuer_key)


def records_of(keyed: Keyed, call_id: str) -> list[Any]:
    return gateway_of(keyed.client).store.records_of(call_id)


# ---------------------------------------------------------------- who the record names


def test_feedback_is_signed_by_its_caller_not_by_the_author_it_claims(keyed: Keyed) -> None:
    teller = keyed.key("teller-bot", "get_customer")
    call_id = keyed.call(teller).json()["call_id"]

    answer = keyed.client.post(
        f"/v1/calls/{call_id}/feedback",
        json={"score": 1, "label": "fine", "author": "auditor"},
        headers=teller,
    )

    assert answer.status_code == 201, answer.text
    feedback = records_of(keyed, call_id)[-1]
    assert feedback.kind == "call.feedback"
    assert feedback.context.principal == "key:teller-bot"
    assert feedback.body["principal"] == "key:teller-bot"
    assert feedback.body["claimed_author"] == "auditor"
    assert "author" not in feedback.body


def test_a_token_whose_subject_is_an_agent_name_cannot_read_that_agents_calls(
    keyed: Keyed,
) -> None:
    teller = keyed.key("teller-bot", "get_customer")
    call_id = keyed.call(teller).json()["call_id"]
    impostor = keyed.token(sub="teller-bot")

    assert keyed.client.get(f"/v1/calls/{call_id}", headers=teller).status_code == 200
    refused = keyed.client.get(f"/v1/calls/{call_id}", headers=impostor)
    assert refused.status_code == 404, refused.text
    assert error_of(refused)["code"] == "call_not_found"
    proof = keyed.client.get(f"/v1/audit/proof/{call_id}", headers=impostor)
    assert proof.status_code == 404
    feedback = keyed.client.post(
        f"/v1/calls/{call_id}/feedback", json={"score": 0}, headers=impostor
    )
    assert feedback.status_code == 404


def test_an_agent_named_like_a_token_subject_cannot_read_the_tokens_calls(keyed: Keyed) -> None:
    answer = keyed.call(keyed.token(sub="night-batch"))
    assert answer.status_code == 200, answer.text
    call_id = answer.json()["call_id"]
    twin = keyed.key("night-batch", "get_customer")

    assert keyed.client.get(f"/v1/calls/{call_id}", headers=twin).status_code == 404
    record = keyed.client.get(f"/v1/calls/{call_id}", headers=keyed.token(sub="night-batch"))
    assert record.json()["principal"] == f"jwt:{ISSUER}#night-batch"


def test_records_from_before_principals_carried_their_issuer_stay_their_agents(
    keyed: Keyed,
) -> None:
    store = gateway_of(keyed.client).store
    call_id = "legacy-record-0001"
    store.append(
        "call.intent",
        call_id,
        {"tool": "get_customer", "arguments": {"customer_number": ANNA}, "principal": "old-bot"},
        RecordContext(principal="old-bot"),
    )
    owner = keyed.key("old-bot", "get_customer")

    assert keyed.client.get(f"/v1/calls/{call_id}", headers=owner).status_code == 200
    stranger = keyed.token(sub="old-bot")
    assert keyed.client.get(f"/v1/calls/{call_id}", headers=stranger).status_code == 404


@pytest.mark.parametrize(
    "subject",
    [123, "", "x" * 256, "bad\x00name", "line\nbreak", ["a", "list"]],
    ids=["number", "empty", "too-long", "nul", "newline", "list"],
)
def test_a_token_with_a_subject_that_cannot_name_a_principal_is_refused(
    keyed: Keyed, subject: Any
) -> None:
    answer = keyed.call(keyed.token(sub=subject))
    assert answer.status_code == 401, answer.text
    assert error_of(answer)["code"] == "unauthorized"


def test_a_token_with_scopes_of_the_wrong_type_is_refused(keyed: Keyed) -> None:
    answer = keyed.call(keyed.token(scope={"get_customer": True}))
    assert answer.status_code == 401, answer.text


# ---------------------------------------------------------------- malformed Authorization

MALFORMED: dict[str, bytes] = {
    "non-ascii": "Bearer lgw_é_ключ".encode(),
    "latin1-bytes": b"Bearer \xff\xfe\xfd",
    "empty-bearer": b"Bearer ",
    "blank-bearer": b"Bearer    ",
    "scheme-only": b"Bearer",
    "empty": b"",
    "wrong-scheme": b"Basic dXNlcjpwYXNz",
    "token-scheme": b"Token lgw_0123456789ab_" + b"x" * 43,
    "long": b"Bearer " + b"a" * 9000,
    "control-char": b"Bearer lgw_0123456789ab_\x01" + b"x" * 42,
    "jwt-garbage": b"Bearer a.b.c",
    "jwt-bad-base64": b"Bearer eyJ!!!.eyJ???.sig",
    "jwt-header-not-object": b"Bearer WzFd.e30.c2ln",
    "jwt-unknown-kid": b"Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vcGUifQ.e30.c2ln",
    "jwt-alg-none": b"Bearer eyJhbGciOiJub25lIiwia2lkIjoiazEifQ.eyJzdWIiOiJ4In0.",
    "key-almost": b"Bearer lgw_0123456789ab_" + b"x" * 44,
}

ROUTES: dict[str, tuple[str, str, Any]] = {
    "call": ("POST", "/v1/tools/get_customer/call", {"arguments": {"customer_number": ANNA}}),
    "tools": ("GET", "/v1/tools", None),
    "record": ("GET", "/v1/calls/some-call", None),
    "feedback": ("POST", "/v1/calls/some-call/feedback", {"score": 1}),
    "approvals": ("GET", "/v1/approvals", None),
    "checkpoint": ("GET", "/v1/audit/checkpoint", None),
    "calls": ("GET", "/v1/calls?session=s", None),
    "session": ("GET", "/v1/sessions/some-session", None),
    "stats": ("GET", "/v1/stats", None),
    "events": ("GET", "/v1/events", None),
    "index": ("GET", "/", None),
    "metrics": ("GET", "/metrics", None),
    "mcp": ("POST", "/mcp", MCP_LIST),
}


@pytest.mark.parametrize("header", MALFORMED, ids=list(MALFORMED))
@pytest.mark.parametrize("route", ROUTES, ids=list(ROUTES))
def test_a_malformed_authorization_header_is_a_401_on_every_route(
    keyed: Keyed, route: str, header: str
) -> None:
    method, path, body = ROUTES[route]
    headers = {"authorization": MALFORMED[header], **MCP_HEADERS}
    answer = keyed.client.request(method, path, json=body, headers=headers)

    assert answer.status_code == 401, answer.text
    assert error_of(answer)["code"] == "unauthorized"
    assert answer.headers["www-authenticate"] == 'Bearer realm="legacy-gateway"'
    assert "Traceback" not in answer.text


def test_a_stranger_gets_401_before_any_validation_error(keyed: Keyed) -> None:
    for method, path, body in (
        ("POST", "/v1/calls/x/feedback", {"score": "not a number", "bogus": 1}),
        ("POST", "/v1/approvals/x", {"decision": "maybe"}),
        ("POST", "/v1/tools/get_customer/call", {"dry_run": "yes"}),
    ):
        answer = keyed.client.request(method, path, json=body)
        assert answer.status_code == 401, (path, answer.text)


# ---------------------------------------------------------------- metrics and the index


def test_metrics_need_the_metrics_scope_when_keys_are_checked(keyed: Keyed) -> None:
    assert keyed.client.get("/metrics").status_code == 401
    teller = keyed.client.get("/metrics", headers=keyed.key("teller-bot", "get_customer"))
    assert teller.status_code == 403, teller.text
    assert error_of(teller)["details"] == {"scope": "metrics"}
    scraper = keyed.client.get("/metrics", headers=keyed.key("prometheus", "metrics"))
    assert scraper.status_code == 200, scraper.text
    assert "legacy_gateway" in scraper.text
    scoped = keyed.client.get("/metrics", headers=keyed.token(scope="metrics"))
    assert scoped.status_code == 200


def test_a_metrics_scope_calls_no_tool(keyed: Keyed) -> None:
    scraper = keyed.key("prometheus", "metrics")
    assert keyed.client.get("/v1/tools", headers=scraper).json()["tools"] == []
    assert keyed.call(scraper).status_code == 403


def test_the_index_needs_a_key_and_probes_do_not(keyed: Keyed) -> None:
    assert keyed.client.get("/").status_code == 401
    index = keyed.client.get("/", headers=keyed.key("teller-bot", "get_customer"))
    assert index.status_code == 200
    assert index.json()["name"] == "legacy-gateway"
    assert keyed.client.get("/healthz").status_code == 200
    assert keyed.client.get("/readyz").status_code in (200, 503)


# ---------------------------------------------------------------- strict request models


@pytest.mark.parametrize("flag", ["yes", "true", 1, 0, "false", None, [True]])
def test_dry_run_takes_only_a_boolean(keyed: Keyed, flag: Any) -> None:
    teller = keyed.key("teller-bot", "get_customer")
    answer = keyed.call(teller, dry_run=flag)

    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in error_of(answer)["details"]["errors"]] == ["dry_run"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("score", "5"), ("score", True), ("label", 7), ("comment", ["x"]), ("author", 1)],
)
def test_feedback_fields_take_only_their_types(keyed: Keyed, field: str, value: Any) -> None:
    teller = keyed.key("teller-bot", "get_customer")
    call_id = keyed.call(teller).json()["call_id"]
    answer = keyed.client.post(f"/v1/calls/{call_id}/feedback", json={field: value}, headers=teller)
    assert answer.status_code == 422, answer.text
    assert error_of(answer)["details"]["errors"][0]["field"] == field


def test_an_approval_decision_takes_only_its_words(keyed: Keyed) -> None:
    approver = keyed.key("approver", "approve")
    for decision in (True, 1, "APPROVE", None):
        answer = keyed.client.post(
            "/v1/approvals/some-id", json={"decision": decision}, headers=approver
        )
        assert answer.status_code == 422, answer.text


@pytest.mark.parametrize("tool", ["get_customer", "record_posting", "get_exchange_rate"])
def test_a_cursor_on_a_tool_that_does_not_page_is_a_422(keyed: Keyed, tool: str) -> None:
    agent = keyed.key("pager", tool)
    answer = keyed.call(agent, tool, arguments={}, cursor="abc", dry_run=True)

    assert answer.status_code == 422, answer.text
    errors = error_of(answer)["details"]["errors"]
    assert errors == [{"field": "cursor", "message": f"tool '{tool}' does not page its answers"}]
    assert records_of_tool(keyed, tool) == []


def records_of_tool(keyed: Keyed, tool: str) -> list[Any]:
    store = gateway_of(keyed.client).store
    return [
        r
        for r in store.records_of_kind("call.intent")
        if r.body.get("tool") == tool and r.context.principal == "key:pager"
    ]


def test_a_cursor_on_a_paging_tool_is_still_judged_as_a_cursor(keyed: Keyed) -> None:
    agent = keyed.key("pager", "list_postings")
    answer = keyed.call(agent, "list_postings", arguments={"account_number": "DE00000001"},
                        cursor="abc")  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert "not a cursor this gateway gave out" in answer.text


# ---------------------------------------------------------------- one rule for trailing slashes


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/tools/get_customer/call/"),
        ("GET", "/v1/tools/"),
        ("GET", "/v1/tools/get_customer/"),
        ("GET", "/v1/calls/some-call/"),
        ("GET", "/v1/audit/checkpoint/"),
        ("GET", "/healthz/"),
        ("GET", "/metrics/"),
        ("POST", "/mcp/"),
    ],
)
def test_a_trailing_slash_is_a_404_in_the_error_shape(keyed: Keyed, method: str, path: str) -> None:
    headers = {**keyed.key("teller-bot", "get_customer"), **MCP_HEADERS}
    answer = keyed.client.request(method, path, json=MCP_LIST, headers=headers,
                                  follow_redirects=False)  # fmt: skip

    assert answer.status_code == 404, answer.text
    assert error_of(answer)["code"] == "not_found"


# ---------------------------------------------------------------- sizes


BIG = 2 * 1024 * 1024


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/tools/get_customer/call"),
        ("POST", "/v1/calls/some-call/feedback"),
        ("POST", "/v1/approvals/some-id"),
        ("POST", "/mcp"),
        ("GET", "/v1/tools"),
    ],
)
def test_a_body_over_the_cap_is_a_413_on_every_route(keyed: Keyed, method: str, path: str) -> None:
    headers = {**keyed.key("teller-bot", "get_customer,approve"), **MCP_HEADERS,
               "content-type": "application/json"}  # fmt: skip
    body = b'{"comment": "' + b"x" * BIG + b'"}'
    answer = keyed.client.request(method, path, content=body, headers=headers)

    assert answer.status_code == 413, answer.text
    assert error_of(answer)["code"] == "request_too_large"


def test_a_chunked_body_without_a_length_is_capped_too(keyed: Keyed) -> None:
    headers = {**keyed.key("teller-bot", "get_customer"), "content-type": "application/json"}

    def chunks() -> Iterator[bytes]:
        yield b'{"arguments": {"customer_number": "'
        for _ in range(40):
            yield b"9" * 65536
        yield b'"}}'

    answer = keyed.client.post("/v1/tools/get_customer/call", content=chunks(), headers=headers)
    assert answer.status_code == 413, answer.text


def test_a_lying_content_length_is_refused_before_reading(keyed: Keyed) -> None:
    headers = {**keyed.key("teller-bot", "get_customer"), "content-length": str(BIG)}
    answer = keyed.client.get("/v1/tools", headers=headers)
    assert answer.status_code == 413, answer.text


@pytest.mark.parametrize("path", ["/v1/tools", "/v1/tools/get_customer/call", "/mcp"])
def test_headers_over_the_cap_are_a_431(keyed: Keyed, path: str) -> None:
    headers = {**keyed.key("teller-bot", "get_customer"), **MCP_HEADERS,
               **{f"x-padding-{i}": "p" * 1000 for i in range(20)}}  # fmt: skip
    answer = keyed.client.post(path, json=MCP_LIST, headers=headers)

    assert answer.status_code == 431, answer.text
    assert error_of(answer)["code"] == "request_headers_too_large"


def test_feedback_over_its_cap_is_refused_and_nothing_is_recorded(keyed: Keyed) -> None:
    teller = keyed.key("teller-bot", "get_customer")
    call_id = keyed.call(teller).json()["call_id"]
    before = len(records_of(keyed, call_id))

    answer = keyed.client.post(
        f"/v1/calls/{call_id}/feedback",
        json={"correction": {"notes": ["n" * 1000] * 100}},
        headers=teller,
    )

    assert answer.status_code == 413, answer.text
    assert "LEGACY_GATEWAY_MAX_FEEDBACK_BYTES" in error_of(answer)["message"]
    assert len(records_of(keyed, call_id)) == before


def test_the_feedback_cap_is_configurable(keyed: Keyed, monkeypatch: pytest.MonkeyPatch) -> None:
    teller = keyed.key("teller-bot", "get_customer")
    call_id = keyed.call(teller).json()["call_id"]
    monkeypatch.setenv("LEGACY_GATEWAY_MAX_FEEDBACK_BYTES", "2048")
    small = keyed.client.post(
        f"/v1/calls/{call_id}/feedback", json={"comment": "c" * 1000}, headers=teller
    )
    large = keyed.client.post(
        f"/v1/calls/{call_id}/feedback", json={"comment": "c" * 3000}, headers=teller
    )
    assert (small.status_code, large.status_code) == (201, 413)


# ---------------------------------------------------------------- hostile SOAP answers


class HostileHost:
    """A real HTTP server answering every GET and POST with the same (hostile) payload."""

    def __init__(self, payload: bytes, status: int = 500) -> None:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                self.send_response(host.status)
                self.send_header("content-type", "text/xml; charset=utf-8")
                self.send_header("content-length", str(len(host.payload)))
                self.end_headers()
                self.wfile.write(host.payload)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.payload, self.status = payload, status
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/customer-master"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def fault_envelope(faultstring: str, detail: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>{faultstring}</faultstring>"
        f"<detail><Reason>{detail}</Reason></detail></soap:Fault>"
        "</soap:Body></soap:Envelope>"
    ).encode()


@pytest.fixture
def hostile_soap(
    estate_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[TestClient, HostileHost]]:
    host = HostileHost(b"")
    monkeypatch.setenv("CUSTOMER_MASTER_URL", host.url)
    try:
        with gateway_client(DEMO_CONFIG, tmp_path / "audit.sqlite") as client:
            yield client, host
    finally:
        host.stop()


def test_a_5_mb_soap_fault_is_cut_and_marked_with_the_hash_of_the_whole(
    hostile_soap: tuple[TestClient, HostileHost],
) -> None:
    client, host = hostile_soap
    faultstring, detail = "F" * 5_000_000, "D" * 1_000_000
    host.payload = fault_envelope(faultstring, detail)

    answer = client.post(
        "/v1/tools/get_customer/call", json={"arguments": {"customer_number": ANNA}}
    )

    assert answer.status_code == 502, answer.text[:300]
    assert len(answer.content) < 100_000
    details = error_of(answer)["details"]
    assert details["faultcode"] == "soap:Server"
    assert details["faultstring"] == "F" * 16 * 1024
    cut = details["faultstring_truncated"]
    assert cut == {
        "bytes": 5_000_000,
        "kept_bytes": 16 * 1024,
        "sha256": hashlib.sha256(faultstring.encode()).hexdigest(),
    }
    assert details["detail_truncated"]["bytes"] > 1_000_000
    # The record is bounded too: the fault as the agent saw it, and the answer's start.
    call_id = error_of(answer)["call_id"]
    records = gateway_of(client).store.records_of(call_id)
    assert sum(len(json.dumps(r.body)) for r in records) < 1_200_000 + 100_000
    (interaction,) = [r.body for r in records if r.kind == "interaction"]
    response = interaction["response"]
    assert response["body_truncated"]["bytes"] == len(host.payload)
    assert response["body_truncated"]["sha256"] == hashlib.sha256(host.payload).hexdigest()
    assert len(response["body"].encode()) <= 1024 * 1024


def test_a_small_soap_fault_is_kept_whole_and_unmarked(
    hostile_soap: tuple[TestClient, HostileHost],
) -> None:
    client, host = hostile_soap
    host.payload = fault_envelope("CUSTOMER LOCKED", "ERR-42")

    answer = client.post(
        "/v1/tools/get_customer/call", json={"arguments": {"customer_number": ANNA}}
    )

    details = error_of(answer)["details"]
    assert details == {
        "faultcode": "soap:Server",
        "faultstring": "CUSTOMER LOCKED",
        "detail": {"Reason": "ERR-42"},
    }


def test_the_fault_cap_is_configurable(
    hostile_soap: tuple[TestClient, HostileHost], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, host = hostile_soap
    monkeypatch.setenv("LEGACY_GATEWAY_MAX_FAULT_BYTES", "2048")
    host.payload = fault_envelope("é" * 3000, "x")  # two bytes a character: cut between them

    answer = client.post(
        "/v1/tools/get_customer/call", json={"arguments": {"customer_number": ANNA}}
    )

    details = error_of(answer)["details"]
    assert details["faultstring"] == "é" * 1024
    assert details["faultstring_truncated"]["kept_bytes"] == 2048


# ---------------------------------------------------------------- the record over MCP


def test_mcp_answers_a_keyed_caller_and_refuses_a_non_ascii_one(keyed: Keyed) -> None:
    agent = keyed.key("mcp-agent", "get_customer")
    listed = keyed.client.post("/mcp", json=MCP_LIST, headers={**agent, **MCP_HEADERS})
    assert listed.status_code == 200, listed.text
    assert [t["name"] for t in listed.json()["result"]["tools"]] == ["get_customer"]

    refused = keyed.client.post(
        "/mcp", json=MCP_LIST, headers={"authorization": "Bearer ключ".encode(), **MCP_HEADERS}
    )
    assert refused.status_code == 401
    assert error_of(refused)["code"] == "unauthorized"


@pytest.mark.parametrize(
    "context",
    [{"step": 10**30}, {"deep": {"n": -(2**64)}}, {"notes": "n" * 20_000}],
    ids=["huge-step", "huge-nested", "too-large"],
)
def test_a_context_the_record_cannot_hold_is_a_422(keyed: Keyed, context: Any) -> None:
    answer = keyed.call(keyed.key("teller-bot", "get_customer"), context=context)

    assert answer.status_code == 422, answer.text
    assert error_of(answer)["details"]["errors"][0]["field"].startswith("context")


def test_an_mcp_call_with_an_oversized_meta_never_puts_it_on_the_record(keyed: Keyed) -> None:
    agent = keyed.key("mcp-agent", "get_customer")
    request = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {
            "name": "get_customer",
            "arguments": {"customer_number": ANNA},
            "_meta": {"notes": "n" * 20_000},
        },
    }
    answer = keyed.client.post("/mcp", json=request, headers={**agent, **MCP_HEADERS})

    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    if result.get("isError"):  # refused as a whole: the context cap
        error = json.loads(result["content"][0]["text"])["error"]
        assert error["details"]["errors"][0]["field"] == "context"
        return
    call_id = result["_meta"]["legacy_gateway"]["call_id"]
    intent = next(r for r in records_of(keyed, call_id) if r.kind == "call.intent")
    assert len(json.dumps(intent.body["context"])) <= 16 * 1024


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/calls/" + "c" * 20_000),
        ("POST", "/v1/tools/" + "t" * 20_000 + "/call"),
        ("GET", "/v1/audit/export?from=" + "1" * 20_000),
    ],
    ids=["call-id", "tool-name", "query"],
)
def test_a_path_or_query_over_the_cap_is_a_414(keyed: Keyed, method: str, path: str) -> None:
    answer = keyed.client.request(method, path, headers=keyed.key("auditor", "audit"))

    assert answer.status_code == 414, answer.text[:300]
    assert error_of(answer)["code"] == "uri_too_long"
    assert len(answer.content) < 1000


def test_a_huge_http_error_answer_is_cut_on_the_record_and_marked(
    estate_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payload = b'{"error": "' + b"e" * 300_000 + b'"}'
    host = HostileHost(payload, status=500)
    monkeypatch.setenv("CRM_URL", host.url.removesuffix("/customer-master") + "/crm")
    try:
        with gateway_client(DEMO_CONFIG, tmp_path / "audit.sqlite") as client:
            answer = client.post(
                "/v1/tools/get_customer_profile/call",
                json={"arguments": {"customer_number": ANNA}},
            )
            assert answer.status_code == 502, answer.text[:300]
            assert len(answer.content) < 5_000
            records = gateway_of(client).store.records_of(error_of(answer)["call_id"])
    finally:
        host.stop()
    (interaction,) = [r.body for r in records if r.kind == "interaction"]
    response = interaction["response"]
    assert len(response["body"]) == 64 * 1024
    assert response["body_truncated"] == {
        "bytes": len(payload),
        "kept_bytes": 64 * 1024,
        "sha256": hashlib.sha256(payload).hexdigest(),
    }


def test_feedback_with_an_integer_the_record_cannot_hold_is_a_422(keyed: Keyed) -> None:
    teller = keyed.key("teller-bot", "get_customer")
    call_id = keyed.call(teller).json()["call_id"]
    answer = keyed.client.post(
        f"/v1/calls/{call_id}/feedback",
        json={"correction": [-10772149842350467072, 1]},
        headers=teller,
    )
    assert answer.status_code == 422, answer.text
    assert error_of(answer)["details"]["errors"][0]["field"] == "correction"
