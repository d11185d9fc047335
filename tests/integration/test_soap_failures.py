"""When the legacy side goes wrong: every failure is a typed error, and on the record.

The estate is hostile: some customer numbers answer with faults, HTTP errors, slow
answers, XXE and billion-laughs payloads, garbage, or records the mapping cannot read.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from fastapi.testclient import TestClient

from tests.integration.support import (
    UNKNOWN_CUSTOMER,
    call_record,
    call_tool,
    error_of,
    sole_interaction,
)

SLOW = "99999408"  # answers after 3 s; the soap_test customer_master times out after 1 s
HTTP_500 = "99999500"
HTTP_503 = "99999503"
XXE = "99999666"
BILLION_LAUGHS = "99999777"
NOT_XML = "99999888"
BAD_BALANCE = "99999999"  # BAL_CENTS 12X4


def get_customer(client: TestClient, number: str, tool: str = "get_customer") -> httpx.Response:
    return call_tool(client, tool, {"customer_number": number})


def failed_call(
    client: TestClient, response: httpx.Response
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The error of a failed call and its record, which must say the same."""
    error = error_of(response)
    assert error["call_id"], error
    record = call_record(client, error["call_id"])
    assert record["status"] == "error"
    assert record["error"]["code"] == error["code"]
    assert [r["kind"] for r in record["records"]] == ["call.intent", "interaction", "call.outcome"]
    return error, record


def test_a_soap_fault_is_a_legacy_fault_with_its_detail(demo_client: TestClient) -> None:
    response = get_customer(demo_client, UNKNOWN_CUSTOMER)

    assert response.status_code == 502, response.text
    error, record = failed_call(demo_client, response)
    assert error["code"] == "legacy_fault"
    assert error["retryable"] is False
    assert error["details"]["faultcode"] == "soap:Client"
    assert error["details"]["faultstring"] == "CUSTOMER NOT FOUND"
    assert error["details"]["detail"]["CM_ERROR"]["ERR_CD"] == "CM404"

    interaction = sole_interaction(record)
    assert interaction["response"]["http_status"] == 500  # SOAP 1.1 sends faults as 500
    assert "<faultstring>CUSTOMER NOT FOUND</faultstring>" in interaction["response"]["body"]
    assert "<ERR_CD>CM404</ERR_CD>" in interaction["response"]["body"]
    assert interaction["error"]["code"] == "legacy_fault"


def test_a_soap_12_fault_is_a_legacy_fault_too(soap_client: TestClient) -> None:
    response = get_customer(soap_client, UNKNOWN_CUSTOMER, "get_customer_soap12")

    assert response.status_code == 502, response.text
    error, _ = failed_call(soap_client, response)
    assert error["code"] == "legacy_fault"
    assert error["details"]["faultcode"] == "soap:Sender"
    assert error["details"]["faultstring"] == "CUSTOMER NOT FOUND"
    assert error["details"]["detail"]["CM_ERROR"]["ERR_CD"] == "CM404"


def test_no_answer_within_the_backend_timeout_is_a_retryable_legacy_timeout(
    soap_client: TestClient,
) -> None:
    response = get_customer(soap_client, SLOW)

    error = error_of(response)
    assert response.status_code == 504, response.text
    assert error["code"] == "legacy_timeout"
    assert error["retryable"] is True
    _, record = failed_call(soap_client, response)
    interaction = sole_interaction(record)
    assert interaction["response"] is None
    assert interaction["error"]["code"] == "legacy_timeout"


def test_a_timed_out_call_is_still_on_the_record(soap_client: TestClient) -> None:
    """Whatever the error code, the call that timed out is recorded with its request."""
    response = get_customer(soap_client, SLOW)

    assert response.status_code >= 500, response.text
    _, record = failed_call(soap_client, response)
    interaction = sole_interaction(record)
    assert f"<ns0:CUSTNO>{SLOW}</ns0:CUSTNO>" in interaction["request"]["envelope"]
    assert interaction["response"] is None
    assert 900 <= interaction["duration_ms"] < 3000  # the 1 s timeout, not the 3 s answer


def test_an_http_500_is_a_final_legacy_http_error(demo_client: TestClient) -> None:
    response = get_customer(demo_client, HTTP_500)

    assert response.status_code == 502, response.text
    error, record = failed_call(demo_client, response)
    assert error["code"] == "legacy_http_error"
    assert error["retryable"] is False
    assert error["details"]["http_status"] == 500
    assert "ABEND" in error["details"]["body_excerpt"]
    assert sole_interaction(record)["response"]["http_status"] == 500


def test_an_http_503_is_a_retryable_legacy_http_error(demo_client: TestClient) -> None:
    response = get_customer(demo_client, HTTP_503)

    assert response.status_code == 502, response.text
    error, _ = failed_call(demo_client, response)
    assert error["code"] == "legacy_http_error"
    assert error["retryable"] is True
    assert error["details"]["http_status"] == 503


def test_an_xxe_response_is_refused_and_leaks_nothing(demo_client: TestClient) -> None:
    response = get_customer(demo_client, XXE)

    assert response.status_code == 502, response.text
    error, record = failed_call(demo_client, response)
    assert error["code"] == "legacy_bad_response"
    assert "DTD" in error["message"]
    assert "root:" not in response.text  # /etc/passwd was not read into the answer
    assert "root:" not in orjson.dumps(record).decode()
    assert "result" not in record


def test_a_billion_laughs_response_is_refused(demo_client: TestClient) -> None:
    response = get_customer(demo_client, BILLION_LAUGHS)

    assert response.status_code == 502, response.text
    error, record = failed_call(demo_client, response)
    assert error["code"] == "legacy_bad_response"
    assert "DTD" in error["message"]
    assert "lollollol" not in orjson.dumps(record).decode()  # no entity was expanded


def test_a_response_that_is_not_xml_is_a_bad_response(demo_client: TestClient) -> None:
    response = get_customer(demo_client, NOT_XML)

    assert response.status_code == 502, response.text
    error, record = failed_call(demo_client, response)
    assert error["code"] == "legacy_bad_response"
    assert sole_interaction(record)["response"]["body"] == "<<<garbage"


def test_an_unmappable_value_names_its_field_and_keeps_the_raw_answer(
    demo_client: TestClient,
) -> None:
    response = get_customer(demo_client, BAD_BALANCE)

    assert response.status_code == 502, response.text
    error, record = failed_call(demo_client, response)
    assert error["code"] == "mapping_failed"
    assert error["retryable"] is False
    assert error["details"]["field"] == "balance_eur"
    assert error["details"]["raw_value"] == "12X4"
    assert "balance_eur" in error["message"]

    interaction = sole_interaction(record)
    assert interaction["error"] is None  # the legacy exchange itself went fine
    assert interaction["response"]["http_status"] == 200
    assert "<BAL_CENTS>12X4</BAL_CENTS>" in interaction["response"]["body"]


def test_an_unreachable_backend_is_a_retryable_backend_unavailable(
    soap_client: TestClient,
) -> None:
    response = get_customer(soap_client, "10000001", "get_customer_dead")

    error = error_of(response)
    assert response.status_code == 503, response.text
    assert error["code"] == "backend_unavailable"
    assert error["retryable"] is True
    _, record = failed_call(soap_client, response)
    assert sole_interaction(record)["error"]["code"] == "backend_unavailable"


def test_backend_health_names_the_backend_that_is_down(soap_client: TestClient) -> None:
    response = soap_client.get("/health/backends")

    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "degraded"
    backends = body["backends"]
    assert set(backends) == {
        "customer_master",
        "customer_master_soap12",
        "fx_rates",
        "secured",
        "dead",
    }
    assert backends["dead"]["ok"] is False
    assert backends["dead"]["detail"]
    assert all(check["ok"] for name, check in backends.items() if name != "dead"), backends


def test_a_backend_down_leaves_the_replica_ready(soap_client: TestClient) -> None:
    """Readiness is this replica's own: one legacy outage must not pull every replica."""
    response = soap_client.get("/readyz")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["store"]["ok"] is True
    assert body["store"]["records"] > 0
    assert "backends" not in body


def test_backend_health_is_ok_when_every_backend_answers(demo_client: TestClient) -> None:
    response = demo_client.get("/health/backends")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["backends"]) == {
        "customer_master",
        "fx_rates",
        "ledger",
        "order_processing",
        "crm",
    }
    assert all(check["ok"] for check in body["backends"].values())


def test_metrics_count_calls_and_legacy_interactions(demo_client: TestClient) -> None:
    call_tool(demo_client, "get_customer", {"customer_number": "10000001"})
    call_tool(demo_client, "get_customer", {"customer_number": "12345678"})  # a SOAP fault
    response = demo_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'legacy_gateway_calls_total{outcome="ok",tool="get_customer"} 1.0' in text
    assert 'legacy_gateway_calls_total{outcome="legacy_fault",tool="get_customer"} 1.0' in text
    assert (
        'legacy_gateway_legacy_interactions_total{adapter="soap",backend="customer_master",'
        'outcome="ok"} 1.0'
    ) in text
    assert "legacy_gateway_legacy_seconds_bucket" in text
    assert "legacy_gateway_audit_checkpoint_size" in text
