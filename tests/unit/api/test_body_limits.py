"""Size caps, judged before any route parses anything: bodies 413, headers 431, paths 414."""

from __future__ import annotations

import pytest

from tests.unit.api.fake_gateway import FakeGateway, demo_tools, error_of, serve

CAP = 2048


@pytest.fixture(autouse=True)
def small_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGACY_GATEWAY_MAX_BODY_BYTES", str(CAP))
    monkeypatch.setenv("LEGACY_GATEWAY_MAX_HEADER_BYTES", str(CAP))
    monkeypatch.setenv("LEGACY_GATEWAY_MAX_FEEDBACK_BYTES", "1024")


def padded(size: int) -> bytes:
    """A JSON call body of exactly ``size`` bytes."""
    head = b'{"arguments": {"pad": "'
    tail = b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@pytest.mark.parametrize("path", ["/v1/tools/get_customer/call", "/v1/calls/c-1/feedback", "/mcp"])
def test_a_body_over_the_cap_is_a_413_on_every_route(path: str) -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        answer = client.post(path, content=padded(CAP + 1))

    assert answer.status_code == 413
    error = error_of(answer)
    assert error["code"] == "request_too_large"
    assert error["message"] == (
        f"the request body is larger than {CAP} bytes (LEGACY_GATEWAY_MAX_BODY_BYTES)"
    )
    assert error["details"] == {"limit": CAP}
    assert gateway.calls == []


def test_a_body_at_the_cap_is_read() -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        answer = client.post("/v1/tools/get_customer/call", content=padded(CAP))

    assert answer.status_code == 200
    assert len(gateway.calls[0]["arguments"]["pad"]) > CAP - 30


def test_a_body_sent_in_chunks_is_counted_as_it_arrives() -> None:
    gateway = FakeGateway(demo_tools())

    def chunks() -> object:
        for _ in range(3):
            yield b"x" * 1000

    with serve(gateway) as client:
        answer = client.post("/v1/tools/get_customer/call", content=chunks())  # type: ignore[arg-type]

    assert answer.status_code == 413
    assert gateway.calls == []


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.post(
            "/v1/tools/get_customer/call",
            content=b"{}",
            headers={"content-length": str(CAP * 10)},
        )

    assert answer.status_code == 413


def test_headers_over_their_cap_are_a_431() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.get("/v1/tools", headers={"x-padding": "y" * CAP})

    assert answer.status_code == 431
    error = error_of(answer)
    assert error["code"] == "request_headers_too_large"
    assert error["details"]["limit"] == CAP
    assert error["details"]["bytes"] > CAP


def test_a_path_over_the_cap_is_a_414() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.get("/v1/calls/" + "c" * CAP)

    assert answer.status_code == 414
    assert error_of(answer)["code"] == "uri_too_long"


def test_feedback_over_its_own_cap_is_a_413_naming_its_size() -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway) as client:
        answer = client.post("/v1/calls/c-1/feedback", json={"comment": "z" * 1500})

    assert answer.status_code == 413
    error = error_of(answer)
    assert error["details"] == {"bytes": len(b'{"comment":""}') + 1500, "limit": 1024}
    assert "LEGACY_GATEWAY_MAX_FEEDBACK_BYTES" in error["message"]
    assert gateway.feedbacks == []
