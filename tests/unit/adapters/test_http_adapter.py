"""The HTTP adapter against a fake client: requests built, answers read, errors recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from adapters.base import Interaction
from adapters.http import HttpAdapter, HttpBackendConfig
from gateway.errors import BackendUnavailable, LegacyHTTPError, LegacyTimeout
from tests.unit.adapters.fakes import FakeHTTPClient, FakeResponse, context, loaded

API_KEY = "k3y-for-the-crm"
CONFIG = f"""
backends:
  crm:
    adapter: http
    base_url: http://crm.example:8080/api
    headers:
      X-Api-Key: "{API_KEY}"
tools:
  get_customer:
    description: A customer by number.
    backend: crm
    operation: GET /customers/{{CUSTNO}}
    input:
      customer_number: {{to: CUSTNO}}
      view: {{to: VIEW, default: short}}
    output:
      fields:
        name: {{from: NAME}}
  add_note:
    description: File a note.
    backend: crm
    operation: POST /customers/{{CUSTNO}}/notes
    effect: write
    input:
      customer_number: {{to: CUSTNO}}
      pin: {{to: PIN, sensitive: true}}
      note: {{to: NOTE}}
"""


def adapter_with(tmp_path: Path, *responses: FakeResponse | Exception) -> tuple[Any, ...]:
    config = loaded(tmp_path, CONFIG)
    backend = config.backends["crm"]
    assert isinstance(backend, HttpBackendConfig)
    adapter = HttpAdapter("crm", backend)
    adapter.load()
    client = FakeHTTPClient(list(responses))
    adapter._client = client  # type: ignore[assignment]
    return adapter, client, config


def call(adapter: HttpAdapter, prepared: Any, params: dict[str, Any]) -> Any:
    recorded: list[Interaction] = []
    try:
        return asyncio.run(adapter.call(prepared, params, context(recorded))), recorded
    except Exception as exc:
        exc.add_note(repr([i.as_record() for i in recorded]))
        exc.recorded = recorded  # type: ignore[attr-defined]
        raise


def test_a_get_fills_the_path_and_query_and_reads_json(tmp_path: Path) -> None:
    answer = FakeResponse(200, {"content-type": "application/json"}, b'{"NAME": "MULLER"}')
    adapter, client, config = adapter_with(tmp_path, answer)
    prepared = adapter.prepare(config.tools["get_customer"])

    result, recorded = call(adapter, prepared, {"CUSTNO": "100 01", "VIEW": "full"})

    assert result == {"NAME": "MULLER"}
    (request,) = client.requests
    assert request["method"] == "GET"
    assert request["target"] == "/api/customers/100%2001?VIEW=full"
    assert request["body"] == b""
    assert request["headers"]["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    (interaction,) = recorded
    assert interaction.adapter == "http"
    assert interaction.operation == "GET /customers/{CUSTNO}"
    assert interaction.request["url"] == "http://crm.example:8080/api/customers/100%2001"
    assert interaction.request["query"] == {"VIEW": "full"}
    assert interaction.request["headers"]["X-Api-Key"] == adapter.commitments.commit(API_KEY)
    assert interaction.response == {
        "status": 200,
        "content_type": "application/json",
        "body": '{"NAME": "MULLER"}',
    }
    assert interaction.error is None and interaction.duration_ms > 0


def test_a_post_sends_json_and_records_sensitive_fields_as_blanks(tmp_path: Path) -> None:
    answer = FakeResponse(201, {"content-type": "application/json"}, b'{"NOTE_ID": "N1"}')
    adapter, client, config = adapter_with(tmp_path, answer)
    prepared = adapter.prepare(config.tools["add_note"])

    result, recorded = call(adapter, prepared, {"CUSTNO": "1", "PIN": "9876", "NOTE": "hello"})

    assert result == {"NOTE_ID": "N1"}
    sent = client.requests[0]
    assert sent["target"] == "/api/customers/1/notes"
    assert sent["headers"]["content-type"] == "application/json"
    assert orjson.loads(sent["body"]) == {"PIN": "9876", "NOTE": "hello"}
    recorded_body = recorded[0].request["body"]
    assert recorded_body["NOTE"] == "hello"
    assert recorded_body["PIN"] == adapter.commitments.commit("9876")


def test_an_error_status_is_a_legacy_http_error_on_the_record(tmp_path: Path) -> None:
    answer = FakeResponse(404, {"content-type": "text/plain"}, b"NOT ON FILE")
    adapter, _, config = adapter_with(tmp_path, answer)
    prepared = adapter.prepare(config.tools["get_customer"])

    with pytest.raises(LegacyHTTPError) as caught:
        call(adapter, prepared, {"CUSTNO": "1"})

    assert caught.value.details == {"http_status": 404, "body_excerpt": "NOT ON FILE"}
    (interaction,) = caught.value.recorded  # type: ignore[attr-defined]
    assert interaction.response["status"] == 404
    assert interaction.error == {
        "code": "legacy_http_error",
        "message": "legacy system answered HTTP 404",
        "http_status": 404,
        "body_excerpt": "NOT ON FILE",
    }


@pytest.mark.parametrize(
    ("failure", "expected"),
    [(TimeoutError(), LegacyTimeout), (ConnectionRefusedError(111, "refused"), BackendUnavailable)],
)
def test_transport_failures_are_translated_and_recorded(
    tmp_path: Path, failure: Exception, expected: type[Exception]
) -> None:
    adapter, _, config = adapter_with(tmp_path, failure)
    prepared = adapter.prepare(config.tools["get_customer"])

    with pytest.raises(expected) as caught:
        call(adapter, prepared, {"CUSTNO": "1"})

    (interaction,) = caught.value.recorded  # type: ignore[attr-defined]
    assert interaction.response is None
    assert interaction.error is not None
    assert interaction.error["code"] == expected.code  # type: ignore[attr-defined]
    assert caught.value.__cause__ is failure


def test_a_closed_backend_refuses_without_an_exchange_on_the_record(tmp_path: Path) -> None:
    adapter, client, config = adapter_with(tmp_path)
    adapter._client = None
    prepared = adapter.prepare(config.tools["get_customer"])

    with pytest.raises(BackendUnavailable, match="not open") as caught:
        call(adapter, prepared, {"CUSTNO": "1"})

    assert caught.value.recorded == []  # type: ignore[attr-defined]
    assert client.requests == []
