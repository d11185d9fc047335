"""The console page and the API docs: served from the package with a strict CSP, a browser
sent there from ``/``, and the sign-in cookie with its CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from estate.ledger import create_ledger
from gateway.demo import operator_key
from tests.integration.support import ANNA, DEMO_CONFIG, demo_copy, error_of, gateway_client
from tests.integration.test_auth import bearer, create_key


@pytest.fixture
def keyed(estate_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    audit_db = tmp_path / "audit.sqlite"
    with gateway_client(DEMO_CONFIG, audit_db, auth="keys") as client:
        yield client, audit_db


def test_a_browser_is_sent_to_the_console_and_an_api_client_gets_the_index(
    demo_client: TestClient,
) -> None:
    browser = demo_client.get("/", headers={"accept": "text/html,*/*"}, follow_redirects=False)
    assert browser.status_code == 303
    assert browser.headers["location"] == "/console"
    index = demo_client.get("/")
    assert index.json()["links"]["console"] == "/console"


@pytest.mark.parametrize("path", ["/console", "/docs", "/redoc"])
def test_pages_load_only_their_own_origins_assets(demo_client: TestClient, path: str) -> None:
    page = demo_client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "<script>" not in page.text  # no inline script: the CSP would refuse it
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets
    for asset in assets:
        if asset == "data:,":
            continue
        assert asset.startswith("/console/static/"), asset
        served = demo_client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 50


def test_vendored_libraries_carry_their_licences(demo_client: TestClient) -> None:
    for library in ("uplot", "swagger-ui", "redoc"):
        licence = demo_client.get(f"/console/static/vendor/{library}/LICENSE")
        assert licence.status_code == 200
        assert "Permission is hereby granted" in licence.text or "Apache" in licence.text


def test_open_mode_needs_no_sign_in_and_says_so(demo_client: TestClient) -> None:
    me = demo_client.get("/console/me").json()
    assert me["mode"] == "open"
    assert me["signed_in"] is True
    assert me["principal"] == "anonymous"
    assert "Open mode" in demo_client.get("/console").text


def test_sign_in_holds_the_key_in_a_strict_cookie_and_actions_need_the_csrf_token(
    keyed: tuple[TestClient, Path],
) -> None:
    client, audit_db = keyed
    key = create_key(audit_db, "operator", "get_customer,audit")
    assert client.get("/console/me").json() == {"mode": "keys", "signed_in": False}

    wrong = client.post("/console/session", json={"key": "lgw_nope"})
    assert wrong.status_code == 401
    signed = client.post("/console/session", json={"key": key})
    assert signed.status_code == 200, signed.text
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    csrf = signed.json()["csrf"]
    assert signed.json()["principal"] == "key:operator"
    assert client.get("/console/me").json()["csrf"] == csrf

    called = client.post(
        "/v1/tools/get_customer/call",
        json={"arguments": {"customer_number": ANNA}},
        headers=bearer(key),
    )
    assert called.status_code == 200, called.text
    call_id = called.json()["call_id"]
    # Reads ride on the cookie...
    assert client.get("/v1/calls").json()["calls"][0]["call_id"] == call_id
    # ...an action without the token, as another site's form would send it, is refused.
    forged = client.post(f"/v1/calls/{call_id}/feedback", json={"score": 1})
    assert forged.status_code == 403
    assert "CSRF" in error_of(forged)["message"]
    posted = client.post(
        f"/v1/calls/{call_id}/feedback", json={"score": 1}, headers={"x-csrf-token": csrf}
    )
    assert posted.status_code == 201
    assert client.get(f"/v1/calls/{call_id}").json()["feedback"][0]["principal"] == "key:operator"

    client.delete("/console/session", headers={"x-csrf-token": csrf})
    assert client.get("/console/me").json()["signed_in"] is False
    assert client.get("/v1/calls").status_code == 401


def test_in_open_mode_the_demo_operator_approves_what_an_anonymous_agent_asked(
    estate_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = demo_copy(tmp_path)
    ledger_yaml = config / "ledger.yaml"
    marker = "    description: Book one posting on an account. This writes to the ledger.\n"
    ledger_yaml.write_text(
        ledger_yaml.read_text().replace(marker, marker + "    approval: required\n")
    )
    ledger = create_ledger(tmp_path / "ledger.sqlite")
    monkeypatch.setenv("LEDGER_DB", str(ledger))
    audit_db = tmp_path / "audit.sqlite"
    first = operator_key(audit_db)
    operator = operator_key(audit_db)  # a new start: the previous key is revoked
    with gateway_client(config, audit_db, auth="open") as client:
        posting = {"account_number": "DE00000007", "booked_on": "2024-06-11", "amount": "1.00",
                   "direction": "credit", "text": "Demo", "reference": "OPENDEMO"}  # fmt: skip
        asked = client.post("/v1/tools/record_posting/call", json={"arguments": posting})
        assert asked.status_code == 202, asked.text
        approval = asked.json()["result"]["approval_id"]
        # Anonymous cannot approve its own request; a revoked key is refused as such.
        refused = client.post(f"/v1/approvals/{approval}", json={"decision": "approve"})
        assert refused.status_code == 403, refused.text
        revoked = client.post(f"/v1/approvals/{approval}", json={"decision": "approve"},
                              headers=bearer(first))  # fmt: skip
        assert revoked.status_code == 401, revoked.text
        assert "revoked" in error_of(revoked)["message"]
        # Signing in with the previous start's key, or a mistyped one, is refused, not
        # taken as anonymous.
        for stale in (first, "lgw_nope"):
            wrong = client.post("/console/session", json={"key": stale})
            assert wrong.status_code == 401, wrong.text
            assert "set-cookie" not in wrong.headers
        signed = client.post("/console/session", json={"key": operator})
        assert signed.json()["principal"] == "key:demo-operator"
        assert signed.json()["scopes"] == ["approve", "audit", "metrics"]
        approved = client.post(f"/v1/approvals/{approval}", json={"decision": "approve"},
                               headers={"x-csrf-token": signed.json()["csrf"]})  # fmt: skip
        assert approved.status_code == 200, approved.text
        assert approved.json()["result"] == {"booked": 1}
        record = client.get(f"/v1/calls/{asked.json()['call_id']}").json()
        assert record["approval"]["decided_by"] == "key:demo-operator"
        assert record["principal"] == "anonymous"


def test_the_experiments_tab_reads_the_report_a_key_with_the_audit_scope_may_read(
    keyed: tuple[TestClient, Path],
) -> None:
    client, audit_db = keyed
    page = client.get("/console").text
    assert 'data-view="experiments"' in page
    assert 'id="view-experiments"' in page
    script = client.get("/console/static/console.js").text
    assert '"/v1/experiments"' in script
    assert "needs a key with the review or audit scope" in script
    auditor = create_key(audit_db, "auditor", "audit")
    agent = create_key(audit_db, "rates-bot", "get_exchange_rate")
    refused = client.get("/v1/experiments", headers=bearer(agent))
    assert refused.status_code == 403  # the tab says which scope it needs
    assert client.get("/v1/experiments", headers=bearer(auditor)).json()["tools"] == []
