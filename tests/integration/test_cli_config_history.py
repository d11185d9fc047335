"""`legacy-gateway call` records a configuration when it changed, not on every call."""

from __future__ import annotations

from pathlib import Path

from estate.server import EstateServer
from gateway.audit.open_store import open_store
from tests.integration.support import ANNA, demo_copy, json_out, run


def test_repeated_cli_calls_record_the_config_once_and_a_changed_config_again(
    estate: EstateServer, tmp_path: Path
) -> None:
    config = demo_copy(tmp_path)
    audit_db = tmp_path / "audit.sqlite"
    env = {"CUSTOMER_MASTER_URL": estate.customer_master_url}
    arguments = f'{{"customer_number":"{ANNA}"}}'

    def call() -> None:
        json_out(run("call", str(config), "get_customer", "--args", arguments,
                     "--audit-db", str(audit_db), env=env))  # fmt: skip

    call()
    call()
    customers = config / "customers.yaml"
    customers.write_text(customers.read_text().replace("Look up", "Find", 1))
    call()

    store = open_store(audit_db)
    loaded = [r.body for r in store.records_of_kind("config.loaded")]
    store.close()
    assert len(loaded) == 2, [body["config_version"] for body in loaded]
    first, second = loaded
    assert first["previous_version"] is None
    assert second["previous_version"] == first["config_version"]
    assert second["config_version"] != first["config_version"]
