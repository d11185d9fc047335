"""AMQP tools against the real RabbitMQ on loopback and the demo's order-processing host.

Every test goes through the gateway's HTTP API and pika to a real broker; the services on
the other side are real consumers (``estate.orders``, the JSON card service).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from estate.orders import (
    FIRST_NEW_ORDER,
    LATE_ORDER,
    POISON_ORDER,
    OrderService,
    encode_reply,
    poison_reply,
    seed_orders,
)
from gateway.errors import CallInProgress
from tests.integration.amqp_support import CardService, take_messages, wait_until
from tests.integration.support import (
    AMQP_TEST_CONFIG,
    call_record,
    committed,
    error_of,
    gateway_client,
    gateway_of,
)
from tests.services import EVENTS_QUEUE, ORDERS_EXCHANGE, REPLY_QUEUE

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def call(client: TestClient, tool: str, arguments: dict[str, Any], **headers: str) -> Any:
    return client.post(
        f"/v1/tools/{tool}/call",
        json={"arguments": arguments},
        headers={key.replace("_", "-"): value for key, value in headers.items()},
    )


def finished(client: TestClient, call_id: str) -> dict[str, Any]:
    """The record of a call once it is no longer pending (a submit's reply has come)."""

    def ended() -> dict[str, Any] | None:
        record = call_record(client, call_id)
        return record if record["status"] != "pending" else None

    record: dict[str, Any] = wait_until(ended, 5, f"call {call_id} completed by its reply")
    return record


def stat_request(order: int) -> bytes:
    """The ORDER-REQUEST record the gateway must send for a status query, in cp037."""
    return f"STAT{order:010d}{'':8}{'':6}000".encode("cp037")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_request_reply_sends_the_record_and_maps_the_reply(amqp_client: TestClient) -> None:
    response = call(amqp_client, "order_status", {"order_number": 1000000003},
                    traceparent=TRACEPARENT)  # fmt: skip
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["trace_id"] == TRACE_ID
    assert answer["result"] == {
        "result": "ok",
        "order_number": 1000000003,
        "status": "shipped",
        "customer_number": "10000003",
        "item": "JACK03",
        "quantity": 3,
        "amount_eur": 747,
        "ordered_on": "2024-01-04",
        "shipped_on": "2024-01-07",
        "message": None,
    }

    record = call_record(amqp_client, answer["call_id"])
    publish, reply = record["interactions"]
    assert publish["adapter"] == "amqp"
    assert publish["operation"] == "request_reply"
    sent = publish["request"]
    assert sent["exchange"] == ORDERS_EXCHANGE
    assert sent["routing_key"] == "order.request"
    assert sent["mandatory"] is True
    assert sent["body_base64"] == b64(stat_request(1000000003))
    properties = sent["properties"]
    assert properties["reply_to"] == "amq.rabbitmq.reply-to"
    assert properties["message_id"] == answer["call_id"]
    assert properties["content_type"] == "application/octet-stream"
    assert properties["delivery_mode"] == 2
    assert properties["headers"]["x-origin"] == "gateway-tests"
    assert properties["headers"]["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert publish["response"] == {"confirmed": True}

    assert reply["operation"] == "reply"
    assert reply["request"] == {"correlation_id": properties["correlation_id"]}
    expected = encode_reply("00", seed_orders()[1000000003], "")
    assert reply["response"]["body_base64"] == b64(expected)
    assert reply["response"]["properties"]["headers"] == {"host": "ORDPROC1"}
    assert record["status"] == "ok"


def test_a_late_reply_is_a_timeout_then_recorded_with_its_call(
    amqp_client: TestClient,
) -> None:
    response = call(amqp_client, "order_status", {"order_number": LATE_ORDER})
    assert response.status_code == 504
    error = error_of(response)
    assert error["code"] == "legacy_timeout"
    assert error["retryable"] is True
    assert "late reply will be recorded" in error["message"]
    correlation = error["details"]["correlation_id"]

    def late_reply() -> dict[str, Any] | None:
        interactions = call_record(amqp_client, error["call_id"])["interactions"]
        return next((i for i in interactions if i.get("late")), None)

    late = wait_until(late_reply, 5, "the late reply on the call's record")
    assert late["request"] == {"correlation_id": correlation}
    assert late["response"]["late"] is True
    assert late["response"]["body_base64"] == b64(encode_reply("04", None, "ORDER NOT FOUND"))
    record = call_record(amqp_client, error["call_id"])
    assert record["status"] == "error"
    assert record["error"]["code"] == "legacy_timeout"


def test_a_poison_reply_is_a_clear_error_with_the_raw_body_kept(
    amqp_client: TestClient,
) -> None:
    response = call(amqp_client, "order_status", {"order_number": POISON_ORDER})
    assert response.status_code == 502
    error = error_of(response)
    assert error["code"] == "mapping_failed"
    assert "ORD-AMOUNT" in error["message"]
    assert "not a packed decimal" in error["details"]["reason"]
    record = call_record(amqp_client, error["call_id"])
    reply = record["interactions"][-1]
    assert reply["operation"] == "reply"
    assert reply["response"]["body_base64"] == b64(poison_reply(POISON_ORDER))
    assert record["error"]["code"] == "mapping_failed"


def test_an_unroutable_publish_is_an_error_not_a_silent_loss(amqp_client: TestClient) -> None:
    response = call(amqp_client, "notify_nobody", {"text": "hello?"})
    assert response.status_code == 502
    error = error_of(response)
    assert error["code"] == "message_unroutable"
    assert error["details"] == {"exchange": ORDERS_EXCHANGE, "routing_key": "nobody.listens"}
    assert "nothing was delivered" in error["message"]
    (publish,) = call_record(amqp_client, error["call_id"])["interactions"]
    assert publish["error"]["code"] == "message_unroutable"
    assert publish["request"]["body"] == '{"TEXT":"hello?"}'


def test_a_publish_is_confirmed_and_sensitive_values_stay_off_the_record(
    amqp_client: TestClient,
) -> None:
    take_messages(EVENTS_QUEUE)
    response = call(amqp_client, "record_event", {"kind": "login", "secret": "hunter22"},
                    traceparent=TRACEPARENT)  # fmt: skip
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["result"] == {"message_id": answer["call_id"], "confirmed": True}

    ((properties, body),) = take_messages(EVENTS_QUEUE)
    assert body == (
        b"<?xml version='1.0' encoding='utf-8'?>\n"
        b"<Event><KIND>login</KIND><SECRET>hunter22</SECRET></Event>"
    )
    assert properties.content_type == "application/xml"
    assert properties.delivery_mode == 1
    assert properties.message_id == answer["call_id"]
    assert properties.headers["x-event-type"] == "audit"
    assert properties.headers["traceparent"].startswith(f"00-{TRACE_ID}-")

    record = call_record(amqp_client, answer["call_id"])
    assert "hunter22" not in orjson.dumps(record).decode()
    blank = committed(amqp_client, "hunter22")
    assert record["arguments"] == {"kind": "login", "secret": blank}
    assert f"<SECRET>{blank}</SECRET>" in record["interactions"][0]["request"]["body"]


def test_json_request_reply_redacts_sensitive_fields_both_ways(
    amqp_client: TestClient, card_service: CardService
) -> None:
    card = "4111111111111111"
    response = call(amqp_client, "check_card", {"card_number": card, "holder": "ann lee"})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == {"card_number": card, "holder": "ANN LEE",
                                         "status": "active"}  # fmt: skip
    properties, body = card_service.received[-1]
    assert orjson.loads(body) == {"CARD_NO": card, "HOLDER": "ANN LEE"}
    assert properties.content_type == "application/json"

    record = call_record(amqp_client, response.json()["call_id"])
    assert card not in orjson.dumps(record).decode()
    publish, reply = record["interactions"]
    blank = committed(amqp_client, card)
    assert orjson.loads(publish["request"]["body"]) == {"CARD_NO": blank, "HOLDER": "ANN LEE"}
    assert orjson.loads(reply["response"]["body"])["CARD_NO"] == blank
    assert record["result"]["card_number"] == blank
    assert record["arguments"]["card_number"] == blank


def test_submit_answers_at_once_and_the_reply_completes_the_call(
    amqp_client: TestClient, order_service: OrderService
) -> None:
    arguments = {"customer_number": "10000007", "item": "SUIT04", "quantity": 2}
    response = call(amqp_client, "place_order", arguments)
    assert response.status_code == 202, response.text
    answer = response.json()
    call_id = answer["call_id"]
    assert answer["status"] == "pending"
    assert answer["result"]["poll"] == f"/v1/calls/{call_id}"

    record = finished(amqp_client, call_id)
    assert record["status"] == "ok"
    result = record["result"]
    assert result["result"] == "ok"
    assert result["order_number"] >= FIRST_NEW_ORDER
    assert (result["customer_number"], result["item"], result["quantity"]) == (
        "10000007", "SUIT04", 2,
    )  # fmt: skip
    assert result["amount_eur"] == 1198
    assert result["message"] == "ORDER ACCEPTED"
    submit, reply = record["interactions"]
    assert submit["request"]["properties"]["reply_to"] == REPLY_QUEUE
    assert submit["request"]["properties"]["correlation_id"] == call_id
    assert reply["request"] == {"correlation_id": call_id}
    kinds = [r["kind"] for r in record["records"]]
    assert kinds[0] == "call.intent" and kinds[-1] == "call.outcome"
    assert "call.submitted" in kinds


def test_a_repeated_idempotency_key_answers_without_sending_again(
    amqp_client: TestClient, order_service: OrderService
) -> None:
    key = f"order-{uuid.uuid4()}"
    arguments = {"customer_number": "10000008", "item": "TIE006", "quantity": 3}
    first = call(amqp_client, "place_order", arguments, idempotency_key=key)
    assert first.status_code == 202, first.text
    call_id = first.json()["call_id"]
    wait_until(lambda: call_record(amqp_client, call_id)["status"] == "ok", 5, "the first order")
    placed = dict(order_service.placed_by_message)
    assert key in placed  # the key travelled as the message id

    again = call(amqp_client, "place_order", arguments, idempotency_key=key)
    assert again.status_code == 200, again.text
    repeat = again.json()
    assert repeat["call_id"] == call_id
    assert repeat["replayed"] is True
    assert repeat["result"]["order_number"] == placed[key]
    assert order_service.placed_by_message == placed  # nothing new reached the host

    other = call(amqp_client, "place_order", {**arguments, "quantity": 4}, idempotency_key=key)
    assert other.status_code == 409
    assert error_of(other)["code"] == "idempotency_key_reused"

    record = call_record(amqp_client, call_id)
    assert record["idempotency_key"] == key
    assert len(record["replays"]) == 1
    assert record["replays"][0]["principal"] == "anonymous"


def test_a_repeated_key_of_a_failed_call_gets_the_same_error(amqp_client: TestClient) -> None:
    key = f"note-{uuid.uuid4()}"
    first = call(amqp_client, "notify_nobody", {"text": "x"}, idempotency_key=key)
    again = call(amqp_client, "notify_nobody", {"text": "x"}, idempotency_key=key)
    assert first.status_code == again.status_code == 502
    assert error_of(again)["code"] == "message_unroutable"
    assert error_of(again)["call_id"] == error_of(first)["call_id"]


def test_fifty_concurrent_calls_each_get_their_own_reply(amqp_client: TestClient) -> None:
    gateway = gateway_of(amqp_client)
    orders = [1000000001 + index * 7 for index in range(50)]

    async def all_at_once() -> list[Any]:
        return await asyncio.gather(
            *(gateway.call("order_status", {"order_number": n}) for n in orders)
        )

    results = amqp_client.portal.call(all_at_once)  # type: ignore[union-attr]
    known = seed_orders()
    for number, result in zip(orders, results, strict=True):
        assert result.status == "ok"
        assert result.result["order_number"] == number
        assert result.result["item"] == known[number].item
        assert result.result["quantity"] == known[number].quantity
    correlations = {
        call_record(amqp_client, r.call_id)["interactions"][0]["request"]["properties"][
            "correlation_id"
        ]
        for r in results
    }
    assert len(correlations) == 50


def test_a_dead_broker_is_a_quick_retryable_error(amqp_client: TestClient) -> None:
    response = call(amqp_client, "dead_status", {"text": "x"})
    assert response.status_code == 503
    error = error_of(response)
    assert error["code"] == "backend_unavailable"
    assert error["retryable"] is True
    assert "dead_broker unreachable" in error["message"]
    assert amqp_client.get("/readyz").status_code == 200
    health = amqp_client.get("/health/backends")
    assert health.status_code == 503
    backends = health.json()["backends"]
    assert backends["orders"]["ok"] is True
    assert backends["dead_broker"]["ok"] is False
    assert "unreachable" in backends["dead_broker"]["detail"]


@pytest.mark.parametrize("tool", ["order_status", "place_order", "cancel_order"])
def test_demo_order_tools_work_with_their_examples_as_their_schemas_say(
    demo_client: TestClient, order_service: OrderService, tool: str
) -> None:
    listing = demo_client.get(f"/v1/tools/{tool}").json()
    assert "request_type" not in listing["input_schema"]["properties"]  # a constant
    arguments_schema = Draft202012Validator(listing["input_schema"])
    result_schema = Draft202012Validator(listing["output_schema"])
    for example in listing["output_schema"].get("examples", []):
        result_schema.validate(example)
    for example in listing["input_schema"]["examples"]:
        arguments_schema.validate(example)
        response = call(demo_client, tool, example)
        assert response.status_code in (200, 202), response.text
        record = finished(demo_client, response.json()["call_id"])
        assert record["status"] == "ok", record
        result_schema.validate(record["result"])


def test_demo_orders_status_place_and_cancel(
    demo_client: TestClient, order_service: OrderService
) -> None:
    status = call(demo_client, "order_status", {"order_number": 1000000002})
    assert status.status_code == 200, status.text
    assert status.json()["result"]["status"] == "picked"
    assert status.json()["result"]["item"] == "trousers"

    cancel = call(demo_client, "cancel_order",
                  {"order_number": 1000000002, "reason": "customer called"})  # fmt: skip
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["result"]["confirmed"] is True

    def cancelled() -> bool:
        answer = call(demo_client, "order_status", {"order_number": 1000000002}).json()
        return bool(answer["result"]["status"] == "cancelled")

    wait_until(cancelled, 5, "the host cancelling the order")
    assert {"order": "1000000002", "reason": "customer called"} in order_service.cancellations

    placed = call(demo_client, "place_order",
                  {"customer_number": "10000001", "item": "coat", "quantity": 1})  # fmt: skip
    assert placed.status_code == 202, placed.text
    call_id = placed.json()["call_id"]
    record = finished(demo_client, call_id)
    assert record["result"]["item"] == "coat"
    assert record["result"]["status"] == "open"


def test_a_reply_waits_in_the_reply_queue_for_the_next_gateway(
    order_service: OrderService, card_service: CardService, estate_env: dict[str, str],
    audit_db: Path,
) -> None:  # fmt: skip
    arguments = {"customer_number": "10000009", "item": "COAT05", "quantity": 1}
    with gateway_client(AMQP_TEST_CONFIG, audit_db) as first:
        placed = call(first, "place_order", arguments)
        assert placed.status_code == 202, placed.text
    call_id = placed.json()["call_id"]
    first_stopped = dt.datetime.now(dt.UTC).isoformat()
    time.sleep(order_service.place_delay_s + 0.5)  # the host answers while no gateway runs

    with gateway_client(AMQP_TEST_CONFIG, audit_db) as second:
        record = finished(second, call_id)
    assert record["status"] == "ok"
    assert record["result"]["item"] == "COAT05"
    assert record["result"]["message"] == "ORDER ACCEPTED"
    assert record["finished_at"] > first_stopped  # completed by the second gateway


def test_validate_connect_finds_a_missing_exchange(
    order_service: OrderService, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app
    from tests.integration.amqp_support import AMQP_URL

    (tmp_path / "mq.yaml").write_text(
        f"""\
backends:
  mq: {{adapter: amqp, url: "{AMQP_URL}"}}
tools:
  good:
    description: The order host's exchange.
    backend: mq
    operation: publish
    message: {{exchange: "{ORDERS_EXCHANGE}", routing_key: order.cancel}}
  typo:
    description: An exchange nobody declared.
    backend: mq
    operation: publish
    message: {{exchange: legacy.ordres, routing_key: order.cancel}}
"""
    )
    result = CliRunner().invoke(app, ["validate", str(tmp_path), "--connect"])
    assert result.exit_code == 1
    assert "mq.yaml:" in result.stderr
    assert "tools.typo.operation: exchange 'legacy.ordres' does not exist" in result.stderr
    assert "tools.good" not in result.stderr


def test_a_key_repeated_while_its_first_call_runs_is_told_to_wait(
    amqp_client: TestClient,
) -> None:
    gateway = gateway_of(amqp_client)
    key = f"status-{uuid.uuid4()}"

    async def twice() -> list[Any]:
        return await asyncio.gather(
            *(
                gateway.call("order_status", {"order_number": 1000000020}, idempotency_key=key)
                for _ in range(2)
            ),
            return_exceptions=True,
        )

    first, second = amqp_client.portal.call(twice)  # type: ignore[union-attr]
    assert first.status == "ok"
    assert isinstance(second, CallInProgress)
    assert second.call_id == first.call_id
    assert second.retryable
    later = call(amqp_client, "order_status", {"order_number": 1000000020},
                 idempotency_key=key)  # fmt: skip
    assert later.json()["replayed"] is True
    assert later.json()["result"] == first.result
