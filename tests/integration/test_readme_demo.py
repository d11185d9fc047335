"""The README's console commands, run as written against ``legacy-gateway demo``: an agent
asks for a write that needs approval, the operator whose key the demo prints approves it,
and the console's JSON and the metrics answer (the latter with no key, in open mode)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.support import ROOT, free_port

COMMAND = Path(sys.executable).parent / "legacy-gateway"
MARKER = "<!-- These commands are run against `legacy-gateway demo` by tests/integration/test_readme_demo.py. -->"  # noqa: E501
TOUR = "<!-- These two blocks are run against `legacy-gateway demo` by tests/integration/test_readme_demo.py. -->"  # noqa: E501


def readme_commands(marker: str = MARKER, blocks: int = 1) -> list[str]:
    """The blocks after the marker, one command per entry (continuation lines joined)."""
    text = (ROOT / "README.md").read_text()
    assert marker in text
    rest = text.split(marker, 1)[1]
    commands: list[str] = []
    for _ in range(blocks):
        block, rest = rest.split("```sh\n", 1)[1].split("```", 1)
        for line in block.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith(("curl ", "OPERATOR=", ".venv/bin/")):
                commands.append(line)
            else:
                commands[-1] += "\n" + line
    return commands


@dataclass
class Demo:
    base: str
    operator: str
    ledger: Path
    audit: Path
    output: list[str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    state = tmp_path_factory.mktemp("readme-demo")
    port, estate_port = free_port(), free_port()
    suffix = uuid.uuid4().hex[:8]
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith(("_URL", "LEDGER_DB"))},
        "LEGACY_GATEWAY_AUDIT_DB": str(state / "audit.sqlite"),
        "ORDERS_EXCHANGE": f"lgw-readme-test-{suffix}",
        "ORDERS_REPLY_QUEUE": f"lgw-readme-test-{suffix}-replies",
    }
    process = subprocess.Popen(
        [str(COMMAND), "demo", "--port", str(port), "--estate-port", str(estate_port),
         "--audit-db", str(state / "audit.sqlite")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)

    threading.Thread(target=read, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not (_answers(f"{base}/healthz") and any("operator's key" in o for o in output)):
            assert process.poll() is None, "".join(output)
            assert time.monotonic() < deadline, "the demo did not start within 60 s"
            time.sleep(0.2)
        (key,) = re.findall(r"operator's key:\s+(lgw_\S+)", "".join(output))
        assert f"operator console:     {base}/console" in "".join(output)
        yield Demo(base, key, state / "ledger.sqlite", state / "audit.sqlite", output)
    finally:
        process.terminate()
        process.wait(30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def run(command: str, demo: Demo, approval_id: str | None, call_id: str | None = None) -> str:
    command = command.replace("http://127.0.0.1:8080", demo.base)
    command = command.replace(".venv/bin/legacy-gateway", str(COMMAND))
    if approval_id is not None:
        command = command.replace("<result.approval_id of the 202>", approval_id)
    if call_id is not None:
        command = command.replace("<call_id>", call_id)
    assert "<" not in command.split("-d", 1)[0], f"a placeholder is left: {command}"
    env = {**os.environ, "OPERATOR": demo.operator, "LEGACY_GATEWAY_AUDIT_DB": str(demo.audit)}
    result = subprocess.run(
        ["bash", "-c", command], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_readme_console_commands_work_against_the_demo(demo: Demo) -> None:
    setting, ask, waiting, approve, stats, overview, metrics = readme_commands()
    assert setting.startswith("OPERATOR=lgw_")

    asked = json.loads(run(ask, demo, None))
    assert asked["status"] == "awaiting_approval"
    assert "INSERT INTO POSTINGS" in json.dumps(asked["result"]["preview"])
    listed = json.loads(run(waiting, demo, None))["approvals"]
    assert [a["call_id"] for a in listed] == [asked["call_id"]]

    approved = json.loads(run(approve, demo, asked["result"]["approval_id"]))
    assert approved["status"] == "ok"
    assert approved["result"] == {"booked": 1}
    with sqlite3.connect(demo.ledger) as db:
        (row,) = db.execute("SELECT ACCT_NO, AMT_CENTS, DC_FLG, trim(BOOK_TXT) FROM POSTINGS "
                            "WHERE trim(REF_NO) = 'ADJ0001'").fetchall()  # fmt: skip
    assert row == ("DE00000007", 2500, "C", "GOODWILL CREDIT")

    def seen() -> dict[str, object] | None:
        body: dict[str, object] = json.loads(run(stats, demo, None))
        tools = body.get("tool")
        return body if isinstance(tools, dict) and "book_adjustment" in tools else None

    deadline = time.monotonic() + 15
    while (body := seen()) is None:
        assert time.monotonic() < deadline, "the console never counted the approved call"
        time.sleep(0.2)
    assert {"agent": "anonymous", "tool": "book_adjustment", "backend": "ledger", "calls": 1,
            "errors": 0, "error_share": 0} in body["flows"]  # type: ignore[operator]  # fmt: skip

    panel = json.loads(run(overview, demo, None))
    assert panel["checkpoint"]["size"] > 0
    assert panel["config"][0]["kind"] == "loaded"

    exposition = run(metrics, demo, None)
    assert 'legacy_gateway_calls_total{outcome="ok",tool="book_adjustment"} 1.0' in exposition


def test_the_readme_tour_shows_what_it_says(demo: Demo) -> None:
    listing, openai, call, record, shown = readme_commands(TOUR, blocks=2)

    names = [tool["name"] for tool in json.loads(run(listing, demo, None))["tools"]]
    assert names == sorted(names)
    assert "get_customer" in names
    functions = json.loads(run(openai, demo, None))
    assert [f["function"]["name"] for f in functions] == names

    answer = json.loads(run(call, demo, None))
    assert set(answer) >= {"call_id", "trace_id", "status", "result", "receipt"}
    assert answer["status"] == "ok"
    result = answer["result"]
    said = {"balance_eur": 1234.56, "opened_on": "1987-03-15", "status": "active",
            "height_cm": 168.9}  # fmt: skip
    assert {key: result[key] for key in said} == said
    call_id = answer["call_id"]
    assert answer["receipt"]["proof"] == f"/v1/audit/proof/{call_id}"
    assert set(answer["receipt"]) == {"record", "at", "proof"}

    read = json.loads(run(record, demo, None, call_id))
    (interaction,) = read["interactions"]
    assert "<ns0:CUSTNO>10000001</ns0:CUSTNO>" in interaction["request"]["envelope"]
    assert read["context"]["reasoning"] == "check the balance"
    assert json.loads(run(shown, demo, None, call_id)) == read


def test_an_unknown_order_is_not_found_with_nothing_else_filled_in(demo: Demo) -> None:
    # The README's order_status example names a known order; an unknown one is answered
    # "not_found", and the reply's zeroed fields are nulls, the amount included.
    answer = httpx.post(f"{demo.base}/v1/tools/order_status/call",
                        json={"arguments": {"order_number": 999}}, timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert result["result"] == "not_found"
    assert result["message"] == "ORDER NOT FOUND"
    assert {key for key, value in result.items() if value is not None} == {"result", "message"}
