"""AMQP over TLS (amqps://) with a private CA and a client certificate.

The running RabbitMQ is not reconfigured: a TLS-terminating proxy of the test's own, with a
server certificate from a CA made here, stands in front of its plain port, as a broker's TLS
listener would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from gateway.errors import ConfigError
from gateway.mapping.redaction import Commitments
from gateway.tools import build_registry
from tests.integration.amqp_support import AMQP_URL, CardService
from tests.integration.support import call_record, call_tool, error_of, gateway_client
from tests.integration.tls_estate import Issued, PrivateCA, TlsTerminatingProxy

CONFIG = """\
backends:
  cards_tls:
    adapter: amqp
    description: The card host's broker, over TLS.
    url: {url}
    timeout_s: 5
{tls}
tools:
  check_card:
    description: A JSON request/reply over TLS.
    backend: cards_tls
    operation: request_reply
    timeout_s: 5
    message: {{routing_key: "{queue}"}}
    input:
      card_number: {{to: CARD_NO, pattern: "^[0-9]{{16}}$"}}
      holder: {{to: HOLDER}}
    output:
      fields:
        holder: {{from: HOLDER, trim: true}}
        status: {{from: STATUS, codes: {{A: active, B: blocked}}}}
"""


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCA:
    return PrivateCA(tmp_path_factory.mktemp("broker-pki"), name="Broker Test CA")


@pytest.fixture(scope="module")
def client_cert(ca: PrivateCA) -> Issued:
    return ca.issue("legacy-gateway-amqp", server=False)


@pytest.fixture(scope="module")
def tls_broker(ca: PrivateCA) -> Iterator[TlsTerminatingProxy]:
    """TLS on a free port in front of the real broker, demanding a client certificate."""
    broker = urlsplit(AMQP_URL)
    upstream = (broker.hostname or "127.0.0.1", broker.port or 5672)
    proxy = TlsTerminatingProxy(ca.issue("broker", server=True), upstream, client_ca=ca.bundle)
    yield proxy.start()
    proxy.stop()


def amqps_url(proxy: TlsTerminatingProxy) -> str:
    broker = urlsplit(AMQP_URL)
    credentials = broker.netloc.rpartition("@")[0]
    return f"amqps://{credentials}@127.0.0.1:{proxy.port}{broker.path or '/%2F'}"


def write_config(directory: Path, url: str, tls: str, queue: str = "unused") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cards.yaml").write_text(CONFIG.format(url=url, tls=tls, queue=queue))
    return directory


def tls_settings(ca_bundle: Path, cert: Issued) -> str:
    return (
        "    tls:\n"
        f"      ca_file: {ca_bundle}\n"
        f"      cert_file: {cert.cert}\n"
        f"      key_file: {cert.key}\n"
    )


def test_a_request_reply_round_trips_over_tls_with_a_client_certificate(
    tmp_path: Path,
    ca: PrivateCA,
    client_cert: Issued,
    tls_broker: TlsTerminatingProxy,
    card_service: CardService,
) -> None:
    config = write_config(
        tmp_path / "config",
        amqps_url(tls_broker),
        tls_settings(ca.bundle, client_cert),
        card_service.queue,
    )
    holder = f"holder {uuid.uuid4().hex[:6]}"
    before = len(tls_broker.clients)
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        response = call_tool(
            client, "check_card", {"card_number": "4000123412341234", "holder": holder}
        )
        assert response.status_code == 200, response.text
        assert response.json()["result"] == {"holder": holder, "status": "blocked"}
        record = call_record(client, response.json()["call_id"])
    published = record["interactions"][0]
    assert (published["adapter"], published["backend"]) == ("amqp", "cards_tls")
    # Every connection of the gateway went through the TLS listener, with its certificate.
    assert tls_broker.clients[before:]
    assert set(tls_broker.clients[before:]) == {"legacy-gateway-amqp"}
    assert any(request[1] and holder.encode() in request[1] for request in card_service.received)


def test_a_broker_certificate_from_another_ca_fails_naming_the_problem(
    tmp_path: Path, client_cert: Issued, tls_broker: TlsTerminatingProxy
) -> None:
    stranger = PrivateCA(tmp_path / "other-pki", name="Some Other CA")
    config = write_config(
        tmp_path / "config", amqps_url(tls_broker), tls_settings(stranger.bundle, client_cert)
    )
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        response = call_tool(client, "check_card", {"card_number": "1" * 16, "holder": "x"})
        assert response.status_code == 503, response.text
        error = error_of(response)
        assert error["code"] == "backend_unavailable"
        assert "cards_tls" in error["message"]
        assert "the broker's TLS certificate is not trusted" in error["message"]
        # OpenSSL's own reason follows, e.g. "self-signed certificate in certificate chain".
        assert "the broker's TLS certificate is not trusted (" in error["message"]
        assert "tls.ca_file" in error["message"]
        health = client.get("/health/backends").json()
    assert "not trusted" in str(health)


@pytest.mark.parametrize(
    ("url", "tls", "message"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "    tls: {min_version: '1.3'}\n", "amqps://"),
        (
            "amqps://guest:guest@127.0.0.1:5671/%2F?ssl_options=%7B%7D",
            "    tls: {min_version: '1.3'}\n",
            "not both",
        ),
        (
            "amqps://guest:guest@127.0.0.1:5671/%2F",
            "    tls: {ca_file: /nowhere/ca.pem}\n",
            "file not found",
        ),
    ],
)
def test_tls_settings_that_cannot_apply_are_config_issues(
    tmp_path: Path, url: str, tls: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_registry(
            load_config(write_config(tmp_path, url, tls), INSTALLED), Commitments.throwaway()
        )
    (issue,) = caught.value.issues
    assert issue.key.startswith("backends.cards_tls.tls"), issue
    assert message in issue.message, issue
