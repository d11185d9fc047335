"""The operator's log of a serving gateway stays quiet while agents talk MCP: the SDK's
stateless transport would log a line at INFO after every message to /mcp."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from gateway.serving import quiet_protocol_libraries
from tests.integration.support import DEMO_CONFIG, gateway_client


def test_mcp_messages_leave_no_line_in_the_operators_log(
    estate_env: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = shutil.copytree(DEMO_CONFIG, tmp_path / "config")
    quiet_protocol_libraries()  # as serve and demo do at start
    with (
        gateway_client(config, tmp_path / "audit.sqlite") as client,
        caplog.at_level(logging.INFO),
    ):
        for method in ("tools/list", "tools/list", "ping"):
            answer = client.post(
                "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": {}},
                headers={"accept": "application/json, text/event-stream",
                         "mcp-protocol-version": "2025-06-18"},
            )  # fmt: skip
            assert answer.status_code == 200, answer.text
    chatter = [r.getMessage() for r in caplog.records if r.name.startswith("mcp.")]
    assert chatter == []
