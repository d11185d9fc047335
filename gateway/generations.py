"""The configurations a gateway serves: the current one, and replaced ones finishing.

A reload opens the new registry's adapters (each new adapter takes over what its
predecessor of the same backend holds, e.g. a reply queue), swaps it in for new calls, and
closes the replaced one's adapters once its calls in flight have finished.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from typing import Any

from adapters.base import Adapter
from gateway.completions import Completions
from gateway.pipeline.protection import Generation
from gateway.tools import Registry

log = logging.getLogger("legacy_gateway")


class Generations:
    def __init__(self, registry: Registry, completions: Completions) -> None:
        self.current = Generation.of(registry)
        self._completions = completions
        self._retiring: set[asyncio.Task[None]] = set()

    async def open(self, registry: Registry, backends: Collection[str] | None = None) -> None:
        """Open a registry's adapters (only ``backends``, when given); all or none."""
        opened: list[Adapter[Any]] = []
        try:
            for backend, adapter in registry.adapters.items():
                if backends is not None and backend not in backends:
                    continue
                # Replies and late answers end their calls through the completions.
                adapter.record_late = self._completions.record_late
                adapter.complete = self._completions.complete
                await adapter.open()
                opened.append(adapter)
        except BaseException:
            for adapter in opened:
                await adapter.close()
            raise

    async def serve(self, registry: Registry) -> None:
        """Serve ``registry`` from now on; the replaced one retires in the background."""
        running = self.current.registry.adapters
        for backend, adapter in registry.adapters.items():
            previous = running.get(backend)
            if previous is not None:
                adapter.replaces(previous)
        await self.open(registry)
        retired, self.current = self.current, Generation.of(registry)
        task = asyncio.create_task(_retire(retired))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def close(self) -> None:
        """Stop retiring replaced generations and close the current one's adapters."""
        for task in list(self._retiring):
            task.cancel()
        for adapter in self.current.registry.adapters.values():
            await adapter.close()


async def _retire(generation: Generation, grace_s: float = 300.0) -> None:
    """Close a replaced config's adapters once its calls in flight have finished."""
    deadline = time.monotonic() + grace_s
    while generation.active and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for adapter in generation.registry.adapters.values():
        try:
            await adapter.close()
        except Exception:
            log.exception("closing an adapter of the replaced config failed")
