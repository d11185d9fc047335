"""OpenAPI header and cookie parameters, imported and called for real: the tool's arguments
reach a local HTTP service as request headers and cookies, the security schemes' API keys
come from the backend's settings (never from the agent), and sensitive values are on the
call record only as commitments."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.importers.run import openapi_to_config
from tests.http_hosts import QuietHandler, serving
from tests.integration.support import call_record, call_tool, gateway_client, sole_interaction

DOCUMENT = """\
openapi: 3.0.3
info: {title: Ledger Desk, version: "1"}
servers: [{url: "http://127.0.0.1:%(port)d/api"}]
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Api-Key}
    site: {type: apiKey, in: cookie, name: site_key}
paths:
  /entries/{entry}:
    get:
      operationId: getEntry
      parameters:
        - {name: entry, in: path, required: true, schema: {type: integer}}
        - {name: X-Api-Key, in: header, required: true, schema: {type: string}}
        - {name: X-Request-Id, in: header, schema: {type: string}}
        - {name: X-Tags, in: header, schema: {type: array, items: {type: string}}}
        - {name: X-Session-Token, in: header, required: true, schema: {type: string}}
        - {name: Accept, in: header, schema: {type: string}}
        - {name: locale, in: cookie, schema: {type: string}}
        - {name: session_id, in: cookie, schema: {type: string}}
        - {name: verbose, in: query, schema: {type: boolean}}
      responses:
        "200":
          description: the entry
          content:
            application/json:
              schema:
                type: object
                properties: {id: {type: integer}, amount: {type: number}}
"""


class _Ledger(QuietHandler):
    received: list[dict[str, Any]]

    def do_GET(self) -> None:
        self.received.append({"path": self.path, "headers": self.headers})
        self.answer(orjson.dumps({"id": 7, "amount": 12.5}))


@pytest.fixture
def ledger() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Ledger", (_Ledger,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with serving(server):
        yield server.server_address[1], received


def test_header_and_cookie_arguments_reach_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger: tuple[int, list[dict[str, Any]]]
) -> None:
    port, received = ledger
    source = tmp_path / "ledger.yaml"
    source.write_text(DOCUMENT % {"port": port})
    config = tmp_path / "config"
    openapi_to_config(str(source), config)
    text = (config / "ledger_desk.yaml").read_text(encoding="utf-8")
    assert "header parameter X-Api-Key: sent from the backend's settings" in text
    assert "header parameter Accept: set by the gateway" in text
    monkeypatch.setenv("LEDGER_DESK_KEY", "backend-key-1")
    monkeypatch.setenv("LEDGER_DESK_SITE", "site-secret-2")

    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        schema = client.get("/v1/tools/get_entry").json()["input_schema"]
        assert set(schema["properties"]) == {
            "entry", "x_request_id", "x_tags", "x_session_token", "locale", "session_id",
            "verbose",
        }  # fmt: skip
        assert set(schema["required"]) == {"entry", "x_session_token"}
        arguments = {
            "entry": 7,
            "x_request_id": "req-42",
            "x_tags": ["a", "b"],
            "x_session_token": "tok-secret-3",
            "locale": "de DE;x",
            "session_id": "sess-secret-4",
            "verbose": True,
        }
        answer = call_tool(client, "get_entry", arguments)
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"] == {"id": 7, "amount": 12.5}
        call_id = answer.json()["call_id"]

        (request,) = received
        headers = request["headers"]
        assert request["path"] == "/api/entries/7?verbose=True"
        assert headers["X-Request-Id"] == "req-42"
        assert headers["X-Tags"] == "a,b"
        assert headers["X-Session-Token"] == "tok-secret-3"
        assert headers["X-Api-Key"] == "backend-key-1"
        (cookie,) = headers.get_all("Cookie")  # one Cookie header, as RFC 6265 wants
        cookies = {k: v.value for k, v in SimpleCookie(cookie).items()}
        assert cookies == {
            "site_key": "site-secret-2",
            "locale": "de%20DE%3Bx",
            "session_id": "sess-secret-4",
        }

        record = call_record(client, call_id)
        dumped = orjson.dumps(record).decode()
        for secret in ("tok-secret-3", "sess-secret-4", "backend-key-1", "site-secret-2"):
            assert secret not in dumped
        sent = sole_interaction(record)["request"]["headers"]
        assert sent["X-Request-Id"] == "req-42"
        assert sent["X-Session-Token"].startswith("sha256:")
        assert sent["cookie"]["locale"] == "de%20DE%3Bx"
        assert sent["cookie"]["session_id"].startswith("sha256:")
        assert record["arguments"]["x_session_token"].startswith("sha256:")
        assert record["arguments"]["x_request_id"] == "req-42"

        # Without cookie arguments the backend's own cookie still goes, and stays off the record.
        plain = {"entry": 8, "x_session_token": "tok-secret-5"}
        second = call_tool(client, "get_entry", plain)
        assert second.status_code == 200, second.text
        assert received[1]["headers"].get_all("Cookie") == ["site_key=site-secret-2"]
        dumped = orjson.dumps(call_record(client, second.json()["call_id"])).decode()
        assert "site-secret-2" not in dumped and "tok-secret-5" not in dumped

        refused = call_tool(client, "get_entry", {**arguments, "x_request_id": "a\r\nX-Evil: 1"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"]["errors"] == [
            {"field": "header:X-Request-Id", "message": "holds a control or non-ASCII character"}
        ]
        assert len(received) == 2
