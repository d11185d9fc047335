"""WS-Security X.509 signatures, against a local host that verifies them with xmlsec."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from adapters.installed import INSTALLED
from estate.server import EstateServer
from gateway.config.loader import load_config
from gateway.errors import ConfigError
from gateway.mapping.redaction import Commitments
from gateway.tools import build_registry
from tests.integration.signing_estate import (
    DS,
    WSSE,
    SignatureCheckingEstate,
    SigningPair,
    signing_pair,
)
from tests.integration.support import (
    ANNA,
    CM_NS,
    ROOT,
    SOAP11_NS,
    call_record,
    call_tool,
    error_of,
    gateway_client,
    get_customer_tool,
    sole_interaction,
)

WSDL = ROOT / "mappings" / "demo" / "wsdl" / "customer_master.wsdl"
PASSPHRASE = "signing-key-passphrase-7"
USER, USER_PASSWORD = "agent", "token-pass-93"

CONFIG = """\
backends:
  signed_master:
    adapter: soap
    description: CustomerMaster behind WS-Security signatures.
    wsdl: {wsdl}
    service: CustomerMaster
    port: CustomerMasterSoap
    endpoint: {url}
    wsse:
{wsse}
"""


@pytest.fixture(scope="module")
def gateway_pair(tmp_path_factory: pytest.TempPathFactory) -> SigningPair:
    directory = tmp_path_factory.mktemp("signing")
    return signing_pair(directory, "legacy-gateway", password=PASSPHRASE.encode())


@pytest.fixture(scope="module")
def signed_host(gateway_pair: SigningPair) -> Iterator[EstateServer]:
    server = EstateServer(app=SignatureCheckingEstate(gateway_pair)).start()
    yield server
    server.stop()


def signature_settings(pair: SigningPair, *extra: str, password: str | None = None) -> str:
    lines = [
        "      signature:",
        f"        key_file: {pair.key}",
        f"        certificate_file: {pair.certificate}",
        *(f"        {line}" for line in extra),
    ]
    if password is not None:
        lines.append(f'        password: "{password}"')
    return "\n".join(lines)


def write_config(directory: Path, url: str, wsse: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "signed.yaml").write_text(
        CONFIG.format(wsdl=WSDL, url=url, wsse=wsse) + get_customer_tool("signed_master")
    )
    return directory


def security_header(envelope: bytes | str) -> etree._Element:
    root = etree.fromstring(envelope.encode() if isinstance(envelope, str) else envelope)
    security = root.find(f"{{{SOAP11_NS}}}Header/{{{WSSE}}}Security")
    assert security is not None, envelope
    return security


def test_a_signed_call_is_verified_by_the_host_and_its_signature_is_on_the_record(
    tmp_path: Path, gateway_pair: SigningPair, signed_host: EstateServer
) -> None:
    (tmp_path / "key.pass").write_text(PASSPHRASE + "\n")
    wsse = signature_settings(gateway_pair, password=f"${{file:{tmp_path / 'key.pass'}}}")
    config = write_config(tmp_path / "config", signed_host.customer_master_url, wsse)
    app = signed_host.app
    assert isinstance(app, SignatureCheckingEstate)
    verified = app.verified
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        response = call_tool(client, "get_customer", {"customer_number": ANNA})
        assert response.status_code == 200, response.text
        assert response.json()["result"] == {"name": "MULLER, ANNA"}
        record = call_record(client, response.json()["call_id"])
    assert app.verified == verified + 1

    # On the wire: timestamp first, the token before the signature that refers to it, and
    # SHA-256 references to the Body and the Timestamp.
    sent = security_header(signed_host.received[-1].body)
    assert [etree.QName(child).localname for child in sent] == [
        "Timestamp",
        "BinarySecurityToken",
        "Signature",
    ]
    token = sent.findtext(f"{{{WSSE}}}BinarySecurityToken") or ""
    assert base64.b64decode(token) == gateway_pair.certificate_der
    signed_info = sent.find(f"{{{DS}}}Signature/{{{DS}}}SignedInfo")
    assert signed_info is not None
    method = signed_info.find(f"{{{DS}}}SignatureMethod")
    assert method is not None
    assert method.get("Algorithm") == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    digests = signed_info.findall(f"{{{DS}}}Reference/{{{DS}}}DigestMethod")
    assert {digest.get("Algorithm") for digest in digests} == {
        "http://www.w3.org/2001/04/xmlenc#sha256"
    }
    assert len(digests) == 2

    # On the record: the envelope as signed, signature and token included; no key material.
    recorded = security_header(sole_interaction(record)["request"]["envelope"])
    assert recorded.findtext(f"{{{DS}}}Signature/{{{DS}}}SignatureValue")
    assert recorded.findtext(f"{{{WSSE}}}BinarySecurityToken") == token
    stored = (tmp_path / "audit.sqlite").read_bytes()
    assert PASSPHRASE.encode() not in stored
    assert b"PRIVATE KEY" not in stored


def test_an_ec_key_with_sha1_and_a_username_token_beside_the_signature(
    tmp_path: Path,
) -> None:
    """Old hosts: SHA-1 and a UsernameToken, both in one Security header."""
    pair = signing_pair(tmp_path / "pki", "gateway-ec", kind="ec")
    host = EstateServer(app=SignatureCheckingEstate(pair, credentials=(USER, USER_PASSWORD)))
    host.start()
    try:
        wsse = f"      username: {USER}\n      password: {USER_PASSWORD}\n"
        wsse += signature_settings(pair, "algorithm: sha1")
        config = write_config(tmp_path / "config", host.customer_master_url, wsse)
        with gateway_client(config, tmp_path / "audit.sqlite") as client:
            response = call_tool(client, "get_customer", {"customer_number": ANNA})
            assert response.status_code == 200, response.text
            envelope = sole_interaction(call_record(client, response.json()["call_id"]))["request"][
                "envelope"
            ]
        sent = security_header(host.received[-1].body)
        assert [etree.QName(child).localname for child in sent] == [
            "Timestamp",
            "BinarySecurityToken",
            "UsernameToken",
            "Signature",
        ]
        method = sent.find(f"{{{DS}}}Signature/{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
        assert method is not None
        assert method.get("Algorithm") == "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"
        assert USER_PASSWORD not in envelope  # the token's password is a commitment
        assert "SignatureValue" in envelope
    finally:
        host.stop()


def test_the_host_refuses_unsigned_and_tampered_requests(
    tmp_path: Path, gateway_pair: SigningPair, signed_host: EstateServer
) -> None:
    """The host really checks: the gateway's success above is not a host that accepts all."""
    wsse = signature_settings(gateway_pair, password=PASSPHRASE)
    config = write_config(tmp_path / "config", signed_host.customer_master_url, wsse)
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        assert call_tool(client, "get_customer", {"customer_number": ANNA}).status_code == 200
    signed = signed_host.received[-1].body
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}

    def post(body: bytes) -> str:
        answer = httpx.post(signed_host.customer_master_url, content=body, headers=headers)
        return answer.text

    assert "MULLER, ANNA" in post(signed)  # the same bytes again: still valid
    tampered = signed.replace(f">{ANNA}<".encode(), b">10000002<")
    assert tampered != signed
    assert "SIGNATURE DOES NOT VERIFY" in post(tampered)
    root = etree.fromstring(signed)
    security = root.find(f"{{{SOAP11_NS}}}Header/{{{WSSE}}}Security")
    assert security is not None
    signature = security.find(f"{{{DS}}}Signature")
    assert signature is not None
    security.remove(signature)
    assert "NO SIGNATURE" in post(etree.tostring(root))
    unsigned = (
        f'<soap:Envelope xmlns:soap="{SOAP11_NS}"><soap:Body>'
        f'<GetCustomerRequest xmlns="{CM_NS}"><CUSTNO>{ANNA}</CUSTNO></GetCustomerRequest>'
        "</soap:Body></soap:Envelope>"
    )
    assert "NO SIGNATURE" in post(unsigned.encode())


def test_a_key_the_host_does_not_trust_fails_with_the_hosts_reason(
    tmp_path: Path, signed_host: EstateServer
) -> None:
    stranger = signing_pair(tmp_path / "pki", "someone-else")
    config = write_config(
        tmp_path / "config", signed_host.customer_master_url, signature_settings(stranger)
    )
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        response = call_tool(client, "get_customer", {"customer_number": ANNA})
        assert response.status_code == 502, response.text
        error = error_of(response)
        assert error["code"] == "legacy_fault"
        assert error["details"]["faultstring"] == "SIGNATURE REFUSED"
        assert error["details"]["detail"]["CM_ERROR"]["ERR_TXT"] == "UNTRUSTED CERTIFICATE"


def config_issue(directory: Path, wsse: str) -> tuple[str, str]:
    with pytest.raises(ConfigError) as caught:
        build_registry(
            load_config(write_config(directory, "http://127.0.0.1:9/cm", wsse), INSTALLED),
            Commitments.throwaway(),
        )
    (issue,) = caught.value.issues
    return issue.key, issue.message


def test_a_key_that_is_not_the_certificates_is_a_config_issue(
    tmp_path: Path, gateway_pair: SigningPair
) -> None:
    other = signing_pair(tmp_path / "pki", "other")
    mismatched = SigningPair(other.key, gateway_pair.certificate, gateway_pair.certificate_der)
    key, message = config_issue(tmp_path, signature_settings(mismatched))
    assert key == "backends.signed_master.wsse.signature.key_file"
    assert "does not belong to the certificate (CN=legacy-gateway)" in message


def test_an_expired_certificate_is_a_config_issue(tmp_path: Path) -> None:
    expired = signing_pair(tmp_path / "pki", "retired", expired=True)
    key, message = config_issue(tmp_path, signature_settings(expired))
    assert key == "backends.signed_master.wsse.signature.certificate_file"
    assert "the certificate (CN=retired) expired on" in message


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        (None, "the key is encrypted; set wsse.signature.password"),
        ("not-the-passphrase", "wrong passphrase"),
    ],
)
def test_an_encrypted_key_without_its_passphrase_is_a_config_issue(
    tmp_path: Path, gateway_pair: SigningPair, password: str | None, problem: str
) -> None:
    key, message = config_issue(tmp_path, signature_settings(gateway_pair, password=password))
    assert key == "backends.signed_master.wsse.signature.key_file"
    assert problem in message
    assert "not-the-passphrase" not in message


@pytest.mark.parametrize(
    ("wsse", "key", "message"),
    [
        (
            f"      signature:\n        key_file: /nowhere/k.pem\n        certificate_file: {WSDL}",
            "wsse.signature.key_file",
            "file not found",
        ),
        ("      username: agent", "wsse", "needs both username and password"),
        ("      digest: true", "wsse", "give username and password, a signature, or both"),
    ],
)
def test_incomplete_ws_security_settings_are_config_issues(
    tmp_path: Path, wsse: str, key: str, message: str
) -> None:
    found_key, found_message = config_issue(tmp_path, wsse)
    assert found_key.startswith(f"backends.signed_master.{key}"), found_key
    assert message in found_message
