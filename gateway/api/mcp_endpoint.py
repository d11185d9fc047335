"""``/mcp``: the API key is checked on every request, then the MCP SDK answers it
(``gateway.api.mcp``).

The SDK is imported when the first authenticated request comes, not at start-up. With its
client side, which its package imports too, it was about a third of what ``serve`` imports:
0.5 s of every start and 23 MB of every worker's memory, which a gateway whose agents use
REST alone never needs. The import runs in a thread, so the event loop goes on serving
meanwhile; requests to ``/mcp`` that arrive during it wait for it. Whether the SDK is
installed is checked at start-up, so a broken install still stops the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import orjson
from starlette.types import Receive, Scope, Send

from gateway.api.responses import challenge
from gateway.errors import DependencyMissing, GatewayError
from gateway.listing import MAX_PAGE
from gateway.memory import freeze_long_lived
from gateway.runtime import Gateway

if TYPE_CHECKING:
    from gateway.api.mcp import McpServer

MCP_PAGE = 100
PAGE_SIZE_ENV = "LEGACY_GATEWAY_MCP_PAGE_SIZE"
SDK = "mcp"

log = logging.getLogger("legacy_gateway")


def page_size() -> int:
    """Tools per ``tools/list`` page; read each time, like the other limits."""
    raw = os.environ.get(PAGE_SIZE_ENV, "").strip()
    if not raw:
        return MCP_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise ValueError(f"{PAGE_SIZE_ENV} must be a number from 1 to {MAX_PAGE}, not {raw!r}")
    return int(raw)


async def _refuse(send: Send, exc: GatewayError) -> None:
    body = orjson.dumps({"error": exc.to_dict()})
    extra = [(k.encode(), v.encode()) for k, v in challenge(exc).items()]
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [(b"content-type", b"application/json"), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _server_class() -> type[McpServer]:
    from gateway.api.mcp import McpServer

    return McpServer


class McpEndpoint:
    """``/mcp``: authenticates each request, then hands it to the SDK's session manager,
    started by the first request that gets that far."""

    def __init__(self, gateway_of: Callable[[], Gateway]) -> None:
        self._gateway_of = gateway_of
        page_size()  # a bad page size stops the start, not each listing
        if importlib.util.find_spec(SDK) is None:
            raise RuntimeError(f"the MCP SDK ({SDK!r}) is not installed: reinstall legacy-gateway")
        self._loading: asyncio.Future[McpServer] | None = None
        self._stop = asyncio.Event()
        self._running: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        """Whether the SDK's session manager runs (a request has needed it)."""
        return self._loading is not None and self._loading.done() and not self._failed()

    def _failed(self) -> bool:
        assert self._loading is not None
        return self._loading.cancelled() or self._loading.exception() is not None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """For the app's lifetime: stops the SDK's session manager, if one was started."""
        self._loading, self._running, self._stop = None, None, asyncio.Event()
        try:
            yield
        finally:
            self._stop.set()
            if self._loading is not None and not self._loading.done():
                self._loading.cancel()
            if self._running is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._running

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        try:
            # The raw bytes: the authenticator refuses what is not ASCII with a 401.
            self._gateway_of().auth.principal(headers.get(b"authorization"))
        except GatewayError as exc:
            await _refuse(send, exc)
            return
        try:
            server = await self._server()
        except Exception as exc:
            log.exception("the MCP SDK cannot be loaded")
            await _refuse(send, DependencyMissing(f"the MCP SDK cannot be loaded: {exc}"))
            return
        await server.handle_request(scope, receive, send)

    async def _server(self) -> McpServer:
        if self._loading is None or (self._loading.done() and self._failed()):
            # One load for every request that waits for it; one that failed is tried again.
            self._loading = asyncio.ensure_future(self._start())
        # A waiting request whose client goes away does not cancel the others' load.
        return await asyncio.shield(self._loading)

    async def _start(self) -> McpServer:
        server = (await asyncio.to_thread(_server_class))(self._gateway_of)
        started = asyncio.Event()

        async def run() -> None:
            async with server.running():
                started.set()
                await self._stop.wait()

        self._running = asyncio.create_task(run())
        waiting = asyncio.ensure_future(started.wait())
        await asyncio.wait({waiting, self._running}, return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            waiting.cancel()
            self._running.result()  # the manager's own error
            raise RuntimeError("the MCP session manager stopped as it started")
        # What the import made lives as long as the process: out of full collections, as
        # what was loaded at start-up is.
        freeze_long_lived()
        return server
