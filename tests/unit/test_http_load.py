"""The throughput benchmark's lean load client (bench/_http_load.py): it reads answers whole,
however the bytes arrive, and stops on an answer that is not a 200."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.bench_modules import bench_module

http_load = bench_module("http_load_bench", "_http_load.py")


def _framed(status: int, body: bytes, chunks: list[int] | None) -> bytes:
    head = f"HTTP/1.1 {status} Whatever\r\nServer: test\r\n"
    if chunks is None:
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    framed, at = bytearray(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode()), 0
    for size in [*chunks, len(body)]:
        piece = body[at : at + size]
        at += len(piece)
        if piece:
            framed += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return bytes(framed + b"0\r\n\r\n")


@given(
    st.sampled_from([200, 404, 503]),
    st.binary(max_size=300),
    st.none() | st.lists(st.integers(1, 40), max_size=5),
    st.data(),
)
def test_an_answer_is_whole_only_once_its_last_byte_came(
    status: int, body: bytes, chunks: list[int] | None, data: st.DataObject
) -> None:
    framed = _framed(status, body, chunks)
    cut = data.draw(st.integers(0, len(framed) - 1), label="bytes arrived so far")
    assert http_load.answer_of(framed[:cut]) is None
    assert http_load.answer_of(framed) == (status, body)


def test_an_answer_without_a_length_is_refused() -> None:
    with pytest.raises(http_load.LoadError, match="neither Content-Length nor chunks"):
        http_load.answer_of(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nbody")


def test_the_request_is_built_once_with_its_length_and_headers() -> None:
    request = http_load.Request.post_json(
        "http://127.0.0.1:8123/v1/tools/t/call?x=1", {"a": 1}, {"authorization": "Bearer k"}
    )
    assert (request.host, request.port) == ("127.0.0.1", 8123)
    assert request.raw == (
        b"POST /v1/tools/t/call?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8123\r\n"
        b"content-type: application/json\r\ncontent-length: 8\r\n"
        b"authorization: Bearer k\r\n\r\n" + b'{"a": 1}'
    )


async def _serve(statuses: list[int]) -> tuple[asyncio.Server, list[bytes]]:
    """A server answering each request (read by its Content-Length) with the next status."""
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            seen.append(head + await reader.readexactly(length))
            status = statuses.pop(0) if statuses else 200
            writer.write(_framed(status, b'{"ok": true}', [5] if len(seen) % 2 else None))
            await writer.drain()

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await answer(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(guarded, "127.0.0.1", 0), seen


def test_callers_call_until_the_deadline_and_stop_on_an_error() -> None:
    async def run() -> None:
        server, seen = await _serve([])
        port = server.sockets[0].getsockname()[1]
        request = http_load.Request.post_json(f"http://127.0.0.1:{port}/call", {"n": 1}, {})
        async with server:
            latencies = await http_load.run_callers(request, 3, 0.3)
            assert len(latencies) == len(seen) > 3
            assert all(raw == request.raw for raw in seen)
        failing, _ = await _serve([200, 503])
        port = failing.sockets[0].getsockname()[1]
        request = http_load.Request.post_json(f"http://127.0.0.1:{port}/call", {"n": 1}, {})
        async with failing:
            with pytest.raises(http_load.LoadError, match=r"HTTP 503: \{\"ok\": true\}"):
                await http_load.run_callers(request, 1, 5.0)

    asyncio.run(run())
