"""The ``legacy-gateway`` command, run as a real process from the project directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from estate.server import EstateServer
from tests.integration.support import (
    ANNA,
    CM_NS,
    DEMO_TOOLS,
    ROOT,
    SOAP11_NS,
    EstateWatch,
    json_out,
    run,
)


def test_validate_accepts_the_demo_config() -> None:
    result = run("validate", "mappings/demo")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok:")
    assert "5 backend(s), 15 tool(s)" in result.stdout


def test_validate_names_the_file_line_and_key_of_each_problem(tmp_path: Path) -> None:
    wsdl = ROOT / "mappings" / "demo" / "wsdl" / "customer_master.wsdl"
    (tmp_path / "broken.yaml").write_text(
        "backends:\n"  # 1
        "  crm:\n"  # 2
        "    adapter: soap\n"  # 3
        f"    wsdl: {wsdl}\n"  # 4
        "    endpoint: http://127.0.0.1:9/customer-master\n"  # 5
        "tools:\n"  # 6
        "  get_customer:\n"  # 7
        "    description: Look up one customer.\n"  # 8
        "    backend: crm\n"  # 9
        "    operaton: GetCustomer\n"  # 10: typo
        "    input:\n"
        "      customer_number: {to: CUSTNO}\n",
        encoding="utf-8",
    )

    result = run("validate", str(tmp_path))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "broken.yaml:10: tools.get_customer.operaton" in result.stderr
    assert "did you mean 'operation'" in result.stderr
    assert "broken.yaml:7: tools.get_customer.operation" in result.stderr  # missing key


def test_tools_prints_openai_function_definitions() -> None:
    functions = json_out(run("tools", "mappings/demo", "--format", "openai"))

    assert isinstance(functions, list)
    # In name order, as GET /v1/tools lists them.
    assert [f["function"]["name"] for f in functions] == sorted(DEMO_TOOLS)
    assert all(f["type"] == "function" for f in functions)
    assert all(f["function"]["parameters"]["type"] == "object" for f in functions)


def test_a_cli_call_is_recorded_and_can_be_shown(estate: EstateServer, tmp_path: Path) -> None:
    audit_db = tmp_path / "cli-audit.sqlite"
    env = {"CUSTOMER_MASTER_URL": estate.customer_master_url}
    watch = EstateWatch(estate)

    answer = json_out(
        run(
            "call",
            "mappings/demo",
            "get_customer",
            "--args",
            f'{{"customer_number":"{ANNA}"}}',
            "--audit-db",
            str(audit_db),
            env=env,
        )
    )

    assert answer["status"] == "ok"
    assert answer["result"]["name"] == "MULLER, ANNA"
    assert answer["result"]["balance_eur"] == 1234.56
    received = watch.sole()

    record = json_out(run("calls", "show", answer["call_id"], "--audit-db", str(audit_db)))

    assert record["call_id"] == answer["call_id"]
    assert record["status"] == "ok"
    assert record["principal"] == "cli"
    assert record["result"] == answer["result"]
    (interaction,) = record["interactions"]
    envelope = interaction["request"]["envelope"]
    assert envelope == received.body.decode("utf-8")
    custno = etree.fromstring(envelope.encode()).find(
        f"{{{SOAP11_NS}}}Body/{{{CM_NS}}}GetCustomer/{{{CM_NS}}}CUSTNO"
    )
    assert custno is not None
    assert custno.text == ANNA
    assert [r["kind"] for r in record["records"]] == ["call.intent", "interaction", "call.outcome"]


def test_a_failed_cli_call_exits_non_zero_with_the_error(
    estate: EstateServer, tmp_path: Path
) -> None:
    result = run(
        "call",
        "mappings/demo",
        "get_customer",
        "--args",
        '{"customer_number":"12345678"}',
        "--audit-db",
        str(tmp_path / "audit.sqlite"),
        env={"CUSTOMER_MASTER_URL": estate.customer_master_url},
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert "call_id: " in result.stderr
    assert "error [legacy_fault]" in result.stderr
    assert "CM404" in result.stderr


def test_calls_show_without_a_store_fails_cleanly(tmp_path: Path) -> None:
    result = run("calls", "show", "nope", "--audit-db", str(tmp_path / "missing.sqlite"))

    assert result.returncode != 0
    assert "no audit store" in result.stderr
    assert not (tmp_path / "missing.sqlite").exists()


def test_config_schema_prints_a_json_schema() -> None:
    schema = json_out(run("config", "schema"))

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert {"backends", "tools"} <= set(schema["properties"])


def test_audit_checkpoint_verify_export_and_verify_the_bundle_elsewhere(
    estate: EstateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEGACY_GATEWAY_TRUSTED_KEYS", str(tmp_path / "trusted-keys"))
    audit_db = tmp_path / "log" / "audit.sqlite"
    env = {"CUSTOMER_MASTER_URL": estate.customer_master_url}
    arguments = f'{{"customer_number":"{ANNA}"}}'
    for _ in range(3):
        call = run("call", "mappings/demo", "get_customer", "--args", arguments,
                   "--audit-db", str(audit_db), env=env)  # fmt: skip
        json_out(call)

    note = run("audit", "checkpoint", "--audit-db", str(audit_db))
    assert note.returncode == 0, note.stderr
    origin, size = note.stdout.splitlines()[:2]
    assert origin == "legacy-gateway/audit"
    assert size == "10"  # the config, loaded once, and three calls of three records each
    assert (tmp_path / "log" / "audit-signing.key.pub").exists()

    verified = run("audit", "verify", "--audit-db", str(audit_db))
    assert verified.returncode == 0, verified.stderr
    assert "10 record(s), 1 signed checkpoint(s), every root matches" in verified.stdout
    assert "records 0\u20139 of a log of 10 signed by legacy-gateway/audit+" in verified.stdout

    bundle = tmp_path / "bundle"
    exported = run("audit", "export", "--out", str(bundle), "--from", "1", "--audit-db",
                   str(audit_db))  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert "exported records 1 to 9" in exported.stdout
    public = tmp_path / "log" / "audit-signing.key.pub"
    assert f"audit verify {bundle} --key {public}" in exported.stdout
    audit_db.unlink()  # the bundle needs no database
    kept = tmp_path / "kept.note"
    kept.write_text(note.stdout)
    offline = run("audit", "verify", str(bundle), "--checkpoint", str(kept), "--key", str(public))
    assert offline.returncode == 0, offline.stderr
    assert "9 record(s)" in offline.stdout
    assert "records 1\u20139 of a log of 10" in offline.stdout
    # Without a trust anchor the bundle is only consistent in itself, and says so.
    unanchored = run("audit", "verify", str(bundle))
    assert unanchored.returncode == 3, unanchored.stderr
    assert unanchored.stdout.startswith("UNTRUSTED: ")
    assert "only its internal consistency was checked" in unanchored.stdout

    records = bundle / "records.jsonl"
    records.write_bytes(records.read_bytes().replace(b"MULLER", b"MILLER", 1))
    tampered = run("audit", "verify", str(bundle), "--key", str(public))
    assert tampered.returncode == 1
    assert tampered.stderr.startswith("FAILED at record ")
    assert "does not match the leaf hash the bundle lists" in tampered.stderr


def test_tools_prints_mcp_tool_definitions_with_hints() -> None:
    tools = {t["name"]: t for t in json_out(run("tools", "mappings/demo", "--format", "mcp"))}
    assert tools["get_customer"]["annotations"]["readOnlyHint"] is True
    assert tools["record_posting"]["annotations"]["destructiveHint"] is True
    assert tools["get_customer"]["inputSchema"]["type"] == "object"
    assert "$schema" not in tools["get_customer"]["inputSchema"]


def test_a_cli_call_opens_only_its_tools_backend(estate: EstateServer, tmp_path: Path) -> None:
    """A one-shot call neither waits for nor warns about the config's other backends: here
    the demo's order host's broker is nowhere to be found."""
    env = {
        "CUSTOMER_MASTER_URL": estate.customer_master_url,
        "ORDERS_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F",
    }
    result = run(
        "call", "mappings/demo", "get_customer", "--args", f'{{"customer_number":"{ANNA}"}}',
        "--audit-db", str(tmp_path / "cli-audit.sqlite"), env=env,
    )  # fmt: skip

    assert json_out(result)["result"]["name"] == "MULLER, ANNA"
    assert "order_processing" not in result.stderr
    assert "broker" not in result.stderr
