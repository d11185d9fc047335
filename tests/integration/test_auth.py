"""API keys and scopes: each agent sees and calls only its own tools, and is on the record."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.policy.auth import REVOCATION_CHECK_S
from tests.integration.support import (
    ANNA,
    DEMO_CONFIG,
    bearer,
    call_as,
    create_key,
    error_of,
    gateway_client,
    run,
    serve_process,
)


@pytest.fixture
def keyed(estate_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    audit_db = tmp_path / "audit.sqlite"
    with gateway_client(DEMO_CONFIG, audit_db, auth="keys") as client:
        yield client, audit_db


def test_without_a_valid_key_nothing_is_answered(keyed: tuple[TestClient, Path]) -> None:
    client, _ = keyed
    for response in (
        call_as(client, "get_customer", {"customer_number": ANNA}, None),
        client.get("/v1/tools"),
        call_as(client, "get_customer", {"customer_number": ANNA}, "lgw_0123456789ab_" + "x" * 43),
        client.get("/v1/tools", headers={"authorization": "Basic dXNlcjpwYXNz"}),
    ):
        assert response.status_code == 401, response.text
        assert error_of(response)["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == 'Bearer realm="legacy-gateway"'
    assert client.get("/healthz").status_code == 200  # probes need no key


def test_a_key_reaches_only_its_tools_and_names_its_agent(keyed: tuple[TestClient, Path]) -> None:
    client, audit_db = keyed
    teller = create_key(audit_db, "teller-bot", "get_customer,search_*")
    other = create_key(audit_db, "ledger-bot", "get_account")
    auditor = create_key(audit_db, "auditor@example.com", "audit")

    listed = client.get("/v1/tools", headers=bearer(teller)).json()["tools"]
    assert {tool["name"] for tool in listed} == {"get_customer", "search_customers"}
    openai = client.get("/v1/tools?format=openai", headers=bearer(teller)).json()
    assert {f["function"]["name"] for f in openai} == {"get_customer", "search_customers"}

    answer = call_as(client, "get_customer", {"customer_number": ANNA}, teller)
    assert answer.status_code == 200, answer.text
    refused = call_as(client, "list_postings", {"account_number": "DE00000001"}, teller)
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "forbidden"
    assert "no scope for tool 'list_postings'" in error_of(refused)["message"]
    forbidden = client.get(f"/v1/calls/{error_of(refused)['call_id']}", headers=bearer(auditor))
    assert forbidden.json()["status"] == "forbidden"
    assert forbidden.json()["principal"] == "key:teller-bot"
    assert client.get("/v1/tools/list_postings", headers=bearer(teller)).status_code == 403

    call_id = answer.json()["call_id"]
    record = client.get(f"/v1/calls/{call_id}", headers=bearer(teller)).json()
    assert record["principal"] == "key:teller-bot"
    proof = client.get(f"/v1/audit/proof/{call_id}", headers=bearer(teller)).json()
    assert {r["record"]["principal"] for r in proof["records"]} == {"key:teller-bot"}
    # Another agent cannot see the call; an auditor can.
    assert client.get(f"/v1/calls/{call_id}", headers=bearer(other)).status_code == 404
    assert client.get(f"/v1/calls/{call_id}", headers=bearer(auditor)).status_code == 200
    assert client.get("/v1/audit/export", headers=bearer(teller)).status_code == 403
    assert client.get("/v1/audit/export", headers=bearer(auditor)).status_code == 200


def test_a_revoked_key_stops_within_the_bound_and_keys_are_on_the_record(
    keyed: tuple[TestClient, Path],
) -> None:
    client, audit_db = keyed
    key = create_key(audit_db, "temp-bot", "get_*")
    assert call_as(client, "get_customer", {"customer_number": ANNA}, key).status_code == 200
    key_id = key.split("_")[1]
    revoked = run("keys", "revoke", key_id, "--audit-db", str(audit_db))
    assert revoked.returncode == 0, revoked.stderr
    time.sleep(REVOCATION_CHECK_S)  # the bound within which every process learns of it
    refused = call_as(client, "get_customer", {"customer_number": ANNA}, key)
    assert refused.status_code == 401
    assert "revoked" in error_of(refused)["message"]

    listing = run("keys", "list", "--audit-db", str(audit_db))
    assert key.split("_", 2)[2] not in listing.stdout  # never the secret
    assert '"revoked_at": null' not in listing.stdout
    kinds = [r.kind for r in client.app.state.gateway.store.records_of_kind(  # type: ignore[attr-defined]
        "key.created", "key.revoked")]  # fmt: skip
    assert kinds == ["key.created", "key.revoked"]


def test_a_key_revoked_while_two_workers_serve_is_refused_by_both_within_the_bound(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    audit_db = tmp_path / "audit.sqlite"
    key = create_key(audit_db, "temp-bot", "get_*")
    env = {**estate_env, "LEGACY_GATEWAY_AUTH": "keys", "LEGACY_GATEWAY_AUDIT_DB": str(audit_db),
           "LEGACY_GATEWAY_WORKERS": "2"}  # fmt: skip

    def answers() -> list[int]:
        # A new connection each time: the kernel spreads them over both workers, and each
        # worker keeps the key it verified.
        return [
            httpx.get(f"{base}/v1/tools", headers=bearer(key), timeout=30).status_code
            for _ in range(24)
        ]

    with serve_process(DEMO_CONFIG, env, start_s=120) as (base, _):
        assert answers() == [200] * 24
        revoked = run("keys", "revoke", key.split("_")[1], "--audit-db", str(audit_db))
        assert revoked.returncode == 0, revoked.stderr
        time.sleep(REVOCATION_CHECK_S)
        assert answers() == [401] * 24
        refused = httpx.get(f"{base}/v1/tools", headers=bearer(key), timeout=30)
        assert "revoked" in error_of(refused)["message"]


def test_scopes_are_checked_when_the_key_is_made(tmp_path: Path) -> None:
    result = run("keys", "create", "--agent", "x", "--scopes", "get customer",
                 "--audit-db", str(tmp_path / "a.sqlite"))  # fmt: skip
    assert result.returncode != 0
    assert "'get customer' is not a tool name, glob, tag:NAME or scope" in result.stderr
