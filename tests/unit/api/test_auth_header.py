"""Who may call: the Authorization header on every route, the fast call path and ``/mcp``."""

from __future__ import annotations

import pytest

from tests.unit.api.fake_gateway import FakeGateway, demo_tools, error_of, serve

ROUTES = [
    ("GET", "/v1/tools"),
    ("GET", "/v1/tools/get_customer"),
    ("POST", "/v1/tools/get_customer/call"),
    ("GET", "/v1/calls/c-1"),
    ("GET", "/v1/approvals"),
    ("GET", "/v1/audit/checkpoint"),
    ("GET", "/"),
    ("POST", "/mcp"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "no API key: send 'Authorization: Bearer lgw_...'"),
        (
            {"authorization": "Basic dXNlcjpwdw=="},
            "the Authorization header must be 'Bearer <API key>'",
        ),
        ({"authorization": "Bearer lgw_nope"}, "that is not an API key of this gateway"),
    ],
)
def test_without_a_valid_key_every_route_is_a_401_with_a_challenge(
    method: str, path: str, headers: dict[str, str], message: str
) -> None:
    gateway = FakeGateway(demo_tools(), mode="keys")
    with serve(gateway) as client:
        answer = client.request(method, path, headers=headers, json={})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="legacy-gateway"'
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.json()["error"]["message"] == message
    assert gateway.calls == []


def test_a_header_that_is_not_ascii_is_a_401_not_a_500() -> None:
    with serve(FakeGateway(demo_tools(), mode="keys")) as client:
        # Raw bytes: as a client that does not check its headers sends them.
        answer = client.get("/v1/tools", headers={"authorization": b"Bearer lgw_\xc3\xa9t\xc3\xa9"})
        fast = client.post("/v1/tools/get_customer/call", headers={"authorization": b"Bearer \xff"})

    for refused in (answer, fast):
        assert refused.status_code == 401
        assert error_of(refused)["message"] == "the Authorization header must be printable ASCII"


def test_a_stranger_learns_nothing_from_validation() -> None:
    with serve(FakeGateway(demo_tools(), mode="keys")) as client:
        answer = client.post("/v1/calls/c-1/feedback", json={"score": "not a number"})

    assert answer.status_code == 401


def test_a_key_sees_and_calls_only_the_tools_its_scopes_match() -> None:
    gateway = FakeGateway(demo_tools(), mode="keys")
    key = gateway.keys.add("teller-bot", "get_*", "tag:billing")
    bearer = {"authorization": f"Bearer {key}"}
    with serve(gateway) as client:
        listed = client.get("/v1/tools", headers=bearer).json()
        allowed = client.post("/v1/tools/get_customer/call", headers=bearer, json={})
        tagged = client.post("/v1/tools/post_payment/call", headers=bearer, json={})
        refused = client.post("/v1/tools/list_postings/call", headers=bearer, json={})
        hidden = client.get("/v1/tools/list_postings", headers=bearer)

    assert [t["name"] for t in listed["tools"]] == ["get_customer", "post_payment"]
    assert allowed.status_code == 200
    assert gateway.calls[0]["caller"].name == "key:teller-bot"
    assert tagged.status_code == 200
    assert refused.status_code == 403
    assert error_of(refused)["message"] == (
        "agent 'key:teller-bot' has no scope for tool 'list_postings'"
    )
    assert "www-authenticate" not in refused.headers
    assert hidden.status_code == 403


def test_a_scope_guards_approvals_and_metrics() -> None:
    gateway = FakeGateway(demo_tools(), mode="keys")
    agent = {"authorization": f"Bearer {gateway.keys.add('teller-bot', 'get_*')}"}
    person = {"authorization": f"Bearer {gateway.keys.add('anna', 'approve', 'metrics')}"}
    with serve(gateway) as client:
        agent_approvals = client.get("/v1/approvals", headers=agent)
        person_approvals = client.get("/v1/approvals", headers=person)
        agent_metrics = client.get("/metrics", headers=agent)
        person_metrics = client.get("/metrics", headers=person)

    assert agent_approvals.status_code == 403
    assert error_of(agent_approvals)["details"] == {"scope": "approve"}
    assert person_approvals.json() == {
        "approvals": [{"approval_id": "a-1", "tool": "post_payment"}]
    }
    assert agent_metrics.status_code == 403
    assert person_metrics.status_code == 200
    assert person_metrics.headers["content-type"].startswith("text/plain")


def test_liveness_and_readiness_need_no_key() -> None:
    with serve(FakeGateway(demo_tools(), mode="keys")) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
