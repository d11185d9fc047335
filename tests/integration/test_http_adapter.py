"""Plain HTTP backends: the demo CRM over REST/JSON, through the gateway, on the record."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from estate.server import EstateServer
from tests.integration.amqp_support import wait_until
from tests.integration.support import (
    ANNA,
    DEMO_CONFIG,
    EstateWatch,
    call_record,
    call_tool,
    committed,
    error_of,
    gateway_client,
    gateway_of,
)


def test_a_rest_read_is_mapped_and_recorded(demo_client: TestClient, estate: EstateServer) -> None:
    watch = EstateWatch(estate)
    response = call_tool(demo_client, "get_customer_profile", {"customer_number": ANNA})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == {
        "customer_number": ANNA, "name": "MULLER, ANNA", "city": "BERLIN",
        "balance_eur": 1234.56, "status": "active", "vip": True,
    }  # fmt: skip
    # The demo's candidate mapping reads the same customer in the read's shadow.
    store = gateway_of(demo_client).store
    call_id = response.json()["call_id"]
    wait_until(lambda: store.records_of_kind("call.shadow"), 10, "the shadow read")
    sent = watch.new()
    assert [(r.method, r.path) for r in sent] == [("GET", f"/crm/customers/{ANNA}")] * 2
    (interaction,) = call_record(demo_client, call_id)["interactions"]
    assert interaction["adapter"] == "http"
    assert interaction["request"]["method"] == "GET"
    assert interaction["request"]["url"].endswith(f"/crm/customers/{ANNA}")
    assert interaction["request"]["headers"]["X-Api-Key"] == committed(demo_client, "demo-crm-key")
    assert interaction["response"]["status"] == 200
    assert '"CUST_NAME":"MULLER, ANNA' in interaction["response"]["body"]


def test_a_rest_write_posts_json_and_maps_the_answer(
    demo_client: TestClient, estate: EstateServer
) -> None:
    watch = EstateWatch(estate)
    response = call_tool(demo_client, "add_contact_note",
                         {"customer_number": ANNA, "note": "Wants the catalogue"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["result"]["status"] == "filed"
    sent = watch.sole()
    assert orjson.loads(sent.body) == {"NOTE_TXT": "Wants the catalogue", "AUTHOR": "agent"}


def test_an_http_error_is_a_legacy_error_with_the_body(demo_client: TestClient) -> None:
    response = call_tool(demo_client, "get_customer_profile", {"customer_number": "12345678"})
    assert response.status_code == 502
    error = error_of(response)
    assert error["code"] == "legacy_http_error"
    assert error["details"]["http_status"] == 404
    assert "NOT ON FILE" in error["details"]["body_excerpt"]
    assert error["retryable"] is False


def test_a_dead_rest_host_is_retried_then_unavailable(
    estate_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_URL", "http://127.0.0.1:9/crm")
    with gateway_client(DEMO_CONFIG, tmp_path / "a.sqlite") as client:
        response = call_tool(client, "get_customer_profile", {"customer_number": ANNA})
        assert response.status_code == 503
        error = error_of(response)
        assert error["code"] == "backend_unavailable"
        attempts = call_record(client, error["call_id"])["interactions"]
        assert [a["attempt"] for a in attempts] == [1, 2, 3]  # a read: retried
