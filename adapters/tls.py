"""How a backend's HTTP(S) connections are made: TLS trust and identity, and a proxy.

Legacy estates sit behind private certificate authorities, demand client certificates
(mutual TLS) and are reached through forward proxies. Each SOAP or HTTP backend may say:

    tls:
      ca_file: /run/secrets/estate-ca.pem      # trust this CA bundle instead of the system's
      cert_file: /run/secrets/gateway.crt      # present this certificate (mutual TLS)
      key_file: /run/secrets/gateway.key
      key_password: ${file:/run/secrets/gateway.key.pass}
      min_version: "1.2"                        # or "1.3"
    proxy: http://proxy.internal:3128           # a CONNECT tunnel to the backend

Relative paths are from the YAML file's directory. Files are read when the config loads, so a
missing or unreadable certificate is a config issue naming the key, not a failed call.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from adapters.base import BackendSetupError

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class TlsSettings(BaseModel):
    """TLS for one backend: whom to trust, who we are, the oldest protocol allowed."""

    model_config = ConfigDict(extra="forbid")

    ca_file: str | None = Field(
        None, description="PEM bundle of the CA(s) to trust instead of the system's."
    )
    cert_file: str | None = Field(None, description="PEM client certificate (mutual TLS).")
    key_file: str | None = Field(
        None, description="PEM private key of cert_file (if not in cert_file itself)."
    )
    key_password: SecretStr | None = Field(None, description="Passphrase of key_file.")
    min_version: Literal["1.2", "1.3"] = Field("1.2", description="Oldest TLS version allowed.")

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _resolve(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        base = (info.context or {}).get("base_dir")
        path = Path(value) if base is None or Path(value).is_absolute() else Path(base) / value
        if not path.is_file():
            raise ValueError(f"file not found: {path}")
        return str(path.resolve())

    def context(self, verify: bool = True) -> ssl.SSLContext:
        """The SSL context for this backend; a bad file is a setup error naming its key."""
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise BackendSetupError(
                ("tls", "ca_file"), f"cannot load the CA bundle: {exc}"
            ) from exc
        context.minimum_version = _VERSIONS[self.min_version]
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.key_file is not None and self.cert_file is None:
            raise BackendSetupError(("tls", "cert_file"), "key_file needs its cert_file")
        if self.cert_file is not None:
            password = self.key_password.get_secret_value() if self.key_password else None
            try:
                context.load_cert_chain(self.cert_file, self.key_file, password)
            except (OSError, ssl.SSLError) as exc:
                raise BackendSetupError(
                    ("tls", "cert_file"),
                    f"cannot load the client certificate and key: {exc.__class__.__name__}: "
                    f"{getattr(exc, 'reason', None) or exc.strerror or exc}",
                ) from exc
        return context


class Proxy:
    """An HTTP proxy reached with CONNECT: ``http://[user:password@]host:port``."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise BackendSetupError("proxy", "proxy must be an http://host:port URL")
        self.host = parts.hostname
        self.port = parts.port or 3128
        self.authorization: str | None = None
        if parts.username is not None:
            import base64

            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self.authorization = "Basic " + base64.b64encode(pair.encode()).decode()

    def connect_request(self, host: str, port: int) -> bytes:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        if self.authorization is not None:
            lines.append(f"Proxy-Authorization: {self.authorization}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


PROXY_DESCRIPTION = "http://[user:password@]host:port of a proxy; connections tunnel with CONNECT."


def connection_setup(
    url: str, tls: TlsSettings, proxy: str | None, verify: bool
) -> tuple[ssl.SSLContext | None, Proxy | None]:
    """The SSL context (for https:// URLs) and the proxy of a backend, checked at load time."""
    context = tls.context(verify) if urlsplit(url).scheme == "https" else None
    return context, Proxy(proxy) if proxy else None
