"""Every failure answers in the one error shape, with the status its code stands for."""

from __future__ import annotations

import pytest

from gateway.errors import (
    BackendUnavailable,
    GatewayError,
    IdempotencyKeyReused,
    LegacyFault,
    LegacyTimeout,
    RateLimited,
)
from tests.unit.api.fake_gateway import FakeGateway, demo_tools, error_of, serve


@pytest.mark.parametrize(
    ("error", "status", "code", "retryable"),
    [
        (LegacyFault("Server", "the host said no"), 502, "legacy_fault", False),
        (LegacyTimeout("no answer in 5 s"), 504, "legacy_timeout", True),
        (BackendUnavailable("connection refused"), 503, "backend_unavailable", True),
        (IdempotencyKeyReused("other arguments"), 409, "idempotency_key_reused", False),
        (GatewayError("something"), 500, "gateway_error", False),
    ],
)
def test_a_gateway_error_of_a_call_is_its_status_and_code(
    error: GatewayError, status: int, code: str, retryable: bool
) -> None:
    error.call_id = "c-9"
    with serve(FakeGateway(demo_tools(), error=error)) as client:
        answer = client.post("/v1/tools/get_customer/call", json={})

    assert answer.status_code == status
    assert error_of(answer) == {
        "code": code,
        "message": error.message,
        "retryable": retryable,
        "call_id": "c-9",
        "details": error.details,
    }


def test_a_rate_limit_says_when_to_come_back() -> None:
    error = RateLimited("too fast", details={"retry_after_s": 2.4})
    with serve(FakeGateway(demo_tools(), error=error)) as client:
        answer = client.post("/v1/tools/get_customer/call", json={})

    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "2"
    assert error_of(answer)["details"] == {"retry_after_s": 2.4}


def test_an_unexpected_exception_is_a_500_naming_only_its_type() -> None:
    gateway = FakeGateway(demo_tools(), error=RuntimeError("secret detail of the driver"))
    with serve(gateway) as client:
        answer = client.post("/v1/tools/get_customer/call", json={})

    assert answer.status_code == 500
    error = error_of(answer)
    assert error["code"] == "gateway_error"
    assert error["message"] == "internal error: RuntimeError"
    assert "secret" not in answer.text


def test_an_unexpected_exception_on_a_fastapi_route_is_a_500_in_the_same_shape() -> None:
    gateway = FakeGateway(demo_tools())
    with serve(gateway, raise_server_exceptions=False) as client:
        gateway.visible_tools = None  # type: ignore[assignment,method-assign]
        answer = client.get("/v1/tools")

    assert answer.status_code == 500
    assert error_of(answer)["message"] == "internal error: TypeError"


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1/tools/", "/v1/calls/c-1/"])
def test_an_unknown_path_is_a_404_in_the_error_shape(path: str) -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.get(path)

    assert answer.status_code == 404
    assert error_of(answer)["code"] == "not_found"
    assert error_of(answer)["message"] == f"no such endpoint: {path}"


def test_a_wrong_method_is_a_405_naming_it() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.delete("/v1/tools")

    assert answer.status_code == 405
    assert error_of(answer)["code"] == "method_not_allowed"
    assert error_of(answer)["message"] == "DELETE is not allowed on /v1/tools"


def test_a_body_failing_validation_names_each_field_without_the_body_prefix() -> None:
    with serve(FakeGateway(demo_tools())) as client:
        answer = client.post(
            "/v1/calls/c-1/feedback", json={"score": "high", "mood": "bad", "label": "x" * 201}
        )

    assert answer.status_code == 422
    error = error_of(answer)
    assert error["code"] == "invalid_arguments"
    assert sorted(e["field"] for e in error["details"]["errors"]) == ["label", "mood", "score"]
