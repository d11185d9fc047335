"""Bearer JWTs checked against a JWKS file, with a key generated here: no issuer, no network."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.errors import Unauthorized
from gateway.policy.auth import MAX_SUBJECT, Authenticator, JwtVerifier, Principal

ISSUER = "https://login.example.com/"
AUDIENCE = "legacy-gateway"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_file(path: Path, **keys: rsa.RSAPrivateKey) -> Path:
    entries = [
        {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid}
        for kid, key in keys.items()
    ]
    path.write_text(json.dumps({"keys": entries}))
    return path


@pytest.fixture
def verifier(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> JwtVerifier:
    return JwtVerifier(str(jwks_file(tmp_path / "jwks.json", k1=signing_key)), ISSUER, AUDIENCE)


def token(key: Any, kid: str | None = "k1", algorithm: str = "RS256", **claims: Any) -> str:
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "agent-42", "scope": "get_customer list_*",
            "exp": int(time.time()) + 300, **claims}  # fmt: skip
    body = {name: value for name, value in body.items() if value is not None}
    headers = {"kid": kid} if kid else None
    return jwt.encode(body, key, algorithm=algorithm, headers=headers)


def test_a_valid_token_is_its_issuer_and_subject_with_its_scopes(
    verifier: JwtVerifier, signing_key: rsa.RSAPrivateKey
) -> None:
    caller = verifier.principal(token(signing_key))

    assert caller == Principal(
        "jwt:https://login.example.com/#agent-42", ("get_customer", "list_*")
    )
    assert caller.may_call("list_postings")
    assert not caller.may_call("post_payment")


def test_scopes_may_come_as_a_list_and_from_another_claim(
    tmp_path: Path, signing_key: rsa.RSAPrivateKey
) -> None:
    jwks = str(jwks_file(tmp_path / "jwks.json", k1=signing_key))
    verifier = JwtVerifier(jwks, ISSUER, AUDIENCE, scopes_claim="roles", principal_claim="email")

    caller = verifier.principal(
        token(signing_key, roles=["approve", "tag:billing"], email="a@example.com")
    )

    assert caller.name == "jwt:https://login.example.com/#a@example.com"
    assert caller.scopes == ("approve", "tag:billing")


def test_a_token_without_scopes_may_call_nothing(
    verifier: JwtVerifier, signing_key: rsa.RSAPrivateKey
) -> None:
    caller = verifier.principal(token(signing_key, scope=None))

    assert caller.scopes == ()
    assert not caller.may_call("get_customer")


def test_a_token_without_kid_is_checked_against_the_first_key(
    verifier: JwtVerifier, signing_key: rsa.RSAPrivateKey
) -> None:
    assert verifier.principal(token(signing_key, kid=None)).name.endswith("#agent-42")


def test_the_kid_chooses_the_key(
    tmp_path: Path, signing_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    jwks = str(jwks_file(tmp_path / "jwks.json", k1=signing_key, k2=other_key))
    verifier = JwtVerifier(jwks, ISSUER, AUDIENCE)

    assert verifier.principal(token(other_key, kid="k2")).name.endswith("#agent-42")
    with pytest.raises(Unauthorized, match="Signature verification failed"):
        verifier.principal(token(other_key, kid="k1"))


@pytest.mark.parametrize(
    ("claims", "problem"),
    [
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example.com/"}, "issuer"),
        ({"exp": None}, '"exp"'),
        ({"sub": None}, '"sub"'),
    ],
)
def test_a_token_failing_a_check_is_a_401_naming_it(
    verifier: JwtVerifier, signing_key: rsa.RSAPrivateKey, claims: dict[str, Any], problem: str
) -> None:
    with pytest.raises(Unauthorized) as refused:
        verifier.principal(token(signing_key, **claims))

    assert refused.value.status == 401
    assert refused.value.message.startswith("the bearer token is not valid: ")
    assert problem in refused.value.message.lower()


def test_a_token_signed_by_another_key_is_refused(
    verifier: JwtVerifier, other_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(
        Unauthorized, match=r"^the bearer token is not valid: Signature verification failed$"
    ):
        verifier.principal(token(other_key))


def test_an_unsigned_or_symmetric_token_is_refused(
    verifier: JwtVerifier, signing_key: rsa.RSAPrivateKey
) -> None:
    unsigned = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x"}, None, algorithm="none")
    # The classic confusion: the public key's bytes used as an HMAC secret.
    public_pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for bad in (unsigned, _hs256(public_pem)):
        with pytest.raises(Unauthorized, match=r"^the bearer token is not valid"):
            verifier.principal(bad)


def _hs256(secret: bytes) -> str:
    """An HS256 token, signed without PyJWT (which refuses a PEM key as an HMAC secret)."""
    import base64
    import hashlib
    import hmac

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    header = part(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 300}
    body = part(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{part(signature)}"


@pytest.mark.parametrize(
    "garbage", ["a.b.c", "e30.e30.", "!!!.???.###", "eyJhbGciOiJSUzI1NiIsImtpZCI6Ijk5In0.e30.c2ln"]
)
def test_garbage_in_token_shape_is_a_401_not_a_crash(verifier: JwtVerifier, garbage: str) -> None:
    with pytest.raises(Unauthorized, match=r"^the bearer token is not valid"):
        verifier.principal(garbage)


@pytest.mark.parametrize("subject", ["", "x" * (MAX_SUBJECT + 1), "line\nbreak"])
def test_the_subject_must_be_a_short_printable_string(
    verifier: JwtVerifier, signing_key: rsa.RSAPrivateKey, subject: Any
) -> None:
    with pytest.raises(Unauthorized) as refused:
        verifier.principal(token(signing_key, sub=subject))

    assert refused.value.message == (
        f"the token's 'sub' claim must be a printable string of 1 to {MAX_SUBJECT} characters"
    )


@pytest.mark.parametrize("scopes", [{"a": 1}, ["ok", 3], 7])
def test_scopes_of_another_shape_are_refused(
    verifier: JwtVerifier, signing_key: rsa.RSAPrivateKey, scopes: Any
) -> None:
    with pytest.raises(Unauthorized, match=r"^the token's 'scope' claim must be a string or list$"):
        verifier.principal(token(signing_key, scope=scopes))


def test_an_ec_key_set_verifies_es256(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "e1"}]}))
    verifier = JwtVerifier(str(tmp_path / "jwks.json"), ISSUER, AUDIENCE)

    assert verifier.principal(token(key, kid="e1", algorithm="ES256")).scopes == (
        "get_customer",
        "list_*",
    )


def test_an_unreadable_key_set_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the JWKS file"):
        JwtVerifier(str(tmp_path / "missing.json"), ISSUER, AUDIENCE)
    (tmp_path / "bad.json").write_text('{"keys": "nope"}')
    with pytest.raises(ValueError, match="cannot read the JWKS file"):
        JwtVerifier(str(tmp_path / "bad.json"), ISSUER, AUDIENCE)


def test_the_environment_configures_the_verifier(
    tmp_path: Path, signing_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("JWKS", "ISSUER", "AUDIENCE", "SCOPES_CLAIM", "PRINCIPAL_CLAIM"):
        monkeypatch.delenv(f"LEGACY_GATEWAY_JWT_{name}", raising=False)
    assert JwtVerifier.from_environment() is None

    monkeypatch.setenv(
        "LEGACY_GATEWAY_JWT_JWKS", str(jwks_file(tmp_path / "j.json", k1=signing_key))
    )
    with pytest.raises(ValueError, match="needs LEGACY_GATEWAY_JWT_ISSUER"):
        JwtVerifier.from_environment()

    monkeypatch.setenv("LEGACY_GATEWAY_JWT_ISSUER", ISSUER)
    monkeypatch.setenv("LEGACY_GATEWAY_JWT_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("LEGACY_GATEWAY_JWT_SCOPES_CLAIM", "roles")
    verifier = JwtVerifier.from_environment()
    assert verifier is not None
    assert verifier.principal(token(signing_key, roles="audit")).scopes == ("audit",)


def test_the_authenticator_hands_three_part_tokens_to_the_verifier(
    verifier: JwtVerifier, signing_key: rsa.RSAPrivateKey
) -> None:
    class NoKeys:
        def find_key(self, key_id: str) -> None:
            raise AssertionError("a JWT is not looked up as an API key")

    with_jwt = Authenticator("keys", NoKeys(), verifier)
    without_jwt = Authenticator("keys", NoKeys())
    bearer = f"Bearer {token(signing_key)}"

    assert with_jwt.principal(bearer).name == "jwt:https://login.example.com/#agent-42"
    with pytest.raises(Unauthorized, match=r"^that is not an API key of this gateway$"):
        without_jwt.principal(bearer)
