"""The TypeScript MCP SDK, as agent hosts run it, calls every demo tool on a served gateway.

``tests/clients/node/client.mjs`` lists the tools over MCP and calls each with every one of
its examples; the SDK validates each structured result against the tool's output schema with
ajv and ajv-formats, and the script checks again with strict JSON Schema 2020-12 and checks
every published example. `make setup` installs its npm packages (from the lockfile).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from tests.integration.support import DEMO_CONFIG

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def summary(served: tuple[str, str]) -> dict[str, Any]:
    """What the Node client saw, once for the module: it runs about ten seconds."""
    base, key = served
    node = shutil.which("node")
    assert node is not None, "node is missing: `make setup` installs it"
    assert (NODE_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir(), (
        "the npm packages are missing: `make setup` installs them"
    )
    done = subprocess.run(
        [node, "client.mjs", base, key],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.stdout, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0, seen["failures"]
    return seen


def test_the_typescript_sdk_calls_every_demo_tool_and_accepts_every_answer(
    summary: dict[str, Any],
) -> None:
    demo_tools = set(load_config(DEMO_CONFIG, INSTALLED).tools)
    assert set(summary["calls"]) == demo_tools
    assert summary["failures"] == []
    for name, outcomes in summary["calls"].items():
        assert outcomes, name
        waiting = ("ok", "pending", "awaiting_approval")
        assert all(outcome in waiting for outcome in outcomes), (name, outcomes)
    # place_order answers at once with its call pending, book_adjustment waits for a person's
    # approval; everything else completes.
    assert summary["calls"]["place_order"] == ["pending"]
    assert summary["calls"]["book_adjustment"] == ["awaiting_approval"]
    assert summary["calls"]["get_customer"] == ["ok"]
    # Every tool publishes examples, and every one of them passed ajv with formats.
    assert set(summary["examples"]) == demo_tools
    assert all(count >= 1 for count in summary["examples"].values())


def test_an_error_reaches_the_typescript_sdk_as_an_error(summary: dict[str, Any]) -> None:
    assert summary["error_call"] == {
        "is_error": True,
        "code": "invalid_arguments",
        "structured": None,
    }
