"""Backends behind a private CA, mutual TLS and a forward proxy, against local servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.installed import INSTALLED
from estate.server import EstateServer
from gateway.audit.postgres_store import PostgresStore
from gateway.config.loader import load_config
from gateway.errors import AuditUnavailable, ConfigError
from gateway.mapping.redaction import Commitments
from gateway.tools import build_registry
from tests.integration.support import (
    ANNA,
    call_record,
    call_tool,
    error_of,
    gateway_client,
    get_customer_tool,
)
from tests.integration.tls_estate import ConnectProxy, Issued, MutualTLSHost, PrivateCA
from tests.services import pg_schema

ROOT = Path(__file__).resolve().parents[2]
WSDL = ROOT / "mappings" / "demo" / "wsdl" / "customer_master.wsdl"

HTTP_CONFIG = """\
backends:
  mainframe_rest:
    adapter: http
    description: A REST face behind mutual TLS.
    base_url: {url}
{connection}
tools:
  lookup:
    description: Looks a key up.
    backend: mainframe_rest
    operation: GET /lookup/{{KEY}}
    input:
      key: {{to: KEY, pattern: "^[a-z0-9]+$"}}
    output:
      fields:
        value: {{from: VALUE}}
        client: {{from: CLIENT}}
"""


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCA:
    return PrivateCA(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def gateway_cert(ca: PrivateCA) -> Issued:
    return ca.issue("legacy-gateway", server=False, password=b"key-passphrase")


@pytest.fixture(scope="module")
def tls_host(ca: PrivateCA) -> Iterator[MutualTLSHost]:
    host = MutualTLSHost(ca.issue("estate-host", server=True), ca.bundle).start()
    yield host
    host.stop()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    server = ConnectProxy(credentials=("agent", "pr0xy")).start()
    yield server
    server.stop()


def write_config(directory: Path, url: str, connection: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "rest.yaml").write_text(HTTP_CONFIG.format(url=url, connection=connection))
    return directory


def mutual_tls(ca: PrivateCA, cert: Issued, password_file: Path) -> str:
    password_file.write_text("key-passphrase\n")
    return (
        "    tls:\n"
        f"      ca_file: {ca.bundle}\n"
        f"      cert_file: {cert.cert}\n"
        f"      key_file: {cert.key}\n"
        f'      key_password: "${{file:{password_file}}}"\n'
    )


@pytest.fixture
def mutual(tmp_path: Path, ca: PrivateCA, gateway_cert: Issued) -> str:
    """The connection settings for the gateway's certificate, its passphrase in a file."""
    return mutual_tls(ca, gateway_cert, tmp_path / "key.pass")


def test_mutual_tls_with_a_private_ca_and_a_key_passphrase_from_a_secret_file(
    tmp_path: Path, mutual: str, tls_host: MutualTLSHost
) -> None:
    config = write_config(tmp_path / "config", tls_host.base_url, mutual)
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        response = call_tool(client, "lookup", {"key": "abc"})
        assert response.status_code == 200, response.text
        assert response.json()["result"] == {"value": "abc", "client": "legacy-gateway"}
        record = call_record(client, response.json()["call_id"])
        (interaction,) = record["interactions"]
        assert interaction["request"]["url"] == f"{tls_host.base_url}/lookup/abc"
    assert b"key-passphrase" not in (tmp_path / "audit.sqlite").read_bytes()


def test_without_a_client_certificate_the_host_refuses_and_the_agent_is_told(
    tmp_path: Path, ca: PrivateCA, tls_host: MutualTLSHost
) -> None:
    connection = f"    tls:\n      ca_file: {ca.bundle}\n"
    config = write_config(tmp_path / "config", tls_host.base_url, connection)
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        response = call_tool(client, "lookup", {"key": "abc"})
        assert response.status_code == 503, response.text
        error = error_of(response)
        assert error["code"] == "backend_unavailable"
        assert "mainframe_rest" in error["message"]


def test_the_system_trust_store_does_not_vouch_for_a_private_ca(
    tmp_path: Path, ca: PrivateCA, gateway_cert: Issued, tls_host: MutualTLSHost
) -> None:
    connection = (
        f"    tls:\n      cert_file: {gateway_cert.cert}\n      key_file: {gateway_cert.key}\n"
    )
    connection += "      key_password: key-passphrase\n"
    config = write_config(tmp_path / "config", tls_host.base_url, connection)
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        error = error_of(call_tool(client, "lookup", {"key": "abc"}))
        assert error["code"] == "backend_unavailable"
        assert "CERTIFICATE_VERIFY_FAILED" in error["message"]


def test_a_minimum_tls_version_the_host_cannot_speak_is_refused(
    tmp_path: Path, ca: PrivateCA, mutual: str
) -> None:
    old_host = MutualTLSHost(ca.issue("old-host", server=True), ca.bundle, max_version="1.2")
    old_host.start()
    try:
        newest_only = mutual + '      min_version: "1.3"\n'
        config = write_config(tmp_path / "strict", old_host.base_url, newest_only)
        with gateway_client(config, tmp_path / "a.sqlite") as client:
            error = error_of(call_tool(client, "lookup", {"key": "abc"}))
            assert error["code"] == "backend_unavailable"
            assert "VERSION" in error["message"].upper()
        config = write_config(tmp_path / "lenient", old_host.base_url, mutual)
        with gateway_client(config, tmp_path / "b.sqlite") as client:
            assert call_tool(client, "lookup", {"key": "abc"}).status_code == 200
    finally:
        old_host.stop()


def through(proxy: str, tmp_path: Path, mutual: str, tls_host: MutualTLSHost) -> Path:
    """A config that reaches the mutual-TLS host through the proxy at ``proxy``."""
    return write_config(tmp_path / "config", tls_host.base_url, mutual + f"    proxy: {proxy}\n")


def test_mutual_tls_through_a_connect_proxy_with_credentials(
    tmp_path: Path, mutual: str, tls_host: MutualTLSHost, proxy: ConnectProxy
) -> None:
    authorised = f"http://agent:pr0xy@{proxy.url.removeprefix('http://')}"
    config = through(authorised, tmp_path, mutual, tls_host)
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        for key in ("one", "two"):
            response = call_tool(client, "lookup", {"key": key})
            assert response.status_code == 200, response.text
            assert response.json()["result"]["client"] == "legacy-gateway"
    port = tls_host.server_address[1]
    assert proxy.tunnels == [f"127.0.0.1:{port}"]  # one tunnel, kept alive for both calls


def test_a_proxy_refusing_the_tunnel_is_named_in_the_error(
    tmp_path: Path, mutual: str, tls_host: MutualTLSHost, proxy: ConnectProxy
) -> None:
    config = through(proxy.url, tmp_path, mutual, tls_host)
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        error = error_of(call_tool(client, "lookup", {"key": "abc"}))
        assert error["code"] == "backend_unavailable"
        assert "407 Proxy Authentication Required" in error["message"]
    assert proxy.tunnels == []


def test_a_soap_backend_through_a_connect_proxy(
    tmp_path: Path, estate: EstateServer, proxy: ConnectProxy
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "soap.yaml").write_text(
        f"""\
backends:
  customer_master:
    adapter: soap
    wsdl: {WSDL}
    endpoint: {estate.customer_master_url}
    proxy: http://agent:pr0xy@{proxy.url.removeprefix("http://")}
"""
        + get_customer_tool("customer_master")
    )
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        response = call_tool(client, "get_customer", {"customer_number": ANNA})
        assert response.status_code == 200, response.text
        assert response.json()["result"] == {"name": "MULLER, ANNA"}
    assert proxy.tunnels == [estate.customer_master_url.split("/")[2]]


@pytest.mark.parametrize(
    ("connection", "key", "message"),
    [
        ("    tls:\n      cert_file: /nowhere/gateway.crt\n", "tls.cert_file", "file not found"),
        ("    tls:\n      min_version: '1.1'\n", "tls.min_version", "'1.2' or '1.3'"),
        ("    proxy: socks5://127.0.0.1:1080\n", "proxy", "http://host:port"),
        ("    tls:\n      key_fiel: x.key\n", "tls.key_fiel", "did you mean 'key_file'"),
    ],
)
def test_a_bad_connection_setting_is_a_config_issue_naming_its_key(
    tmp_path: Path, connection: str, key: str, message: str
) -> None:
    config = write_config(tmp_path, "https://127.0.0.1:9", connection)
    with pytest.raises(ConfigError) as caught:
        build_registry(load_config(config, INSTALLED), Commitments.throwaway())
    (issue,) = caught.value.issues
    assert issue.key == f"backends.mainframe_rest.{key}", issue
    assert message in issue.message, issue


def test_a_client_key_with_the_wrong_passphrase_is_a_config_issue(
    tmp_path: Path, gateway_cert: Issued
) -> None:
    connection = (
        f"    tls:\n      cert_file: {gateway_cert.cert}\n      key_file: {gateway_cert.key}\n"
        "      key_password: not-the-passphrase\n"
    )
    with pytest.raises(ConfigError) as caught:
        build_registry(
            load_config(write_config(tmp_path, "https://127.0.0.1:9", connection), INSTALLED),
            Commitments.throwaway(),
        )
    (issue,) = caught.value.issues
    assert issue.key == "backends.mainframe_rest.tls.cert_file"
    assert "cannot load the client certificate" in issue.message
    assert "not-the-passphrase" not in issue.message


def test_the_audit_store_url_passes_sslmode_through_to_postgresql() -> None:
    """``?sslmode=verify-full&sslrootcert=...`` reach libpq beside the store's own ?schema=.

    The test server speaks no TLS, so requiring it must fail, and say why; disabling it works.
    """
    with pg_schema("lgw_sslmode") as url:
        with pytest.raises(AuditUnavailable) as caught:
            PostgresStore(f"{url}&sslmode=require")
        assert "SSL was required" in caught.value.message
        store = PostgresStore(f"{url}&sslmode=disable")
        assert store.count() == 0
        store.close()
