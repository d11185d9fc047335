"""Bad input to the ``legacy-gateway`` command: one clear line on stderr and a non-zero exit,
never a traceback; and a gateway that cannot start says why in one line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.api import create_app
from gateway.runtime import Gateway
from tests.integration.support import DEMO_CONFIG, run

ODBC_CONFIG = """\
backends:
  db:
    adapter: odbc
    connection: "DRIVER={NoSuchDriver};Database=/tmp/none.db"
tools:
  one:
    description: One row.
    backend: db
    operation: "SELECT 1 AS one"
    effect: read
    output:
      list: true
      fields:
        one: {from: one}
"""


def one_line_error(result: Any, code: int = 2) -> str:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(("error", "legacy-gateway cannot start")), lines[0]
    line: str = lines[0]
    return line


@pytest.fixture
def answer_files(tmp_path: Path) -> Path:
    (tmp_path / "answer.json").write_text('{"CUSTOMER": {"CUSTNO": "10000001"}}')
    (tmp_path / "args.txt").write_text("customer_number=1")
    return tmp_path


@pytest.mark.parametrize(
    ("option", "file", "message"),
    [
        # JSON for a SOAP tool: the file and the tool are named.
        ("--output-from", "answer.json",
         "answer.json is not an answer that soap tool 'get_customer' can read"),
        ("--input-from", "args.txt", "args.txt is not JSON"),
        ("--output-from", "missing.xml", "cannot read"),
    ],
    ids=["json-for-a-soap-tool", "arguments-that-are-not-json", "a-missing-file"],
)  # fmt: skip
def test_map_given_a_file_it_cannot_use(
    answer_files: Path, option: str, file: str, message: str
) -> None:
    line = one_line_error(
        run("map", "mappings/demo", "get_customer", option, str(answer_files / file))
    )
    assert message in line


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--args", "{bad", "--args is not JSON"),
        ("--args", "[1, 2]", "--args takes a JSON object, not list"),
        ("--args", '"10000001"', "--args takes a JSON object, not str"),
        ("--context", "42", "--context takes a JSON object, not int"),
    ],
)
def test_call_arguments_must_be_a_json_object(
    option: str, value: str, message: str, tmp_path: Path
) -> None:
    line = one_line_error(
        run(
            "call",
            "mappings/demo",
            "get_customer",
            option,
            value,
            "--audit-db",
            str(tmp_path / "audit.sqlite"),
        )
    )
    assert message in line
    assert not (tmp_path / "audit.sqlite").exists()  # refused before anything is recorded


def test_call_with_a_cursor_for_a_tool_that_does_not_page(tmp_path: Path) -> None:
    line = one_line_error(
        run(
            "call",
            "mappings/demo",
            "get_customer",
            "--args",
            '{"customer_number": "10000001"}',
            "--cursor",
            "abc",
            "--audit-db",
            str(tmp_path / "audit.sqlite"),
        )
    )
    assert "cursor: tool 'get_customer' does not page its answers" in line


def test_a_missing_config_directory(tmp_path: Path) -> None:
    result = run("call", str(tmp_path / "nowhere"), "get_customer")
    assert result.returncode == 1
    assert "no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [["calls", "show", "x"], ["keys", "list"], ["keys", "create", "--agent", "a", "--scopes", "b"]],
)
def test_a_store_url_of_no_known_kind(command: list[str]) -> None:
    line = one_line_error(run(*command, "--store", "mysql://root@127.0.0.1/test"))
    assert "--store takes postgresql://" in line


def test_a_sqlite_store_url_to_a_missing_file_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite"
    line = one_line_error(run("calls", "show", "x", "--store", f"sqlite:///{missing}"))
    assert f"no audit store at {missing}" in line
    assert not missing.exists()


def test_tools_with_an_unknown_format() -> None:
    line = one_line_error(run("tools", "mappings/demo", "--format", "xml"))
    assert "--format must be json, openai or mcp, not 'xml'" in line


def test_prune_with_a_date_that_is_not_one(tmp_path: Path) -> None:
    line = one_line_error(
        run(
            "audit",
            "prune",
            "--out",
            str(tmp_path / "b"),
            "--before",
            "last tuesday",
            "--audit-db",
            str(tmp_path / "a.sqlite"),
        )
    )
    assert "--before takes an ISO date or time" in line


def test_an_unexpected_error_is_one_line_too(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    result = run("audit", "verify", str(bundle), "--checkpoint", str(tmp_path / "nope.txt"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return run(
        "serve",
        "--port",
        "1",
        "--audit-db",
        str(tmp_path / "audit.sqlite"),
        *args,
        env={"LEGACY_GATEWAY_AUTH": "open", **(env or {})},
    )


def test_serve_with_an_unreachable_store_says_so_in_one_line(tmp_path: Path) -> None:
    line = one_line_error(
        serve(
            tmp_path, "--config", "mappings/demo", "--store", "postgresql://nobody@127.0.0.1:1/none"
        ),
        code=1,
    )
    assert "cannot open the audit store" in line


def test_serve_with_an_audit_database_it_cannot_create(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    result = run(
        "serve",
        "--config",
        "mappings/demo",
        "--port",
        "1",
        "--audit-db",
        str(tmp_path / "file" / "audit.sqlite"),
        env={"LEGACY_GATEWAY_AUTH": "open"},
    )
    assert "cannot open the audit store" in one_line_error(result, code=1)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LEGACY_GATEWAY_WATCH_CONFIG_S", "soon"),
        ("LEGACY_GATEWAY_MALLOC_TRIM_S", "often"),
        ("LEGACY_GATEWAY_MAX_BODY_BYTES", "lots"),
        ("LEGACY_GATEWAY_JWT_JWKS", "/nowhere/jwks.json"),
    ],
)
def test_serve_with_a_bad_setting_names_it(tmp_path: Path, variable: str, value: str) -> None:
    line = one_line_error(
        serve(
            tmp_path,
            "--config",
            "mappings/demo",
            env={variable: value, "LEGACY_GATEWAY_AUTH": "keys"},
        ),
        code=1,
    )
    assert variable in line


def test_serve_with_a_missing_odbc_driver_names_the_driver(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "db.yaml").write_text(ODBC_CONFIG)
    result = serve(tmp_path, "--config", str(tmp_path / "config"))
    assert result.returncode == 1
    assert "ODBC driver 'NoSuchDriver' is not installed" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # the summary and the one issue


def test_a_gateway_that_fails_to_start_reports_one_line_not_a_traceback() -> None:
    def broken() -> Gateway:
        raise OSError("the audit disk is full\n(and this is line two)")

    app = create_app(broken)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with pytest.raises(OSError):
        asyncio.run(
            app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        )

    assert sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "legacy-gateway cannot start: OSError: the audit disk is full "
            "(and this is line two)",
        }
    ]
    assert DEMO_CONFIG.exists()
