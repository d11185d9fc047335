"""Plain HTTP legacy services (REST/JSON, XML over HTTP) as tools.

Requests go through the gateway's own keep-alive HTTP/1.1 client (``adapters/http11``), as
SOAP calls do: a general client's machinery costs several times the ~50 us it takes, on
every tool call. No redirects and no automatic retries: ``retries`` on the backend decide.

A tool's ``operation`` is a method and a path template: ``GET /customers/{CUSTNO}``. Input
fields whose ``to:`` names a ``{placeholder}`` fill the path (URL-encoded); the others go to
the query string for GET, DELETE and HEAD, and to the body otherwise: JSON by default, XML
with ``request: {xml: ...}``, a record with ``request: {record: ...}``. Headers of the
backend (API keys from ``${VAR}``s) go with every request and are committed, never recorded.

Answers: JSON is parsed, XML read into plain values (or kept as an element for XPath
outputs), anything else kept as text. A 4xx or 5xx answer is a 502 ``legacy_http_error``
carrying the status and the start of the body (retryable for 429, 502, 503, 504).
"""

from __future__ import annotations

import re
import secrets
import ssl
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import quote, urlencode, urlsplit

import orjson
from lxml import etree
from pydantic import Field, SecretStr

from adapters.base import (
    Adapter,
    BackendSetupError,
    CallContext,
    CallRecord,
    Health,
    Interaction,
)
from adapters.http11 import HTTPClient, ResponseTooLarge, client_failure
from adapters.tls import PROXY_DESCRIPTION, Proxy, TlsSettings, connection_setup
from gateway.config.models import BackendConfig, ToolConfig
from gateway.errors import (
    BackendUnavailable,
    GatewayError,
    InvalidArguments,
    LegacyBadResponse,
    LegacyHTTPError,
)
from gateway.limits import cap_field
from gateway.mapping.redaction import Commitments, sensitive_names
from gateway.mapping.xml import HostileXML, element_to_value, hardened_parser, parse_untrusted

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
RECORDED_BODY = 64 * 1024


class HttpBackendConfig(BackendConfig):
    """A legacy service spoken to over plain HTTP (REST/JSON or XML)."""

    base_url: str = Field(description="http(s)://host[:port][/prefix] of the service.")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Sent with every request; values never recorded."
    )
    verify_tls: bool = True
    tls: TlsSettings = Field(default_factory=TlsSettings)
    proxy: str | None = Field(None, description=PROXY_DESCRIPTION)
    max_response_bytes: int = Field(16 * 1024 * 1024, ge=1024)


@dataclass(frozen=True)
class PreparedRequest:
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
    path: str
    placeholders: tuple[str, ...]
    xml_answer: bool
    # Legacy names of sensitive fields: commitments in recorded bodies and queries.
    sensitive: frozenset[str] = frozenset()


class HttpAdapter(Adapter[HttpBackendConfig, PreparedRequest]):
    name: ClassVar[str] = "http"
    config_model: ClassVar[type[BackendConfig]] = HttpBackendConfig

    def __init__(
        self, backend: str, config: HttpBackendConfig, commitments: Commitments | None = None
    ) -> None:
        super().__init__(backend, config, commitments)
        self._client: HTTPClient | None = None
        self._ssl: ssl.SSLContext | None = None
        self._proxy: Proxy | None = None
        self._prefix = urlsplit(config.base_url).path.rstrip("/")
        self._parser = hardened_parser()

    def load(self) -> None:
        parts = urlsplit(self.config.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BackendSetupError("base_url", "base_url must be an http:// or https:// URL")
        cfg = self.config
        self._ssl, self._proxy = connection_setup(cfg.base_url, cfg.tls, cfg.proxy, cfg.verify_tls)

    def operations(self) -> list[str]:
        return [f"{method} /path" for method in METHODS]

    def prepare(self, tool: ToolConfig) -> PreparedRequest:
        method, _, path = tool.operation.strip().partition(" ")
        method = method.upper()
        if method not in METHODS or not path.startswith("/"):
            raise BackendSetupError(
                "operation", "an HTTP tool's operation is 'METHOD /path/{PARAM}', e.g. "
                "'GET /customers/{CUSTNO}'",
            )  # fmt: skip
        placeholders = tuple(_PLACEHOLDER.findall(path))
        targets = {(spec.to or name) for name, spec in tool.input.items()}
        missing = [name for name in placeholders if name not in targets]
        if missing:
            raise BackendSetupError(
                "operation", f"no input field maps to {{{missing[0]}}} (set to: {missing[0]})"
            )
        return PreparedRequest(
            method,  # type: ignore[arg-type]
            path,
            placeholders,
            tool.output.uses_xml,
            sensitive_names(tool),
        )

    async def open(self) -> None:
        self._client = HTTPClient(
            self.config.base_url,
            max_connections=self.config.max_concurrency,
            verify_tls=self.config.verify_tls,
            # A Cookie header goes per request, merged with cookie arguments (one Cookie).
            headers={
                k: v.get_secret_value()
                for k, v in self.config.headers.items()
                if k.lower() != "cookie"
            },
            ssl_context=self._ssl,
            proxy=self._proxy,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def check(self) -> Health:
        if self._client is None:
            return Health(False, "not open", 0.0)
        started = time.perf_counter()
        try:
            response = await self._client.request(
                "GET", self._prefix + "/", {}, b"", timeout=2, max_bytes=1024 * 1024
            )
        except ResponseTooLarge:
            return Health(True, "answering", (time.perf_counter() - started) * 1000)
        except (OSError, TimeoutError) as exc:
            return Health(False, f"unreachable: {type(exc).__name__}", 0.0)
        latency = (time.perf_counter() - started) * 1000
        return Health(True, f"HTTP {response.status}", latency)

    # ------------------------------------------------------------------ requests

    def _build(self, prepared: PreparedRequest, params: Any) -> tuple[str, dict[str, Any], Any]:
        """(path, query, body) of a request: the body is None, bytes, or JSON-able data."""
        values = dict(params) if isinstance(params, dict) else {}
        path = prepared.path
        for name in prepared.placeholders:
            value = values.pop(name, None)
            if value is None:
                raise GatewayError(f"path parameter {name} has no value")
            path = path.replace(f"{{{name}}}", quote(str(value), safe=""))
        if not isinstance(params, dict):  # an XML element or a record: the body itself
            body: Any = (
                etree.tostring(params, xml_declaration=True, encoding="utf-8")
                if isinstance(params, etree._Element)
                else params
            )
            return path, {}, body
        if prepared.method in ("GET", "DELETE", "HEAD"):
            return path, {k: v for k, v in values.items() if v is not None}, None
        return path, {}, values

    def _cookie_header(self, cookies: dict[str, str]) -> str:
        """The one Cookie header: the backend's own cookies (secrets), then the arguments'."""
        own = [
            v.get_secret_value() for k, v in self.config.headers.items() if k.lower() == "cookie"
        ]
        return "; ".join([*own, *(f"{k}={v}" for k, v in cookies.items())])

    def _secret_headers(self) -> dict[str, str]:
        return {
            k: self.commitments.commit(v.get_secret_value()) for k, v in self.config.headers.items()
        }

    def render(self, prepared: PreparedRequest, params: Any) -> dict[str, Any]:
        params, sent_headers, cookies = header_and_cookie_params(params)
        path, query, body = self._build(prepared, params)
        return {
            "method": prepared.method,
            "url": self.config.base_url.rstrip("/") + path,
            "query": query,
            "headers": {**self._secret_headers(), **sent_headers},
            **({"cookies": cookies} if cookies else {}),
            "body": _shown(body),
        }

    async def exchange(
        self, prepared: PreparedRequest, params: Any, ctx: CallContext, record: CallRecord
    ) -> Any:
        if self._client is None:
            raise BackendUnavailable(f"backend {self.backend} is not open")
        params, sent_headers, cookies = header_and_cookie_params(params)
        path, query, body = self._build(prepared, params)
        request_headers = {"traceparent": f"00-{ctx.trace_id}-{secrets.token_hex(8)}-01"}
        request_headers.update(sent_headers)
        cookie = self._cookie_header(cookies)
        if cookie:
            request_headers["cookie"] = cookie
        content: bytes | None = None
        if isinstance(body, bytes | bytearray):
            content = bytes(body)
            xml = content.lstrip().startswith(b"<")
            request_headers["content-type"] = (
                "application/xml" if xml else "application/octet-stream"
            )
        elif body is not None:
            content = orjson.dumps(body, default=str)
            request_headers["content-type"] = "application/json"
        interaction = record.begin(
            prepared.method + " " + prepared.path,
            {
                "method": prepared.method,
                "url": self.config.base_url.rstrip("/") + path,
                "query": self.commitments.blank_keys(query, prepared.sensitive),
                "headers": {
                    **self._secret_headers(),
                    **{k: v for k, v in request_headers.items() if k != "cookie"},
                    # Header and cookie arguments: sensitive ones as their commitments.
                    **self._recorded(prepared, sent_headers),
                    **({"cookie": self._recorded(prepared, cookies)} if cookies else {}),
                },
                "body": self._recorded(prepared, body),
            },
        )
        target = self._prefix + path + (f"?{urlencode(query)}" if query else "")
        response = await self._client.request(
            prepared.method, target, request_headers, content or b"",
            timeout=ctx.timeout_s, max_bytes=self.config.max_response_bytes,
        )  # fmt: skip
        payload = response.body
        # The record keeps the start of a long answer, marked, with the SHA-256 of the
        # whole (as recorded, secrets committed).
        interaction.response = cap_field(
            cap_field(
                {
                    "status": response.status,
                    "content_type": response.headers.get("content-type"),
                    "body": self.redact(payload.decode("utf-8", "replace")),
                },
                "body",
                RECORDED_BODY,
            ),
            "content_type",
            1024,
        )
        if response.status >= 400:
            excerpt = payload[:500].decode("utf-8", "replace")
            raise LegacyHTTPError(response.status, excerpt)
        return self._parse(prepared, payload, response.headers.get("content-type", ""))

    def _recorded(self, prepared: PreparedRequest, body: Any) -> Any:
        if body is None:
            return None
        if isinstance(body, bytes | bytearray):
            return self.redact(bytes(body).decode("utf-8", "replace"))
        return self.commitments.blank_keys(body, prepared.sensitive)

    def _parse(self, prepared: PreparedRequest, payload: bytes, content_type: str) -> Any:
        kind = content_type.lower()
        if not payload.strip():
            return {}
        if "json" in kind:
            try:
                return orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                raise LegacyBadResponse(f"the answer says JSON but is not: {exc}") from None
        if "xml" in kind or payload.lstrip().startswith(b"<"):
            root = parse_untrusted(payload, self._parser)
            return root if prepared.xml_answer else element_to_value(root)
        return payload.decode("utf-8", "replace")

    def parse_answer(self, prepared: PreparedRequest, payload: bytes) -> Any:
        head = payload.lstrip()[:1]
        kind = "json" if head in (b"{", b"[") else "xml" if head == b"<" else "text"
        return self._parse(prepared, payload, kind)

    def telemetry(self, interaction: Interaction) -> tuple[str, str, dict[str, Any]]:
        request = interaction.request
        parts = urlsplit(str(request.get("url", "")))
        return (
            str(request.get("method", "HTTP")),
            "client",
            {
                "http.request.method": request.get("method"),
                "url.full": f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}",
                "server.address": parts.hostname,
                "server.port": parts.port or (443 if parts.scheme == "https" else 80),
                "http.response.status_code": (interaction.response or {}).get("status"),
            },
        )

    def translate_error(self, exc: BaseException) -> GatewayError:
        known = client_failure(exc, self.backend)
        if known is not None:
            return known
        if isinstance(exc, OSError):
            reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
            return BackendUnavailable(f"cannot reach backend {self.backend}: {reason}")
        if isinstance(exc, etree.XMLSyntaxError | HostileXML):
            return LegacyBadResponse(f"the answer is not acceptable XML: {exc}")
        reason = f"{type(exc).__name__}: {exc}"
        return GatewayError(f"unexpected error calling {self.backend}: {reason}")


HEADER_TARGET, COOKIE_TARGET = "header:", "cookie:"
_UNSAFE_IN_HEADER = re.compile(r"[\x00-\x1f\x7f]")


def header_and_cookie_params(params: Any) -> tuple[Any, dict[str, str], dict[str, str]]:
    """(the other parameters, request headers, cookies) of a request: input fields whose
    ``to:`` is ``header:NAME`` or ``cookie:NAME`` travel as that header or cookie (as
    OpenAPI's header and cookie parameters do), never in the query or the body.

    Values go as OpenAPI's ``simple`` style writes them (arrays comma-separated, booleans
    in lower case); a header value holding a line break, another control character or a
    non-ASCII one is refused, so that no argument can add a header or split the request.
    Cookie values are percent-encoded where a cookie may not hold the character.
    """
    if not isinstance(params, dict) or not any(
        isinstance(key, str) and key.startswith((HEADER_TARGET, COOKIE_TARGET)) for key in params
    ):
        return params, {}, {}
    rest: dict[str, Any] = {}
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for key, value in params.items():
        kind = HEADER_TARGET if key.startswith(HEADER_TARGET) else COOKIE_TARGET
        if not key.startswith(kind):
            rest[key] = value
            continue
        if value is None:
            continue
        name, text = key[len(kind) :], _simple_style(value)
        if kind == HEADER_TARGET:
            if _UNSAFE_IN_HEADER.search(text) or not text.isascii():
                message = "holds a control or non-ASCII character"
                raise InvalidArguments([{"field": key, "message": message}])
            headers[name] = text
        else:
            cookies[name] = quote(text, safe="!#$&'()*+-./:<=>?@[]^_`{|}~")
    return rest, headers, cookies


def _simple_style(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_simple_style(item) for item in value)
    if isinstance(value, dict):
        return ",".join(f"{k},{_simple_style(v)}" for k, v in value.items())
    return str(value)


def _shown(body: Any) -> Any:
    if body is None:
        return None
    if isinstance(body, bytes | bytearray):
        return bytes(body).decode("utf-8", "replace")
    return body
