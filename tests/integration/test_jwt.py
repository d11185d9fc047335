"""Bearer JWTs from an OIDC issuer: verified against its JWKS, claims mapped to scopes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from tests.integration.support import ANNA, DEMO_CONFIG, error_of, gateway_client

ISSUER = "https://login.example.com/"
AUDIENCE = "legacy-gateway"


@pytest.fixture
def issuer_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def oidc_client(
    estate_env: dict[str, str],
    issuer_key: rsa.RSAPrivateKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(issuer_key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    monkeypatch.setenv("LEGACY_GATEWAY_JWT_JWKS", str(jwks))
    monkeypatch.setenv("LEGACY_GATEWAY_JWT_ISSUER", ISSUER)
    monkeypatch.setenv("LEGACY_GATEWAY_JWT_AUDIENCE", AUDIENCE)
    with gateway_client(DEMO_CONFIG, tmp_path / "audit.sqlite", auth="keys") as client:
        yield client


def token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "agent-42", "scope": "get_customer",
            "exp": int(time.time()) + 300, **claims}  # fmt: skip
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


def call(client: TestClient, bearer: str, tool: str = "get_customer") -> Any:
    return client.post(
        f"/v1/tools/{tool}/call",
        json={"arguments": {"customer_number": ANNA}},
        headers={"authorization": f"Bearer {bearer}"},
    )


def test_a_valid_token_names_the_agent_and_its_scopes(
    oidc_client: TestClient, issuer_key: rsa.RSAPrivateKey
) -> None:
    answer = call(oidc_client, token(issuer_key))
    assert answer.status_code == 200, answer.text
    record = oidc_client.get(
        f"/v1/calls/{answer.json()['call_id']}",
        headers={"authorization": f"Bearer {token(issuer_key)}"},
    ).json()
    assert record["principal"] == "jwt:https://login.example.com/#agent-42"
    listed = oidc_client.get("/v1/tools", headers={"authorization": f"Bearer {token(issuer_key)}"})
    assert [t["name"] for t in listed.json()["tools"]] == ["get_customer"]
    refused = call(oidc_client, token(issuer_key), "list_postings")
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("claims", "problem"),
    [
        ({"exp": int(time.time()) - 10}, "expired"),
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example.com/"}, "issuer"),
    ],
)
def test_bad_tokens_are_refused(
    oidc_client: TestClient, issuer_key: rsa.RSAPrivateKey, claims: dict[str, Any], problem: str
) -> None:
    response = call(oidc_client, token(issuer_key, **claims))
    assert response.status_code == 401
    assert problem in error_of(response)["message"].lower()


def test_a_token_from_another_key_is_refused(oidc_client: TestClient) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = call(oidc_client, token(stranger))
    assert response.status_code == 401
    assert "signature" in error_of(response)["message"].lower()
