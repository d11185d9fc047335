"""The config directory a gateway serves: loaded once, reloaded when it changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.installed import INSTALLED
from gateway.config.directory import ConfigDirectory, files_state
from gateway.errors import ConfigError
from gateway.mapping.redaction import Commitments
from gateway.tools import Registry
from tests.unit.pipeline.fakes import CONFIG, MemoryStore, synchronously

INSTALLATION = Commitments(b"installation-salt" * 2)


def directory(tmp_path: Path) -> ConfigDirectory:
    (tmp_path / "gateway.yaml").write_text(CONFIG.format(max_concurrency=4))
    return ConfigDirectory.load(tmp_path, INSTALLED, INSTALLATION)


def test_loading_builds_the_registry_once_for_the_directory(tmp_path: Path) -> None:
    source = directory(tmp_path)
    assert source.directory == tmp_path
    assert sorted(source.registry.tools) == ["lookup", "search", "update"]
    assert source.config is source.registry.config
    # The registry's adapters and tools commit with the installation's salt.
    assert source.registry.commitments is INSTALLATION
    assert {adapter.commitments for adapter in source.registry.adapters.values()} == {INSTALLATION}
    assert {tool.commitments for tool in source.registry.tools.values()} == {INSTALLATION}


def test_a_broken_directory_fails_at_load_with_its_issues(tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text("tools:\n  x: {backend: nowhere}\n")
    with pytest.raises(ConfigError) as refused:
        ConfigDirectory.load(tmp_path, INSTALLED, INSTALLATION)
    assert refused.value.issues


def test_a_start_records_the_config_once_per_version(tmp_path: Path) -> None:
    source, store = directory(tmp_path), MemoryStore()
    source.record_start(store)
    source.record_start(store)
    [loaded] = store.records
    assert loaded.kind == "config.loaded"
    assert loaded.body["config_version"] == source.config.version
    assert loaded.body["previous_version"] is None
    assert loaded.body["tools"] == ["lookup", "search", "update"]


@synchronously
async def test_a_changed_directory_is_served_and_recorded(tmp_path: Path) -> None:
    source, store = directory(tmp_path), MemoryStore()
    served: list[Registry] = []

    async def serve(registry: Registry) -> None:
        served.append(registry)

    running = source.config.version
    assert await source.reload(store, serve) is None  # unchanged: nothing to do
    (tmp_path / "gateway.yaml").write_text(CONFIG.format(max_concurrency=9))
    version = await source.reload(store, serve)
    assert version is not None and version != running
    [registry] = served
    assert source.registry is registry
    assert registry.config.backends["host"].max_concurrency == 9
    assert registry.commitments is INSTALLATION  # a reload commits as before
    assert registry.config.adapters is INSTALLED
    [loaded] = store.records
    assert (loaded.kind, loaded.body["previous_version"]) == ("config.loaded", running)


@synchronously
async def test_an_invalid_change_is_refused_and_the_running_config_kept(tmp_path: Path) -> None:
    source, store = directory(tmp_path), MemoryStore()
    running = source.registry

    async def serve(registry: Registry) -> None:
        raise AssertionError("an invalid config must not be served")

    (tmp_path / "gateway.yaml").write_text("backends: [not, a, mapping]\n")
    with pytest.raises(ConfigError):
        await source.reload(store, serve)
    assert source.registry is running
    [refused] = store.records
    assert refused.kind == "config.refused"
    assert refused.body["running_version"] == running.config.version
    assert refused.body["issues"]


def test_the_files_state_changes_with_a_files_size_or_time(tmp_path: Path) -> None:
    source = directory(tmp_path)
    before = files_state(source.directory)
    path = tmp_path / "gateway.yaml"
    os.utime(path, (1, 1))
    assert files_state(source.directory) != before
    assert files_state(tmp_path / "missing") == ()
