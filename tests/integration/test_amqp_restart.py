"""A RabbitMQ restart in the middle of a run: calls in flight fail at once, later ones work.

The broker's application is stopped and started with ``rabbitmqctl`` (the node stays up),
which closes every connection the way a broker restart does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from estate.orders import SILENT_ORDER
from tests.integration.amqp_support import rabbitmqctl, wait_until
from tests.integration.support import call_record, error_of


def call(client: TestClient, tool: str, arguments: dict[str, Any]) -> Any:
    return client.post(f"/v1/tools/{tool}/call", json={"arguments": arguments})


@pytest.fixture
def broker_restarted_after() -> Iterator[None]:
    """Whatever happens in the test, the broker is running again afterwards."""
    try:
        yield
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")


def test_broker_restart_fails_calls_in_flight_and_later_calls_succeed(
    amqp_client: TestClient, broker_restarted_after: None
) -> None:
    before = call(amqp_client, "order_status", {"order_number": 1000000010})
    assert before.status_code == 200, before.text

    # A call waiting for a reply that never comes, with 30 s to wait.
    in_flight: dict[str, Any] = {}

    def wait_forever() -> None:
        started = time.monotonic()
        in_flight["response"] = call(amqp_client, "order_status_patient",
                                     {"order_number": SILENT_ORDER})  # fmt: skip
        in_flight["seconds"] = time.monotonic() - started

    waiter = threading.Thread(target=wait_forever)
    waiter.start()
    time.sleep(0.5)
    rabbitmqctl("stop_app")
    waiter.join(30)

    response = in_flight["response"]
    assert response.status_code == 503, response.text
    error = error_of(response)
    assert error["code"] == "backend_unavailable"
    assert error["retryable"] is True
    assert in_flight["seconds"] < 15  # failed when the connection closed, not at 30 s
    (publish,) = call_record(amqp_client, error["call_id"])["interactions"]
    assert publish["error"]["code"] == "backend_unavailable"

    down = call(amqp_client, "order_status", {"order_number": 1000000010})
    assert down.status_code == 503
    assert error_of(down)["code"] == "backend_unavailable"
    assert amqp_client.get("/health/backends").json()["backends"]["orders"]["ok"] is False

    rabbitmqctl("start_app")
    rabbitmqctl("await_startup")

    def answered() -> bool:
        response = call(amqp_client, "order_status", {"order_number": 1000000010})
        return response.status_code == 200

    wait_until(answered, 60, "a call succeeding after the broker came back")
    for number in range(1000000011, 1000000016):
        later = call(amqp_client, "order_status", {"order_number": number})
        assert later.status_code == 200, later.text
        assert later.json()["result"]["order_number"] == number
    assert amqp_client.get("/health/backends").json()["backends"]["orders"]["ok"] is True
