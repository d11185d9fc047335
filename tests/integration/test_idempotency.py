"""Idempotency-Key on any tool: a repeat is answered from the record and sends nothing."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from estate.server import EstateServer
from tests.integration.support import EstateWatch, call_record, error_of

ADDRESS = {
    "customer_number": "10000078",
    "address_line1": "Hauptstrasse 5",
    "city": "Potsdam",
    "postal_code": "14467",
    "country": "de",
}


def update(client: TestClient, arguments: dict[str, Any], key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        "/v1/tools/update_customer_address/call",
        json={"arguments": arguments, "context": {"session_id": "s-1"}},
        headers=headers,
    )


def test_a_soap_write_repeated_with_its_key_is_sent_once(
    demo_client: TestClient, estate: EstateServer
) -> None:
    key = f"addr-{uuid.uuid4()}"
    watch = EstateWatch(estate)
    first = update(demo_client, ADDRESS, key)
    assert first.status_code == 200, first.text
    watch.sole()

    watch = EstateWatch(estate)
    again = update(demo_client, ADDRESS, key)
    assert again.status_code == 200, again.text
    assert watch.new() == []  # nothing reached the customer master
    repeat = again.json()
    assert repeat["replayed"] is True
    assert repeat["call_id"] == first.json()["call_id"]
    assert repeat["result"] == first.json()["result"]
    assert repeat["receipt"] == first.json()["receipt"]
    assert "replayed" not in first.json()

    record = call_record(demo_client, repeat["call_id"])
    assert record["idempotency_key"] == key
    (replay,) = record["replays"]
    assert replay["context"] == {"session_id": "s-1"}
    assert len(record["interactions"]) == 1


def test_the_same_key_with_other_arguments_is_refused(
    demo_client: TestClient, estate: EstateServer
) -> None:
    key = f"addr-{uuid.uuid4()}"
    assert update(demo_client, ADDRESS, key).status_code == 200
    watch = EstateWatch(estate)
    other = update(demo_client, {**ADDRESS, "city": "Berlin"}, key)
    assert other.status_code == 409
    error = error_of(other)
    assert error["code"] == "idempotency_key_reused"
    assert "fresh key" in error["message"]
    assert watch.new() == []


def test_without_a_key_a_repeat_is_a_new_call(
    demo_client: TestClient, estate: EstateServer
) -> None:
    watch = EstateWatch(estate)
    first, second = update(demo_client, ADDRESS, None), update(demo_client, ADDRESS, None)
    assert first.json()["call_id"] != second.json()["call_id"]
    assert len(watch.new()) == 2


def test_a_malformed_key_is_a_clear_error(demo_client: TestClient) -> None:
    response = update(demo_client, ADDRESS, "x" * 300)
    assert response.status_code == 422
    assert error_of(response)["details"]["errors"][0]["field"] == "Idempotency-Key"
