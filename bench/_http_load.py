"""A lean HTTP/1.1 load client for the throughput benchmark.

Each caller holds one keep-alive connection and sends one prepared request at a time on
asyncio's protocol layer, reading the answer by its Content-Length (or its chunks). The
request bytes are built once.

Why not httpx, with which P4 and P7 are defined: on this machine httpx's async client spends
about 1 ms of CPU a call with 10 connections and about 2 ms with 20. On a 2-core machine the
client then takes the core that a second gateway worker would use, so the client, not the
gateway, bounded the calls a second. This client spends about a tenth of that, and the same
for every target, so the ratios compare the servers.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


class LoadError(RuntimeError):
    """An answer that is not a 200, or a connection the server closed."""


@dataclass(frozen=True)
class Request:
    host: str
    port: int
    raw: bytes

    @classmethod
    def post_json(cls, url: str, body: object, headers: dict[str, str]) -> Request:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"the load client speaks plain http to a host: {url}")
        payload = json.dumps(body).encode()
        target = parts.path or "/"
        if parts.query:
            target += f"?{parts.query}"
        head = [
            f"POST {target} HTTP/1.1",
            f"host: {parts.netloc}",
            "content-type: application/json",
            f"content-length: {len(payload)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
        return cls(parts.hostname, parts.port or 80, raw)


def answer_of(buffer: bytes | bytearray) -> tuple[int, bytes] | None:
    """(status, body) once ``buffer`` holds a whole answer, else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    fields = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    rest = bytes(buffer[end + 4 :])
    if "content-length" in fields:
        length = int(fields["content-length"])
        return (status, rest[:length]) if len(rest) >= length else None
    if fields.get("transfer-encoding", "").lower() != "chunked":
        raise LoadError(f"an answer with neither Content-Length nor chunks: {head[0]}")
    body, at = bytearray(), 0
    while True:
        line_end = rest.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(rest[at:line_end].split(b";")[0], 16)
        if size == 0:
            return (status, bytes(body)) if rest.find(b"\r\n", line_end + 2) >= 0 else None
        chunk_end = line_end + 2 + size
        if len(rest) < chunk_end + 2:
            return None
        body += rest[line_end + 2 : chunk_end]
        at = chunk_end + 2


class _Caller(asyncio.Protocol):
    def __init__(
        self, request: Request, deadline: float, latencies: list[float], done: asyncio.Future[None]
    ) -> None:
        self.request = request
        self.deadline = deadline
        self.latencies = latencies
        self.done = done
        self.buffer = bytearray()
        self.started = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.buffer.clear()
        self.started = time.perf_counter()
        self.transport.write(self.request.raw)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            answer = answer_of(self.buffer)
        except (LoadError, ValueError, IndexError) as exc:
            self._finish(LoadError(f"an unreadable answer: {exc}"))
            return
        if answer is None:
            return
        status, body = answer
        if status != 200:
            self._finish(LoadError(f"HTTP {status}: {body[:300].decode(errors='replace')}"))
            return
        finished = time.perf_counter()
        self.latencies.append(finished - self.started)
        if finished < self.deadline:
            self._send()
        else:
            self._finish(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(LoadError(f"the server closed the connection: {exc or 'at its end'}"))

    def _finish(self, error: LoadError | None) -> None:
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)
        if self.transport is not None:
            self.transport.close()


async def run_callers(request: Request, callers: int, seconds: float) -> list[float]:
    """``callers`` connections each calling in turn for ``seconds``: every latency, in s."""
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    finished: list[asyncio.Future[None]] = []
    for _ in range(callers):
        done: asyncio.Future[None] = loop.create_future()
        caller = functools.partial(_Caller, request, deadline, latencies, done)
        await loop.create_connection(caller, request.host, request.port)
        finished.append(done)
    await asyncio.gather(*finished)
    return latencies
