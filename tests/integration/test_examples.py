"""The examples in examples/ run against a served gateway with an API key."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.integration.support import (
    ROOT,
    create_key,
    served_demo_under_keys,
)


@pytest.fixture(scope="module")
def served(
    estate_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    audit_db = tmp_path_factory.mktemp("examples") / "audit.sqlite"
    key = create_key(audit_db, "example-agent", "get_customer,search_*,update_customer_address")
    with served_demo_under_keys(audit_db) as base:
        yield base, key


def run_example(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def example(name: str, *args: str) -> str:
    result = run_example(name, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("http_agent.py", [], ["3 tool(s) visible to this key", "- get_customer -> 200 ok",
            "MULLER, ANNA", "update_customer_address: a write; previewing only (dry run)"]),
        ("mcp_client.py", ["--call", "get_customer", '{"customer_number": "10000001"}'],
            ["tool get_customer (read)", "tool update_customer_address (write)",
             "call get_customer: ok", "MULLER, ANNA"]),
        ("openai_tools.py", [], ['"type": "function"',
            '"role": "tool", "tool_call_id": "call_1"', "1234.56"]),
    ],
    ids=["http-agent-loop", "mcp-client", "openai-function-calling-round-trip"],
)  # fmt: skip
def test_an_example_runs_against_the_gateway(
    served: tuple[str, str], name: str, args: list[str], expected: list[str]
) -> None:
    base, key = served
    out = example(name, "--base", base, "--key", key, *args)
    for line in expected:
        assert line in out
    assert (ROOT / "examples").is_dir()


def failing_example(name: str, *args: str) -> str:
    result = run_example(name, *args)
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


EXAMPLES = ["http_agent.py", "mcp_client.py", "openai_tools.py"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_an_example_without_a_key_says_the_gateway_refused_it(
    served: tuple[str, str], name: str
) -> None:
    base, _key = served
    stderr = failing_example(name, "--base", base)
    assert "401 unauthorized: no API key" in stderr
    assert "--key takes an API key: legacy-gateway keys create" in stderr


@pytest.mark.parametrize("name", EXAMPLES)
def test_an_example_with_no_gateway_there_says_so(name: str) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stderr = failing_example(name, "--base", f"http://127.0.0.1:{port}")
    assert f"cannot reach the gateway at http://127.0.0.1:{port}" in stderr
    assert "make demo" in stderr
