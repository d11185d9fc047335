from __future__ import annotations

from pathlib import Path

import pytest

from gateway.pipeline.protection import Generation
from gateway.tools import Registry
from tests.unit.pipeline.fakes import MemoryStore, registry


@pytest.fixture
def built(tmp_path: Path) -> Registry:
    return registry(tmp_path)


@pytest.fixture
def generation(built: Registry) -> Generation:
    return Generation.of(built)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()
