"""What every client test runs against: the demo config served by ``legacy-gateway serve``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from estate.orders import OrderService
from tests.integration.support import (
    DEMO_CONFIG,
    create_key,
    gateway_client,
    served_demo_under_keys,
)


def _module_name(request: pytest.FixtureRequest) -> str:
    return str(request.module.__name__.rpartition(".")[2].removeprefix("test_"))


@pytest.fixture(scope="module")
def module_audit_db(
    estate_env: dict[str, str],
    order_service: OrderService,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Path:
    """One call record for the test module, with the estate and the order host running."""
    return tmp_path_factory.mktemp(_module_name(request)) / "audit.sqlite"


@pytest.fixture(scope="module")
def demo(module_audit_db: Path) -> Iterator[TestClient]:
    """The gateway on the demo config in process."""
    with gateway_client(DEMO_CONFIG, module_audit_db) as client:
        yield client


@pytest.fixture(scope="module")
def served(module_audit_db: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """The base URL of a gateway serving the demo under API keys, and a key for every tool
    (the agent named after the test module: its records say which client called)."""
    key = create_key(module_audit_db, f"{_module_name(request)}-agent", "*")
    with served_demo_under_keys(module_audit_db) as base:
        yield base, key
