"""``/v1/tools``: what a listing shows, and what a call hands the gateway and answers."""

from __future__ import annotations

import pytest

from tests.unit.api.fake_gateway import CONFIG_VERSION, FakeGateway, demo_tools, error_of, serve


def test_the_listing_names_the_config_version_and_every_tool_in_name_order() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.get("/v1/tools")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["config_version"] == CONFIG_VERSION
    assert [t["name"] for t in body["tools"]] == ["get_customer", "list_postings", "post_payment"]
    assert body["next_cursor"] is None


def test_the_listing_filters_by_tag_and_words() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        ledger = client.get("/v1/tools", params={"tag": "ledger"}).json()
        posting = client.get("/v1/tools", params={"tag": "ledger", "q": "post"}).json()

    assert [t["name"] for t in ledger["tools"]] == ["list_postings", "post_payment"]
    assert [t["name"] for t in posting["tools"]] == ["list_postings", "post_payment"]


def test_the_listing_pages_with_a_cursor_that_carries_on_after_the_last_name() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        first = client.get("/v1/tools", params={"limit": 2}).json()
        second = client.get("/v1/tools", params={"limit": 2, "cursor": first["next_cursor"]})

    assert [t["name"] for t in first["tools"]] == ["get_customer", "list_postings"]
    assert first["next_cursor"]
    assert [t["name"] for t in second.json()["tools"]] == ["post_payment"]
    assert second.json()["next_cursor"] is None


def test_the_openai_listing_is_a_bare_list_with_the_cursor_in_a_header() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.get("/v1/tools", params={"format": "openai", "limit": 1})
        whole = client.get("/v1/tools", params={"format": "openai"})

    assert answer.json() == [{"type": "function", "function": {"name": "get_customer"}}]
    assert answer.headers["next-cursor"]
    assert len(whole.json()) == 3
    assert "next-cursor" not in whole.headers


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "xml"}, "query.format"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 501}, "query.limit"),
        ({"q": "x" * 201}, "query.q"),
    ],
)
def test_a_bad_listing_query_names_the_parameter(params: dict[str, object], field: str) -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.get("/v1/tools", params=params)

    assert answer.status_code == 422
    error = error_of(answer)
    assert error["code"] == "invalid_arguments"
    assert [e["field"] for e in error["details"]["errors"]] == [field]


def test_a_cursor_given_for_another_query_is_refused() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        cursor = client.get("/v1/tools", params={"limit": 1}).json()["next_cursor"]
        answer = client.get("/v1/tools", params={"limit": 1, "cursor": cursor, "tag": "crm"})

    assert answer.status_code == 422
    assert error_of(answer)["details"]["errors"][0]["field"] == "cursor"


def test_one_tool_is_its_listing() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.get("/v1/tools/get_customer")
        missing = client.get("/v1/tools/get_customr")

    assert answer.json() == {
        "name": "get_customer",
        "description": "The get_customer tool.",
        "tags": ["crm"],
    }
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "tool_not_found"


def test_a_call_hands_the_gateway_its_arguments_context_and_headers() -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        answer = client.post(
            "/v1/tools/list_postings/call",
            json={
                "arguments": {"account": "DE01"},
                "context": {"session_id": "s-1", "step": 2, "ticket": "T-9"},
                "cursor": "c2",
            },
            headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
                     "idempotency-key": "once"},
        )  # fmt: skip

    assert answer.status_code == 200
    assert answer.json() == {
        "call_id": "c-1",
        "trace_id": "t-1",
        "status": "ok",
        "result": {"echo": {"account": "DE01"}},
        "receipt": {"record": 3, "at": "2026-01-01T00:00:01Z", "proof": "/v1/audit/proof/c-1"},
    }
    [call] = gateway.calls
    assert call["name"] == "list_postings"
    assert call["arguments"] == {"account": "DE01"}
    # Extra context keys are kept; unset known ones are not sent as nulls.
    assert call["context"] == {"session_id": "s-1", "step": 2, "ticket": "T-9"}
    assert call["traceparent"] == "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    assert call["idempotency_key"] == "once"
    assert call["cursor"] == "c2"
    assert call["dry_run"] is False
    assert call["caller"].name == "anonymous"


def test_a_call_with_no_body_has_no_arguments() -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        answer = client.post("/v1/tools/get_customer/call")

    assert answer.status_code == 200
    assert gateway.calls[0]["arguments"] == {}
    assert gateway.calls[0]["context"] == {}


@pytest.mark.parametrize("status", ["pending", "awaiting_approval"])
def test_a_call_still_waiting_is_a_202(status: str) -> None:
    with serve(FakeGateway(demo_tools(), answer_status=status)) as client:
        answer = client.post("/v1/tools/post_payment/call", json={"arguments": {}})

    assert answer.status_code == 202
    assert answer.json()["status"] == status


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"dry_run": "yes"}', "dry_run"),
        (b'{"arguments": [1]}', "arguments"),
        (b'{"argument": {}}', "argument"),
        (b'{"context": {"step": 1.5}}', "context.step.int"),
        (b"not json", ""),
    ],
)
def test_a_malformed_call_body_names_the_field_and_reaches_no_gateway(
    body: bytes, field: str
) -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        answer = client.post("/v1/tools/get_customer/call", content=body)

    assert answer.status_code == 422
    error = error_of(answer)
    assert error["code"] == "invalid_arguments"
    fields = [e["field"] for e in error["details"]["errors"]]
    assert any(f.startswith(field) for f in fields), fields
    assert gateway.calls == []


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"cursor": "c2"}, "cursor", "tool 'get_customer' does not page its answers"),
        ({"context": {"reasoning": "x" * 17_000}}, "context", "larger than 16384 bytes"),
    ],
    ids=["a-cursor-for-a-tool-that-does-not-page", "a-context-over-16-kib"],
)
def test_a_well_formed_body_the_tool_cannot_take_is_refused(
    body: dict[str, object], field: str, message: str
) -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        answer = client.post("/v1/tools/get_customer/call", json=body)

    assert answer.status_code == 422
    assert error_of(answer)["details"]["errors"] == [{"field": field, "message": message}]
    assert gateway.calls == []


def test_an_unknown_tool_is_a_404_before_its_body_is_judged() -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        answer = client.post("/v1/tools/nope/call", content=b"not json")

    assert answer.status_code == 404
    assert error_of(answer) == {
        "code": "tool_not_found",
        "message": "no tool named 'nope'",
        "retryable": False,
        "call_id": None,
        "details": {},
    }
