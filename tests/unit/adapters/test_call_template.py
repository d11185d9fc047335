"""``Adapter.call``, written once: timing, translation and the record, for every adapter."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from adapters.base import Adapter, CallContext, CallRecord, Health, Interaction
from gateway.config.models import BackendConfig, ToolConfig
from gateway.errors import BackendUnavailable, GatewayError, LegacyBadResponse
from tests.unit.adapters.fakes import context


@dataclass(frozen=True)
class Step:
    operation: str
    xml_answer: bool = False


class Scripted(Adapter[BackendConfig, Step]):
    """An adapter whose exchange does what the test says."""

    name: ClassVar[str] = "scripted"
    config_model: ClassVar[type[BackendConfig]] = BackendConfig

    def __init__(self, script: Any) -> None:
        super().__init__("host", BackendConfig(adapter="scripted"))
        self.script = script

    async def exchange(
        self, prepared: Step, params: dict[str, Any], ctx: CallContext, record: CallRecord
    ) -> Any:
        return await self.script(prepared, params, record)

    def translate_error(self, exc: BaseException) -> GatewayError:
        if isinstance(exc, GatewayError):
            return exc
        return BackendUnavailable(f"translated: {exc}")

    def load(self) -> None: ...
    def operations(self) -> list[str]:
        return []

    def prepare(self, tool: ToolConfig) -> Step:
        return Step(tool.operation)

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def check(self) -> Health:
        return Health(True, "", 0.0)

    def render(self, prepared: Step, params: dict[str, Any]) -> dict[str, Any]:
        return {}


def run(script: Any) -> tuple[Any, list[Interaction]]:
    recorded: list[Interaction] = []
    try:
        result = asyncio.run(Scripted(script).call(Step("op"), {"a": 1}, context(recorded)))
    except GatewayError as exc:
        return exc, recorded
    return result, recorded


def test_an_exchange_is_timed_and_recorded_once() -> None:
    async def script(prepared: Step, params: dict[str, Any], record: CallRecord) -> Any:
        interaction = record.begin(prepared.operation, {"sent": params})
        await asyncio.sleep(0.01)
        interaction.response = {"got": "answer"}
        return "answer"

    result, recorded = run(script)
    assert result == "answer"
    (interaction,) = recorded
    assert (interaction.adapter, interaction.backend, interaction.operation) == (
        "scripted",
        "host",
        "op",
    )
    assert interaction.request == {"sent": {"a": 1}}
    assert interaction.response == {"got": "answer"}
    assert interaction.error is None
    assert interaction.duration_ms >= 10


def test_a_driver_error_is_translated_and_put_on_the_record() -> None:
    failure = ConnectionResetError("peer went away")

    async def script(prepared: Step, params: dict[str, Any], record: CallRecord) -> Any:
        record.begin("op", {})
        raise failure

    error, recorded = run(script)
    assert isinstance(error, BackendUnavailable)
    assert error.__cause__ is failure
    assert recorded[0].error == {
        "code": "backend_unavailable",
        "message": "translated: peer went away",
    }


def test_what_fails_before_the_exchange_begins_is_not_recorded() -> None:
    async def script(prepared: Step, params: dict[str, Any], record: CallRecord) -> Any:
        raise BackendUnavailable("backend host is not open")

    error, recorded = run(script)
    assert isinstance(error, BackendUnavailable)
    assert recorded == []


def test_a_second_interaction_is_recorded_after_the_first_and_takes_later_errors() -> None:
    async def script(prepared: Step, params: dict[str, Any], record: CallRecord) -> Any:
        publish = record.begin("publish", {"body": "x"})
        publish.response = {"confirmed": True}
        record.then(Interaction("scripted", "host", "reply", 1, {}, {"body": "<oops"}))
        raise LegacyBadResponse("the reply is not acceptable XML", details={"at": 1})

    error, recorded = run(script)
    assert isinstance(error, LegacyBadResponse)
    assert [i.operation for i in recorded] == ["publish", "reply"]
    assert recorded[0].error is None and recorded[0].response == {"confirmed": True}
    assert recorded[1].error == {
        "code": "legacy_bad_response",
        "message": "the reply is not acceptable XML",
        "at": 1,
    }


def test_parse_answer_reads_xml_as_values_unless_the_tool_maps_xpath() -> None:
    adapter = Scripted(None)
    payload = b"<r><NAME>ANNA</NAME></r>"
    assert adapter.parse_answer(Step("op"), payload) == {"NAME": "ANNA"}
    element = adapter.parse_answer(Step("op", xml_answer=True), payload)
    assert element.findtext("NAME") == "ANNA"


@pytest.mark.parametrize(
    "module", ["gateway.config.loader", "gateway.config.schema", "gateway.config.directory"]
)
def test_the_config_package_does_not_import_adapters(module: str) -> None:
    import subprocess
    import sys

    code = (
        f"import sys, {module}; "
        "found = sorted(m for m in sys.modules if m == 'adapters' or m.startswith('adapters.')); "
        "print(found); raise SystemExit(1 if found else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_config_module_names_the_adapters_package() -> None:
    """Not even by reference: every caller passes the adapters it loads a config with."""
    import gateway.config

    package = Path(gateway.config.__file__).parent
    naming = [
        path.name
        for path in package.rglob("*.py")
        if re.search(r"\b(from|import) adapters\b|[\"']adapters\.registry", path.read_text())
    ]
    assert naming == []
