"""The AMQP adapter without a broker: tool config errors, bodies as recorded, replies parsed."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from lxml import etree

from adapters.amqp import AmqpAdapter, PreparedMessage
from adapters.base import CallContext
from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from gateway.errors import ConfigError, LegacyBadResponse
from gateway.mapping.redaction import Commitments
from gateway.tools import Registry, build_registry

BACKEND = """\
backends:
  mq:
    adapter: amqp
    url: amqp://guest:${MQ_PASSWORD:-guest}@127.0.0.1:1/%2F
    reply_queue: gateway.replies
tools:
"""

TOOLS = """\
  lookup:
    description: A JSON request/reply with a sensitive field.
    backend: mq
    operation: request_reply
    message: {exchange: ex, routing_key: lookup, headers: {x-app: test}}
    input:
      card: {to: CARD_NO, sensitive: true}
      name: {to: NAME}
    output:
      fields:
        card: {from: CARD_NO, sensitive: true}
        status: {from: STATUS}
  event:
    description: An XML publish.
    backend: mq
    operation: publish
    message: {routing_key: events, content_type: application/xml, persistent: false}
    request: {xml: {root: Event}}
    input:
      secret: {to: SECRET, sensitive: true}
  order:
    description: A record submit.
    backend: mq
    operation: submit
    message: {routing_key: orders, content_type: application/octet-stream}
    request: {record: {layout: {PIN: 4, QTY: 3}, transport: binary}}
    input:
      pin: {to: PIN, sensitive: true}
      quantity: {to: QTY, type: integer}
    output:
      record: {layout: {RC: 2}, transport: binary}
      fields:
        rc: {from: RC}
"""


def registry(tmp_path: Path, tools: str = TOOLS) -> Registry:
    (tmp_path / "config.yaml").write_text(BACKEND + tools)
    return build_registry(load_config(tmp_path, INSTALLED), Commitments.throwaway())


def prepared_of(reg: Registry, tool: str) -> tuple[AmqpAdapter, PreparedMessage]:
    entry = reg.tools[tool]
    assert isinstance(entry.adapter, AmqpAdapter)
    return entry.adapter, entry.prepared


@pytest.mark.parametrize(
    ("tool", "key", "message"),
    [
        (
            "    operation: request\n    message: {routing_key: q}\n",
            "operation",
            "'request' is not a kind of AMQP tool; use one of: request_reply, publish, submit",
        ),
        ("    operation: publish\n", "message", "needs message: {exchange, routing_key}"),
        (
            "    operation: publish\n    message: {routing_key: q}\n"
            "    output: {fields: {a: {from: A}}}\n",
            "output.fields",
            "a publish has no reply to map",
        ),
        (
            "    operation: publish\n    message: {exchange: ex}\n",
            "message.routing_key",
            "required key 'routing_key' is missing",
        ),
        (
            "    operation: publish\n    message: {routing_key: q, exchnage: ex}\n",
            "message.exchnage",
            "did you mean 'exchange'?",
        ),
    ],
)
def test_tool_mistakes_are_located(tmp_path: Path, tool: str, key: str, message: str) -> None:
    text = f"  broken:\n    description: x\n    backend: mq\n{tool}"
    with pytest.raises(ConfigError) as caught:
        registry(tmp_path, text)
    (issue,) = caught.value.issues
    assert issue.file.endswith("config.yaml")
    assert issue.key == f"tools.broken.{key}"
    assert issue.line is not None
    assert message in issue.message


def test_an_empty_reply_queue_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        BACKEND.replace("reply_queue: gateway.replies", "reply_queue: ''") + TOOLS
    )
    with pytest.raises(ConfigError) as caught:
        build_registry(load_config(tmp_path, INSTALLED), Commitments.throwaway())
    assert caught.value.issues[0].key == "backends.mq.reply_queue"


def test_json_bodies_are_recorded_with_sensitive_values_blanked(tmp_path: Path) -> None:
    adapter, prepared = prepared_of(registry(tmp_path), "lookup")
    body = orjson.dumps({"CARD_NO": "4111111111111111", "NAME": "Ann", "nested": [{"CARD_NO": 1}]})
    shown = adapter.body_record(prepared, body)
    assert orjson.loads(shown["body"]) == {
        "CARD_NO": adapter.commitments.commit("4111111111111111"),
        "NAME": "Ann",
        "nested": [{"CARD_NO": adapter.commitments.commit(1)}],
    }
    assert shown["body_bytes"] == len(body)
    # Not JSON after all: kept as it came, the call's error says why.
    assert adapter.body_record(prepared, b"{oops")["body"] == "{oops"


def test_xml_bodies_and_secret_values_are_blanked(tmp_path: Path) -> None:
    adapter, prepared = prepared_of(registry(tmp_path), "event")
    shown = adapter.body_record(prepared, b"<Event><SECRET>s3cr3t</SECRET><A>guest-x</A></Event>")
    committed = adapter.commitments.commit("s3cr3t")
    assert shown["body"] == f"<Event><SECRET>{committed}</SECRET><A>guest-x</A></Event>"
    # The broker password comes from the URL: it never reaches a record either.
    adapter.secrets = frozenset({"hunter22"})
    assert "hunter22" not in adapter.body_record(prepared, b"<E>hunter22</E>")["body"]


def test_a_record_with_a_sensitive_field_is_withheld(tmp_path: Path) -> None:
    adapter, prepared = prepared_of(registry(tmp_path), "order")
    assert prepared.record_sensitive
    shown = adapter.body_record(prepared, "1234005".encode("latin-1"))
    assert shown == {"body_bytes": 7, "body_withheld": "a record with sensitive fields is not kept"}
    lookup_adapter, lookup = prepared_of(registry(tmp_path), "lookup")
    raw = bytes([0xC1, 0xF0, 0xFF])
    assert lookup_adapter.body_record(lookup, raw, "application/octet-stream") == {
        "body_bytes": 3,
        "body_base64": base64.b64encode(raw).decode(),
    }


def context(**overrides: Any) -> CallContext:
    values: dict[str, Any] = {
        "call_id": "c-1",
        "trace_id": "ab" * 16,
        "tool": "t",
        "timeout_s": 1.0,
        "record": lambda interaction: None,
    }
    return CallContext(**{**values, **overrides})


def test_properties_carry_ids_trace_and_reply_routes(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    adapter, lookup = prepared_of(reg, "lookup")
    properties = adapter._properties(lookup, context(idempotency_key="key-9"))
    assert properties["message_id"] == "key-9"
    assert properties["reply_to"] == "amq.rabbitmq.reply-to"
    assert properties["correlation_id"] != "c-1"
    assert properties["headers"]["x-app"] == "test"
    assert properties["headers"]["traceparent"].startswith("00-" + "ab" * 16 + "-")
    assert properties["delivery_mode"] == 2

    _, order = prepared_of(reg, "order")
    submitted = adapter._properties(order, context())
    assert submitted["reply_to"] == "gateway.replies"
    assert submitted["correlation_id"] == submitted["message_id"] == "c-1"

    _, event = prepared_of(reg, "event")
    published = adapter._properties(event, context())
    assert "reply_to" not in published and "correlation_id" not in published
    assert published["delivery_mode"] == 1


def test_replies_are_parsed_by_the_tools_content_type(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    adapter, lookup = prepared_of(reg, "lookup")
    assert adapter.parse_answer(lookup, b'{"STATUS": "A"}') == {"STATUS": "A"}
    with pytest.raises(LegacyBadResponse, match="the reply is not JSON"):
        adapter.parse_answer(lookup, b"<not-json/>")
    _, event = prepared_of(reg, "event")
    with pytest.raises(LegacyBadResponse, match="DTD"):
        adapter.parse_answer(event, b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    _, order = prepared_of(reg, "order")
    assert adapter.parse_answer(order, b"00") == b"00"


def test_dry_run_renders_the_message_without_a_broker(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    adapter, event = prepared_of(reg, "event")
    element = reg.tools["event"].input({"secret": "s3cr3t"})
    assert isinstance(element, etree._Element)
    rendered = adapter.render(event, element)
    assert rendered["routing_key"] == "events"
    assert rendered["persistent"] is False
    assert f"<SECRET>{adapter.commitments.commit('s3cr3t')}</SECRET>" in rendered["body"]


def test_publish_tools_say_what_their_result_is(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    schema = reg.tools["event"].output_schema
    assert schema["required"] == ["message_id", "confirmed"]
    assert reg.tools["lookup"].output_schema["properties"]["card"]
