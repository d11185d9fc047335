"""A running gateway serves a changed config directory, refuses a broken one, and says so."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.integration.amqp_support import wait_until
from tests.integration.support import (
    ANNA,
    call_tool,
    demo_copy,
    gateway_client,
    gateway_of,
    run,
)


def description(client: TestClient) -> str:
    text: str = client.get("/v1/tools/get_customer").json()["description"]
    return text


def test_a_valid_change_is_served_and_a_broken_one_refused(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    config = demo_copy(tmp_path)
    customers = config / "customers.yaml"
    audit_db = tmp_path / "audit.sqlite"
    with gateway_client(config, audit_db, watch_config_s=0.1) as client:
        first = gateway_of(client).config.version
        before = call_tool(client, "get_customer", {"customer_number": ANNA}).json()

        text = customers.read_text()
        old = "description: Look up one customer"
        assert old in text
        customers.write_text(text.replace(old, "description: Find one customer", 1))
        wait_until(lambda: description(client).startswith("Find one customer"), 10,
                   "the changed description served")  # fmt: skip
        second = gateway_of(client).config.version
        assert second != first
        after = call_tool(client, "get_customer", {"customer_number": ANNA}).json()
        assert after["result"] == before["result"]
        record = client.get(f"/v1/calls/{after['call_id']}").json()
        assert record["config_version"] == second

        broken = customers.read_text().replace("operation: GetCustomer", "operaton: GetCustomer", 1)
        customers.write_text(broken)
        store = gateway_of(client).store
        wait_until(lambda: store.records_of_kind("config.refused"), 10, "the refusal recorded")
        assert gateway_of(client).config.version == second
        assert description(client).startswith("Find one customer")
        assert call_tool(client, "get_customer", {"customer_number": ANNA}).status_code == 200
        (refusal,) = store.records_of_kind("config.refused")
        keys = {issue["key"]: issue for issue in refusal.body["issues"]}
        assert keys["tools.get_customer.operaton"]["file"].endswith("customers.yaml")
        assert "tools.get_customer.operation" in keys  # the missing one, too
        assert refusal.body["running_version"] == second

    history = run("config", "history", "--audit-db", str(audit_db))
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    assert [first in lines[0], second in lines[1]] == [True, True]
    assert "refused a change" in lines[2]
    assert "2 issue(s)" in lines[2]

    changes = run("config", "diff", first[7:19], second[7:19], "--audit-db", str(audit_db))
    assert changes.returncode == 0, changes.stderr
    assert (
        changes.stdout.splitlines()
        == [
            "~ tools.get_customer.description: Look up one customer by customer number, with "
            "balances, dates and status. -> Find one customer by customer number, with balances, "
            "dates and status."
        ]
        or "~ tools.get_customer.description" in changes.stdout
    )
