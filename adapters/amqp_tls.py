"""amqps:// for AMQP backends: TLS to the broker with the backend's ``tls`` settings.

    backends:
      orders:
        adapter: amqp
        url: amqps://gateway:${file:/run/secrets/mq-pass}@mq.internal:5671/%2F
        tls:
          ca_file: /run/secrets/mq-ca.pem      # the broker's private CA (default: the system's)
          cert_file: /run/secrets/gateway.crt  # a client certificate, for brokers that ask
          key_file: /run/secrets/gateway.key
          min_version: "1.2"

The settings are those of SOAP and HTTP backends (``adapters.tls``), read when the config
loads. The broker's certificate must name the URL's host, as for HTTPS: pika alone checks
no host name unless told one. URLs that carry pika's own ``ssl_options`` query keep working
as pika reads them, but not together with ``tls``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from adapters.base import BackendSetupError
from adapters.tls import TlsSettings


@dataclass(frozen=True)
class BrokerTls:
    context: ssl.SSLContext
    server_hostname: str | None


def broker_tls(url: str, tls: TlsSettings, tls_given: bool) -> BrokerTls | None:
    """The TLS of a backend's broker connections; None for plain amqp:// (or pika's own)."""
    parts = urlsplit(url)
    if parts.scheme == "amqps":
        if "ssl_options" in parse_qs(parts.query):
            if tls_given:
                raise BackendSetupError(
                    "tls", "give TLS settings in tls or in the url's ssl_options, not both"
                )
            return None
        return BrokerTls(tls.context(), parts.hostname)
    if tls_given:
        raise BackendSetupError("tls", "tls settings need an amqps:// url")
    return None


def broker_parameters(pika: Any, url: str, tls: BrokerTls | None) -> Any:
    """pika's connection parameters for ``url``, over TLS when the backend has it."""
    parameters = pika.URLParameters(url)
    if tls is not None:
        parameters.ssl_options = pika.SSLOptions(tls.context, tls.server_hostname)
    return parameters


def tls_failure(exc: BaseException) -> str | None:
    """What went wrong in a TLS handshake with the broker, in terms of the settings to fix.

    pika raises the ssl module's error, or its own connection error holding it in ``args``.
    """
    nested = (arg for arg in exc.args if isinstance(arg, BaseException))
    found = next((reason for arg in nested if (reason := tls_failure(arg))), None)
    if found is not None:
        return found
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the broker's TLS certificate is not trusted ({exc.verify_message}); "
            "check tls.ca_file and that the certificate names the url's host"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with the broker failed: {exc.reason or exc}"
    return None
