"""Live events for ``GET /v1/events``: call outcomes, approvals, feedback and alerts.

Each listener has a bounded queue; a listener too slow to keep up loses its oldest events
(and is told how many) rather than holding memory or slowing the tailer that publishes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.policy.auth import Principal

QUEUE = 1000
COALESCE = 100  # events a listener is sent in one write at most


@dataclass
class Event:
    kind: str  # call, approval, feedback, alert
    data: dict[str, Any]
    principal: str | None = None  # whose call it is; None: for auditors only (alerts...)


@dataclass(eq=False)  # compared and hashed by identity, for the hub's set
class Listener:
    caller: Principal
    queue: asyncio.Queue[Event | None] = field(default_factory=lambda: asyncio.Queue(QUEUE))
    dropped: int = 0

    def sees(self, event: Event) -> bool:
        if self.caller.has("audit"):
            return True
        return self.caller.owns(event.principal)

    def offer(self, event: Event) -> None:
        if not self.sees(event):
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)


class EventHub:
    def __init__(self) -> None:
        self.listeners: set[Listener] = set()
        self.published = 0
        self.closed = False

    def close(self) -> None:
        """End every stream (the server is stopping: an open stream would hold it up)."""
        self.closed = True
        for listener in list(self.listeners):
            while listener.queue.full():
                listener.queue.get_nowait()
            listener.queue.put_nowait(None)

    def publish(self, event: Event) -> None:
        self.published += 1
        for listener in list(self.listeners):
            listener.offer(event)

    async def stream(
        self, caller: Principal, heartbeat_s: float = 15.0, hello: dict[str, Any] | None = None
    ) -> AsyncIterator[bytes]:
        """Server-sent events for ``caller``: a comment line as a heartbeat, so proxies keep
        the connection, and ``dropped`` when the listener fell behind."""
        listener = Listener(caller)
        self.listeners.add(listener)
        try:
            yield _frame("hello", hello or {})
            while not self.closed:
                try:
                    event = await asyncio.wait_for(listener.queue.get(), heartbeat_s)
                except TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                # What else is waiting goes in the same write: one send per wake-up, not
                # one per event, so a console open costs the serving loop little.
                events = [event]
                while len(events) < COALESCE and not listener.queue.empty():
                    events.append(listener.queue.get_nowait())
                frames: list[bytes] = []
                for waiting in events:
                    if waiting is None:
                        if frames:
                            yield b"".join(frames)
                        return
                    if listener.dropped:
                        frames.append(_frame("dropped", {"events": listener.dropped}))
                        listener.dropped = 0
                    frames.append(_frame(waiting.kind, waiting.data))
                yield b"".join(frames)
        finally:
            self.listeners.discard(listener)


def end_streams(app: object) -> None:
    """End the event streams of a served app (its state's console), so a stopping server
    is not held up by them."""
    console = getattr(getattr(app, "state", None), "console", None)
    hub = getattr(console, "hub", None)
    if isinstance(hub, EventHub) and not hub.closed:
        hub.close()


def _frame(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data, default=str) + b"\n\n"
