"""The keep-alive HTTP/1.1 client, against scripted raw-socket servers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httptools
import pytest

from adapters.http11 import ConnectionDropped, HTTPClient, ResponseTooLarge

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    return head + await reader.readexactly(length)


class Scripted:
    """A server answering each request with the next canned reply; counts connections."""

    def __init__(self, *replies: bytes | Handler) -> None:
        self.replies = list(replies)
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.replies:
                self.requests.append(await read_request(reader))
                reply = self.replies.pop(0)
                if isinstance(reply, bytes):
                    writer.write(reply)
                    await writer.drain()
                else:
                    await reply(reader, writer)
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/svc?wsdl=no"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()


def ok(body: bytes, *extra: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), b"".join(extra), body)


async def post(
    client: HTTPClient, body: bytes = b"<x/>", max_bytes: int = 1024
) -> tuple[int, bytes]:
    response = await client.request(
        "POST", "/svc", {"Content-Type": "text/xml"}, body, timeout=2, max_bytes=max_bytes
    )
    return response.status, response.body


def test_keep_alive_reuses_one_connection_and_sends_the_exact_request() -> None:
    async def scenario() -> None:
        server = Scripted(ok(b"one"), ok(b"two", b"Content-Type: text/xml\r\n"))
        async with server as url:
            client = HTTPClient(url, max_connections=2, headers={"X-Key": "k"})
            assert await post(client, b"<a/>") == (200, b"one")
            assert await post(client) == (200, b"two")
            await client.close()
        assert server.connections == 1
        host = url.split("/")[2]
        assert (
            server.requests[0]
            == (
                f"POST /svc HTTP/1.1\r\nHost: {host}\r\nX-Key: k\r\nContent-Type: text/xml\r\n"
                "Content-Length: 4\r\n\r\n<a/>"
            ).encode()
        )

    asyncio.run(scenario())


def test_chunked_bodies_and_connection_close() -> None:
    chunked = (
        b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )

    async def scenario() -> None:
        server = Scripted(chunked, ok(b"again"))
        async with server as url:
            client = HTTPClient(url, max_connections=1)
            assert await post(client) == (500, b"abcde")
            assert await post(client) == (200, b"again")  # on a new connection
            await client.close()
        assert server.connections == 2

    asyncio.run(scenario())


def test_a_body_that_runs_until_the_server_closes() -> None:
    async def scenario() -> None:
        async with Scripted(b"HTTP/1.0 200 OK\r\n\r\nall of it") as url:
            assert await post(HTTPClient(url, max_connections=1)) == (200, b"all of it")

    asyncio.run(scenario())


def test_limits_and_broken_answers() -> None:
    async def half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        await writer.drain()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def scenario() -> None:
        async with Scripted(ok(b"x" * 2048)) as url:
            with pytest.raises(ResponseTooLarge):
                await post(HTTPClient(url, max_connections=1))
        async with Scripted(half) as url:
            with pytest.raises(ConnectionDropped):
                await post(HTTPClient(url, max_connections=1))
        async with Scripted(b"garbage\r\n\r\n") as url:
            with pytest.raises(httptools.HttpParserError, match="Expected HTTP/"):
                await post(HTTPClient(url, max_connections=1))
        async with Scripted(silent) as url:
            client = HTTPClient(url, max_connections=1)
            with pytest.raises(TimeoutError):
                await client.request("POST", "/", {}, b"", timeout=0.2, max_bytes=10)
            assert not client._idle  # a timed-out connection is never reused
        with pytest.raises(OSError):
            await post(HTTPClient("http://127.0.0.1:9/", max_connections=1))

    asyncio.run(scenario())


def test_an_idle_connection_past_keepalive_is_not_reused() -> None:
    async def scenario() -> None:
        server = Scripted(ok(b"a"), ok(b"b"))
        async with server as url:
            client = HTTPClient(url, max_connections=1, keepalive_s=0.05)
            await post(client)
            await asyncio.sleep(0.1)
            await post(client)
            await client.close()
        assert server.connections == 2

    asyncio.run(scenario())
