"""Tool keys that belong to one adapter: validated by its model, located like any key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from adapters.amqp_settings import AmqpToolSettings
from adapters.installed import INSTALLED
from gateway.config.adapters import AdapterModels
from gateway.config.loader import load_config
from gateway.config.models import BackendConfig, ToolSettings
from gateway.config.schema import config_json_schema
from gateway.errors import ConfigError, ConfigIssue

ODBC = """\
backends:
  ledger:
    adapter: odbc
    connection: DSN=ledger
tools:
  close_account:
    description: Close an account.
    backend: ledger
    operation: "UPDATE ACCOUNTS SET STATUS = 'C' WHERE ACCNO = :accno"
    effect: write
    input:
      account: {to: accno}
"""

AMQP = """\
backends:
  orders:
    adapter: amqp
    url: amqp://guest:guest@127.0.0.1:5672/%2F
tools:
  place_order:
    description: Place an order.
    backend: orders
    operation: publish
    effect: write
    message:
      exchange: orders
    input:
      order: {to: ORDER}
"""


def issues_of(tmp_path: Path, text: str, **kw: object) -> list[ConfigIssue]:
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "config.yaml", **{"adapters": INSTALLED, **kw})  # type: ignore[arg-type]
    return caught.value.issues


def line_of(text: str, words: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if words in line)


def test_another_adapters_key_is_unknown_to_this_tool(tmp_path: Path) -> None:
    text = ODBC + "    message: {routing_key: q}\n"
    (issue,) = issues_of(tmp_path, text)
    assert issue.key == "tools.close_account.message"
    assert issue.line == line_of(text, "message:")
    assert issue.message.startswith("unknown key 'message'")


def test_a_typo_in_an_adapters_key_gets_a_hint_from_every_key_of_the_tool(
    tmp_path: Path,
) -> None:
    text = ODBC + "    expect_row: 1\n"
    (issue,) = issues_of(tmp_path, text)
    assert issue.key == "tools.close_account.expect_row"
    assert issue.line == line_of(text, "expect_row:")
    assert "expect_rows" in issue.message


def test_a_missing_nested_key_of_an_adapter_is_located(tmp_path: Path) -> None:
    (issue,) = issues_of(tmp_path, AMQP)
    assert issue.key == "tools.place_order.message.routing_key"
    assert issue.line == line_of(AMQP, "message:")
    assert issue.message == "required key 'routing_key' is missing"


def test_an_adapters_keys_reach_it_typed(tmp_path: Path) -> None:
    text = AMQP.replace(
        "      exchange: orders\n", "      exchange: orders\n      routing_key: new\n"
    )
    (tmp_path / "config.yaml").write_text(text)
    tool = load_config(tmp_path / "config.yaml", INSTALLED).tools["place_order"]
    settings = AmqpToolSettings.of(tool)
    assert settings.message is not None
    assert (settings.message.exchange, settings.message.routing_key) == ("orders", "new")
    assert "message" not in type(tool).model_fields


class LedgerConfig(BackendConfig):
    dsn: str


class LedgerToolSettings(ToolSettings):
    page: int = Field(10, ge=1)


class OneAdapter:
    """A lookup of the caller's own: the loader needs nothing else of adapters."""

    def names(self) -> list[str]:
        return ["ledger"]

    def models(self, name: str) -> AdapterModels:
        if name != "ledger":
            raise LookupError(f"no adapter called '{name}' here")
        return AdapterModels(LedgerConfig, LedgerToolSettings)


LEDGER = """\
backends:
  books:
    adapter: ledger
    dsn: books
tools:
  balance:
    description: A balance.
    backend: books
    operation: BAL
    page: 3
"""


def test_the_caller_passes_the_adapter_lookup(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(LEDGER)
    config = load_config(tmp_path / "config.yaml", adapters=OneAdapter())
    assert isinstance(config.backends["books"], LedgerConfig)
    assert LedgerToolSettings.of(config.tools["balance"]).page == 3

    (issue,) = issues_of(
        tmp_path, LEDGER.replace("adapter: ledger", "adapter: soap"), adapters=OneAdapter()
    )
    assert issue.key == "backends.books.adapter"
    assert issue.message == "no adapter called 'soap' here"


def test_the_schema_describes_the_tool_keys_of_the_adapters_it_is_given() -> None:
    schema = config_json_schema(OneAdapter())
    tool = schema["$defs"]["ToolConfig"]
    assert tool["properties"]["page"]["minimum"] == 1
    assert tool["additionalProperties"] is False
    assert "message" not in tool["properties"]
    assert "LedgerConfig" in schema["$defs"]
