"""A config directory as the gateway serves it: loaded and built once, watched, reloaded.

``ConfigDirectory.load`` reads the directory and builds its registry (backends' metadata
fetched, tools prepared): everything that can be wrong with a config fails there, once, and
what it built is what the gateway serves. Later changes of the files are noticed by polling
their times and sizes (``watch``); a valid change is built and handed to whoever serves it,
an invalid one is refused and the running config kept. Both are on the record:
``config.loaded`` for each configuration served, ``config.refused`` for each one refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.audit.records import RecordContext
from gateway.config.adapters import AdapterLookup
from gateway.config.loader import LoadedConfig, config_files, load_config
from gateway.errors import ConfigError

if TYPE_CHECKING:
    from gateway.audit.store import AuditStore
    from gateway.mapping.redaction import Commitments
    from gateway.tools import Registry

log = logging.getLogger("legacy_gateway")

FilesState = tuple[tuple[str, float, int], ...]
# Starts serving a newly built registry (opens its adapters, swaps it in); raises if it can't.
Serve = Callable[["Registry"], Awaitable[None]]


def files_state(directory: Path) -> FilesState:
    """The config files with their times and sizes: cheap to compare every few seconds."""
    try:
        return tuple(
            (str(path), path.stat().st_mtime, path.stat().st_size)
            for path in config_files(directory)
        )
    except OSError:
        return ()


def _build(config: LoadedConfig, commitments: Commitments) -> Registry:
    from gateway.tools import build_registry  # the registry imports every adapter

    return build_registry(config, commitments)


class ConfigDirectory:
    """The directory and the registry built from it that is being served."""

    def __init__(self, directory: Path, registry: Registry) -> None:
        self.directory = directory
        self.registry = registry

    @classmethod
    def load(
        cls, directory: Path | str, adapters: AdapterLookup, commitments: Commitments
    ) -> ConfigDirectory:
        """Load ``directory`` with these adapters and build it with the installation's
        commitments; raise ``ConfigError`` with every issue found."""
        config = load_config(directory, adapters)
        return cls(config.directory, _build(config, commitments))

    @classmethod
    def of(cls, registry: Registry) -> ConfigDirectory:
        """The directory a registry was built from, serving that registry."""
        return cls(registry.config.directory, registry)

    @property
    def config(self) -> LoadedConfig:
        return self.registry.config

    def record_start(self, store: AuditStore) -> None:
        """One ``config.loaded`` record per configuration change, not per start (every CLI
        call starts a gateway)."""
        recorded = store.records_of_kind("config.loaded")
        previous = str(recorded[-1].body.get("config_version")) if recorded else None
        if previous != self.config.version:
            self._record_loaded(store, self.config, previous)

    async def reload(self, store: AuditStore, serve: Serve) -> str | None:
        """Load the directory again and serve it if it is valid and changed.

        Returns the new version, or None when nothing changed. An invalid config never
        replaces the running one: the refusal is recorded and the ``ConfigError`` raised.
        """
        running = self.config
        try:
            config = await asyncio.to_thread(load_config, self.directory, running.adapters)
            if config.version == running.version:
                return None
            registry = await asyncio.to_thread(_build, config, self.registry.commitments)
        except ConfigError as exc:
            store.append(
                "config.refused",
                None,
                {
                    "directory": str(self.directory),
                    "running_version": running.version,
                    "issues": [issue.__dict__ for issue in exc.issues],
                },
                RecordContext(config_version=running.version),
            )
            raise
        await serve(registry)
        self.registry = registry
        self._record_loaded(store, config, running.version)
        log.warning("config reloaded: %s (was %s)", config.version[:19], running.version[:19])
        return config.version

    async def watch(self, store: AuditStore, serve: Serve, interval_s: float) -> None:
        """Reload whenever the files change, checked every ``interval_s``; a refused state
        is tried again only when the files change again."""
        seen = files_state(self.directory)
        refused: FilesState | None = None
        while True:
            await asyncio.sleep(interval_s)
            state = files_state(self.directory)
            if state in (seen, refused):
                continue
            try:
                await self.reload(store, serve)
                seen, refused = state, None
            except ConfigError as exc:
                refused = state  # recorded once; tried again when the files change again
                log.error("config change refused, still serving %s: %s",
                          self.config.version[:19], exc.message)  # fmt: skip
            except Exception:
                log.exception("config reload failed; still serving the running config")
                refused = state

    def _record_loaded(self, store: AuditStore, config: LoadedConfig, previous: str | None) -> None:
        store.append(
            "config.loaded",
            None,
            {
                "config_version": config.version,
                "previous_version": previous,
                "directory": str(config.directory),
                "files": config.files,
                "tools": sorted(config.tools),
                "backends": sorted(config.backends),
                "content": config.canonical,
            },
            RecordContext(config_version=config.version),
        )
