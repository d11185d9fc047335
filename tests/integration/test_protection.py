"""Legacy hosts protected: retries only where safe, a circuit breaker, a rate limit per agent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from estate.server import EstateServer
from tests.integration.support import (
    ROOT,
    EstateWatch,
    call_record,
    call_tool,
    error_of,
    gateway_client,
)

CONFIG = ROOT / "tests" / "fixtures" / "protection"
FLAKY = "99999503"  # the hostile estate answers HTTP 503 for it


@pytest.fixture
def protected(estate_env: dict[str, str], audit_db: Path) -> Iterator[TestClient]:
    with gateway_client(CONFIG, audit_db) as client:
        yield client


def test_an_idempotent_read_is_retried_and_every_attempt_recorded(
    protected: TestClient, estate: EstateServer
) -> None:
    watch = EstateWatch(estate)
    response = call_tool(protected, "read_patiently", {"customer_number": FLAKY})
    assert response.status_code == 502
    error = error_of(response)
    assert error["code"] == "legacy_http_error"
    assert error["retryable"] is True
    assert len(watch.new()) == 3
    interactions = call_record(protected, error["call_id"])["interactions"]
    assert [i["attempt"] for i in interactions] == [1, 2, 3]


def test_a_write_is_never_retried(protected: TestClient, estate: EstateServer) -> None:
    watch = EstateWatch(estate)
    response = call_tool(protected, "write_once", {"customer_number": FLAKY, "address_line1": "X",
                                                   "city": "Y", "postal_code": "1",
                                                   "country": "DE"})  # fmt: skip
    assert response.status_code == 502
    assert len(watch.new()) == 1


def test_the_circuit_opens_after_failures_in_a_row(protected: TestClient) -> None:
    for _ in range(2):
        failed = call_tool(protected, "read_fragile", {"customer_number": "10000001"})
        assert error_of(failed)["code"] == "backend_unavailable"
    started = time.monotonic()
    refused = call_tool(protected, "read_fragile", {"customer_number": "10000001"})
    assert time.monotonic() - started < 0.5  # not even tried
    assert refused.status_code == 503
    error = error_of(refused)
    assert error["code"] == "circuit_open"
    assert error["retryable"] is True
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    record = call_record(protected, error["call_id"])
    assert record["interactions"] == []  # refused before the host, and on the record
    assert record["error"]["code"] == "circuit_open"


def test_an_agent_calling_too_fast_is_slowed_down(protected: TestClient) -> None:
    codes = [
        call_tool(protected, "read_metered", {"customer_number": "10000001"}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    limited = call_tool(protected, "read_metered", {"customer_number": "10000001"})
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "rate_limited"
    assert limited.headers["retry-after"] == "1"
    time.sleep(1.05)
    assert call_tool(protected, "read_metered", {"customer_number": "10000001"}).status_code == 200
