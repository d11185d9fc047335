"""Stopping a serving process without leaving a call behind.

On SIGTERM (``docker stop``, a Kubernetes pod deletion) or a first Ctrl-C:

1. ``/readyz`` answers 503 ``draining``, so load balancers stop sending traffic here;
2. every new POST (a tool call, an MCP message, an approval) is refused with a retryable 503
   ``shutting_down`` and ``Connection: close``: the agent retries on another replica;
3. calls in flight finish, for up to the drain grace (``LEGACY_GATEWAY_DRAIN_GRACE_S``);
4. uvicorn then closes its sockets and runs the app's shutdown, which stops the queue
   consumers and signs the last checkpoint, and the process exits 0.

A call still running when the grace runs out is cancelled and recorded as
``call_interrupted``. A second signal stops at once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from types import FrameType

import orjson
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.console.events import end_streams
from gateway.errors import ShuttingDown
from gateway.memory import freeze_long_lived

log = logging.getLogger("legacy_gateway")

DEFAULT_GRACE_S = 20.0


def grace_from_environment() -> float:
    value = os.environ.get("LEGACY_GATEWAY_DRAIN_GRACE_S", str(DEFAULT_GRACE_S))
    try:
        grace = float(value)
    except ValueError:
        raise SystemExit(
            f"LEGACY_GATEWAY_DRAIN_GRACE_S must be a number of seconds, not {value!r}"
        ) from None
    if grace < 0:
        raise SystemExit(f"LEGACY_GATEWAY_DRAIN_GRACE_S must not be negative, not {value!r}")
    return grace


class Drain:
    """Whether this process is draining, and how many requests it still has in flight."""

    def __init__(self, grace_s: float = DEFAULT_GRACE_S) -> None:
        self.grace_s = grace_s
        self.draining = False
        self.in_flight = 0
        self._deadline = 0.0

    def begin(self) -> None:
        if not self.draining:
            self.draining = True
            self._deadline = time.monotonic() + self.grace_s

    def finished(self) -> bool:
        """Draining, and nothing left to wait for (or the grace is over)."""
        return self.draining and (self.in_flight == 0 or time.monotonic() >= self._deadline)


class DrainGuard:
    """ASGI middleware: refuses new work while draining and counts the work in flight."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    @property
    def state(self) -> object:
        return getattr(self.app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.drain.draining:
            if scope["path"] == "/readyz":
                await _answer(send, 503, {"status": "draining", "ready": False})
                return
            if scope["method"] == "POST":
                error = ShuttingDown(
                    "this gateway is shutting down and takes no new calls: retry, another "
                    "replica (or this one, restarted) will answer",
                    details={"retry_after_s": 1},
                )
                await _answer(
                    send,
                    error.status,
                    {"error": error.to_dict()},
                    [(b"retry-after", b"1"), (b"connection", b"close")],
                )
                return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        self.drain.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.in_flight -= 1


async def _answer(
    send: Send, status: int, payload: object, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps(payload)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with the first SIGTERM/SIGINT starting a drain instead of a stop.

    uvicorn re-raises a captured signal after its shutdown, so a stop by SIGTERM would end
    with status 143; a drained stop is a normal one and exits 0.
    """

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            # The app, its gateway and config are built: keep them out of full collections.
            freeze_long_lived()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.drain.draining:  # a second signal: stop now
            self.should_exit = True
            self.force_exit = sig == signal.SIGINT
            return
        self.drain.begin()
        # Only an assignment above: a signal handler must not take locks (logging does).
        self._announce = True

    _announce = False

    async def on_tick(self, counter: int) -> bool:
        if self._announce:
            self._announce = False
            log.warning(
                "stopping: draining %d request(s) in flight (grace %.0f s); new calls get 503",
                self.drain.in_flight,
                self.drain.grace_s,
            )
        if self.drain.draining:
            end_streams(self.config.app)  # the console's live streams never end by themselves
        if self.drain.finished() and not self.should_exit:
            if self.drain.in_flight:
                log.error(
                    "drain grace over: %d request(s) still running are interrupted",
                    self.drain.in_flight,
                )
            self.should_exit = True
        return await super().on_tick(counter)
