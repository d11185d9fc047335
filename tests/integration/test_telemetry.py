"""The spans of calls reach an OpenTelemetry collector as one trace with the agent's span.

The gateway runs as operators run it (``legacy-gateway serve``), exporting over OTLP/HTTP to
a receiver that decodes what arrives; calls go to SOAP, ODBC and AMQP backends of the demo.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from estate.orders import OrderService
from tests.integration.amqp_support import wait_until
from tests.integration.otlp_receiver import OtlpReceiver
from tests.integration.support import ANNA, DEMO_CONFIG, served_gateway

AGENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
AGENT_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{AGENT_TRACE}-{AGENT_SPAN}-01"
SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL = 2, 3, 4, 5, 1  # OTLP SpanKind numbers


@pytest.fixture
def collector() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def traced(
    collector: OtlpReceiver,
    estate_env: dict[str, str],
    order_service: OrderService,
    tmp_path: Path,
) -> Iterator[str]:
    env = {
        "LEGACY_GATEWAY_AUDIT_DB": str(tmp_path / "audit.sqlite"),
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_SERVICE_NAME": "gateway-under-test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    with served_gateway(DEMO_CONFIG, env) as base:
        yield base


def call(base: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/v1/tools/{tool}/call",
        json={"arguments": arguments},
        headers={"traceparent": TRACEPARENT},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def spans_of(collector: OtlpReceiver, call_id: str, children: int) -> tuple[dict[str, Any], list]:
    def arrived() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        with collector.lock:
            spans = list(collector.spans)
        tool = next(
            (s for s in spans if s["attributes"].get("gen_ai.tool.call.id") == call_id), None
        )
        if tool is None:
            return None
        below = [s for s in spans if s["parent_span_id"] == tool["span_id"]]
        return (tool, below) if len(below) >= children else None

    found: tuple[dict[str, Any], list[dict[str, Any]]] = wait_until(
        arrived, 10, f"the spans of call {call_id} at the collector"
    )
    return found


def test_a_soap_call_is_one_trace_under_the_agents_span(
    traced: str, collector: OtlpReceiver
) -> None:
    answer = call(traced, "get_customer", {"customer_number": ANNA})
    assert answer["trace_id"] == AGENT_TRACE

    tool, (soap,) = spans_of(collector, answer["call_id"], 1)
    assert tool["name"] == "execute_tool get_customer"
    assert (tool["trace_id"], tool["parent_span_id"]) == (AGENT_TRACE, AGENT_SPAN)
    assert tool["kind"] == INTERNAL
    assert tool["attributes"]["gen_ai.operation.name"] == "execute_tool"
    assert tool["attributes"]["gen_ai.tool.name"] == "get_customer"
    assert tool["resource"]["service.name"] == "gateway-under-test"

    assert soap["trace_id"] == AGENT_TRACE
    assert soap["kind"] == CLIENT
    assert soap["name"] == "CustomerMaster/GetCustomer"
    attributes = soap["attributes"]
    assert attributes["rpc.system.name"] == "soap"
    assert attributes["rpc.method"] == "GetCustomer"
    assert attributes["http.request.method"] == "POST"
    assert attributes["http.response.status_code"] == 200
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["url.full"].endswith("/customer-master")
    assert tool["start"] <= soap["start"] <= soap["end"] <= tool["end"]

    # The call's records name the same trace and span as the collector's.
    proof = httpx.get(f"{traced}/v1/audit/proof/{answer['call_id']}").json()
    intent = proof["records"][0]["record"]
    assert (intent["trace_id"], intent["span_id"]) == (AGENT_TRACE, tool["span_id"])


def test_odbc_and_amqp_interactions_carry_their_conventions(
    traced: str, collector: OtlpReceiver
) -> None:
    postings = call(traced, "get_account", {"account_number": "DE00000001"})
    _, (query,) = spans_of(collector, postings["call_id"], 1)
    assert query["name"] == "SELECT"
    assert query["attributes"]["db.system.name"] == "sqlite"
    assert query["attributes"]["db.operation.name"] == "SELECT"
    assert "FROM ACCOUNTS WHERE ACCT_NO = ?" in query["attributes"]["db.query.text"]
    assert query["attributes"]["db.response.returned_rows"] == 1
    assert "DE00000001" not in str(query["attributes"])  # bind values stay out of spans

    order = call(traced, "order_status", {"order_number": 1000000003})
    _, spans = spans_of(collector, order["call_id"], 2)
    publish = next(s for s in spans if s["kind"] == PRODUCER)
    reply = next(s for s in spans if s["kind"] == CONSUMER)
    assert publish["attributes"]["messaging.system"] == "rabbitmq"
    assert publish["attributes"]["messaging.operation.type"] == "send"
    assert publish["attributes"]["messaging.rabbitmq.destination.routing_key"] == "order.request"
    assert publish["attributes"]["messaging.message.id"] == order["call_id"]
    assert reply["attributes"]["messaging.operation.type"] == "receive"
    assert (
        reply["attributes"]["messaging.message.conversation_id"]
        == publish["attributes"]["messaging.message.conversation_id"]
    )


def test_a_failed_call_is_an_error_span(traced: str, collector: OtlpReceiver) -> None:
    response = httpx.post(
        f"{traced}/v1/tools/get_customer/call",
        json={"arguments": {"customer_number": "12345678"}},
        headers={"traceparent": TRACEPARENT},
    )
    assert response.status_code == 502
    call_id = response.json()["error"]["call_id"]
    tool, (soap,) = spans_of(collector, call_id, 1)
    assert tool["status"] == 2  # STATUS_CODE_ERROR
    assert tool["attributes"]["error.type"] == "legacy_fault"
    assert soap["attributes"]["http.response.status_code"] == 500
