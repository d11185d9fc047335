"""An MCP session with the official Python SDK against a served gateway, under one API key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

T = TypeVar("T")


def with_session(base: str, key: str, work: Callable[[ClientSession], Awaitable[T]]) -> T:
    """Runs ``work`` in an initialised session on ``base``/mcp and returns what it returns."""

    async def run() -> T:
        headers = {"authorization": f"Bearer {key}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            streamable_http_client(f"{base}/mcp", http_client=http) as streams,
            ClientSession(streams[0], streams[1]) as session,
        ):
            await session.initialize()
            return await work(session)

    return asyncio.run(run())
