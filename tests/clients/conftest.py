"""What every client test runs against: the demo config served by ``legacy-gateway serve``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from estate.orders import OrderService
from tests.integration.support import DEMO_CONFIG, create_key, serve_process


@pytest.fixture(scope="module")
def served(
    estate_env: dict[str, str],
    order_service: OrderService,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[str, str]]:
    """The base URL of a gateway serving the demo under API keys, and a key for every tool
    (the agent named after the test module: its records say which client called)."""
    name = request.module.__name__.rpartition(".")[2].removeprefix("test_")
    audit_db = tmp_path_factory.mktemp(name) / "audit.sqlite"
    key = create_key(audit_db, f"{name}-agent", "*")
    env = {"LEGACY_GATEWAY_AUTH": "keys", "LEGACY_GATEWAY_AUDIT_DB": str(audit_db)}
    with serve_process(DEMO_CONFIG, env) as (base, _):
        yield base, key
