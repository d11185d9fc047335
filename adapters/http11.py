"""A small keep-alive HTTP/1.1 client for legacy endpoints, on asyncio and httptools.

Why not aiohttp or httpx: a SOAP call is one POST on a kept-alive connection, and the
general clients' machinery (sessions, cookies, redirects, tracing, middleware) cost this
gateway 200-1,000 us a call here, against ~50 us for this client; the SOAP hop is on every
tool call. Parsing is httptools (the parser uvicorn uses), including chunked bodies.

Scope, deliberately: HTTP/1.1 with Content-Length requests; keep-alive with a per-host pool
capped at ``max_connections``; TLS through ``ssl`` (the backend's own context: private CAs,
client certificates); an HTTP proxy through a CONNECT tunnel; a total deadline per request; a
cap on the response size. No redirects, cookies or automatic retries: a POST to a legacy
host is never sent twice behind the caller's back. An idle connection is reused only while
younger than ``keepalive_s``, so that servers closing idle connections do not race us.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

from adapters.tls import Proxy
from gateway.errors import GatewayError, LegacyBadResponse, LegacyTimeout


class ResponseTooLarge(Exception):
    pass


class ConnectionDropped(ConnectionError):
    """The server closed the connection before the whole response arrived."""


class ProxyRefused(ConnectionError):
    """The proxy did not open a tunnel to the backend (its status line says why)."""


MAX_PROXY_ANSWER = 16 * 1024


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class _Exchange:
    limit: int
    done: asyncio.Future[Response]
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    reusable: bool = True


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: _Exchange | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self._header_name = b""

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.exchange is None:
            self.close()  # bytes nobody asked for: the connection is out of step
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            self._fail(cause if isinstance(cause, ResponseTooLarge) else exc)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        exchange = self.exchange
        if exchange is None or exchange.done.done():
            return
        delimited = "content-length" in exchange.headers or "transfer-encoding" in exchange.headers
        if exchange.status and not delimited:
            # An HTTP/1.0-style body runs until the server closes the connection.
            exchange.reusable = False
            self.exchange = None
            exchange.done.set_result(
                Response(exchange.status, exchange.headers, b"".join(exchange.chunks))
            )
            return
        self._fail(ConnectionDropped("the server closed the connection mid-response"))

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        assert self.exchange is not None
        self.exchange.status = self.parser.get_status_code()

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.exchange is not None
        self.exchange.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        exchange = self.exchange
        assert exchange is not None
        exchange.size += len(body)
        if exchange.size > exchange.limit:
            raise ResponseTooLarge(f"response exceeds {exchange.limit} bytes")
        exchange.chunks.append(body)

    def on_message_complete(self) -> None:
        exchange = self.exchange
        assert exchange is not None
        exchange.reusable = self.parser.should_keep_alive()
        self.exchange = None
        if not exchange.done.done():
            exchange.done.set_result(
                Response(exchange.status, exchange.headers, b"".join(exchange.chunks))
            )

    def _fail(self, exc: BaseException) -> None:
        exchange, self.exchange = self.exchange, None
        self.close()
        if exchange is not None and not exchange.done.done():
            exchange.done.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HTTPClient:
    """Pooled connections to one origin (scheme, host, port)."""

    def __init__(
        self,
        url: str,
        *,
        max_connections: int,
        verify_tls: bool = True,
        keepalive_s: float = 4.0,
        headers: dict[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = None
        self.proxy = proxy
        if parts.scheme == "https":
            self.ssl = ssl_context or ssl.create_default_context()
            if not verify_tls and ssl_context is None:
                self.ssl.check_hostname = False
                self.ssl.verify_mode = ssl.CERT_NONE
        default_port = 443 if parts.scheme == "https" else 80
        netloc = self.host if self.port == default_port else f"{self.host}:{self.port}"
        self._fixed = b"".join(
            f"{k}: {v}\r\n".encode("latin-1")
            for k, v in {"Host": netloc, **(headers or {})}.items()
        )
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self.keepalive_s = keepalive_s

    async def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        *,
        timeout: float,
        max_bytes: int,
    ) -> Response:
        """One request; raises TimeoutError, OSError/ConnectionError, ResponseTooLarge."""
        async with asyncio.timeout(timeout), self._slots:
            connection = await self._connection()
            loop = asyncio.get_running_loop()
            exchange = _Exchange(max_bytes, loop.create_future())
            connection.exchange = exchange
            head = f"{method} {target or '/'} HTTP/1.1\r\n".encode("latin-1") + self._fixed
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            length = f"Content-Length: {len(body)}\r\n\r\n"
            assert connection.transport is not None
            connection.transport.write(head + (extra + length).encode("latin-1") + body)
            try:
                response = await exchange.done
            except BaseException:
                connection.close()  # a timed-out or broken exchange poisons the connection
                raise
            if exchange.reusable and not connection.closed:
                connection.idle_since = time.monotonic()
                self._idle.append(connection)
            else:
                connection.close()
            return response

    async def _connection(self) -> _Connection:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and now - connection.idle_since < self.keepalive_s:
                return connection
            connection.close()
        loop = asyncio.get_running_loop()
        if self.proxy is not None:
            tunnel = await self._tunnel(self.proxy)
            _, protocol = await loop.create_connection(
                _Connection,
                sock=tunnel,
                ssl=self.ssl,
                server_hostname=self.host if self.ssl is not None else None,
            )
            return protocol
        _, protocol = await loop.create_connection(_Connection, self.host, self.port, ssl=self.ssl)
        return protocol

    async def _tunnel(self, proxy: Proxy) -> socket.socket:
        """A socket through ``proxy`` to the backend (CONNECT), ready for TLS or plain HTTP."""
        loop = asyncio.get_running_loop()
        family, kind, proto, _, address = (
            await loop.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
            await loop.sock_sendall(sock, proxy.connect_request(self.host, self.port))
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = await loop.sock_recv(sock, 4096)
                if not chunk:
                    raise ProxyRefused("the proxy closed the connection during CONNECT")
                answer += chunk
                if len(answer) > MAX_PROXY_ANSWER:
                    raise ProxyRefused("the proxy's answer to CONNECT has no end")
            status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or parts[1] != "200":
                raise ProxyRefused(
                    f"proxy {proxy.host}:{proxy.port} refused CONNECT {self.host}:{self.port}: "
                    f"{status_line[:200]}"
                )
            if not answer.endswith(b"\r\n\r\n"):
                raise ProxyRefused("the proxy sent bytes past its answer to CONNECT")
        except BaseException:
            sock.close()
            raise
        return sock

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


def split_target(url: str) -> str:
    """The request target (path and query) of a URL."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def client_failure(exc: BaseException, backend: str) -> GatewayError | None:
    """The error of a failure every user of this client reads the same way (one already
    translated, no answer in time, an answer past its cap); None for the others."""
    if isinstance(exc, GatewayError):
        return exc
    # TimeoutError is an OSError: it must be told apart first.
    if isinstance(exc, TimeoutError):
        return LegacyTimeout(f"no answer from backend {backend} within the timeout")
    if isinstance(exc, ResponseTooLarge):
        return LegacyBadResponse(f"{exc} (max_response_bytes)")
    return None
