"""Variants at run time: the call's variant on its intent, the guard, and shadow runs."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.installed import INSTALLED
from gateway.audit.records import RecordContext
from gateway.audit.sqlite_store import SQLiteStore
from gateway.config.loader import load_config
from gateway.errors import GatewayError, InvalidArguments, LegacyFault
from gateway.experiments.live import Experiments
from gateway.experiments.report import report
from gateway.experiments.split import choose
from gateway.mapping.redaction import Commitments
from gateway.pipeline.protection import Generation
from gateway.pipeline.run import CallPipeline
from gateway.policy.auth import Principal
from gateway.replay import KeyedCalls
from gateway.runtime import Gateway
from gateway.tools import Tool, build_registry
from tests.unit.pipeline.fakes import FakeAdapter, MemoryStore, metrics, new_call, synchronously

CONFIG = """\
backends:
  host:
    adapter: http
    base_url: http://127.0.0.1:9/
    max_concurrency: {cap}
tools:
  lookup:
    description: Looks a customer up.
    backend: host
    operation: GET /customers/{{ID}}
    input:
      customer_id: {{to: ID, pattern: "^[0-9]+$"}}
    output:
      fields:
        name: {{from: NAME, trim: true}}
        city: {{from: CITY}}
    variants:
      plain: {{weight: 0.5, description: A customer by id.}}
      untrimmed:
        shadow: true
        output:
          fields:
            name: {{from: NAME}}
            city: {{from: CITY}}
    experiment:
      sticky: session
      guard: {{max_error_rate: 0.5, min_calls: 4}}
"""


def generation_of(tmp_path: Path, cap: int = 4) -> Generation:
    (tmp_path / "gateway.yaml").write_text(CONFIG.format(cap=cap))
    return Generation.of(build_registry(load_config(tmp_path, INSTALLED), Commitments.throwaway()))


def faked(tool: Tool, live: FakeAdapter, shadow: FakeAdapter) -> Tool:
    variants = {
        name: replace(v, adapter=shadow if name == "untrimmed" else live)  # type: ignore[arg-type]
        for name, v in tool.variants.items()
    }
    return replace(tool, adapter=live, variants=variants)  # type: ignore[arg-type]


def session_on(tool: Tool, variant: str) -> str:
    return next(
        f"s{n}" for n in range(1000) if choose(tool.name, tool.config, f"session:s{n}") == variant
    )


class Harness:
    def __init__(
        self,
        generation: Generation,
        live: FakeAdapter,
        shadow: FakeAdapter,
        store: MemoryStore | SQLiteStore | None = None,
    ) -> None:
        self.generation = generation
        self.store = store if store is not None else MemoryStore()
        self.experiments = Experiments(self.store, metrics())
        self.pipeline = CallPipeline(self.store, KeyedCalls(self.store), metrics())
        self.tool = faked(generation.registry.tools["lookup"], live, shadow)
        self.count = 0

    async def call(self, session: str, arguments: dict[str, Any] | None = None) -> Any:
        self.count += 1
        call = new_call(
            self.tool, self.generation, arguments or {"customer_id": "42"},
            call_id=f"call-{self.count}", context={"session_id": session}, principal="key:bot",
        )  # fmt: skip
        return await self.experiments.run(call, self.pipeline.run)


@synchronously
async def test_the_intent_names_the_variant_that_answered(tmp_path: Path) -> None:
    harness = Harness(generation_of(tmp_path), FakeAdapter({"NAME": "Ada "}), FakeAdapter())
    on_plain = session_on(harness.tool, "plain")
    on_base = session_on(harness.tool, "baseline")
    await harness.call(on_plain)
    await harness.call(on_base)
    await harness.experiments.drain()
    intents = harness.store.records_of_kind("call.intent")
    assert [(i.call_id, i.body["variant"]) for i in intents] == [
        ("call-1", "plain"),
        ("call-2", "baseline"),
    ]
    assert intents[0].body["tool_version"].endswith(":plain")


@synchronously
async def test_a_shadow_runs_after_the_answer_and_its_differences_are_recorded(
    tmp_path: Path,
) -> None:
    live = FakeAdapter({"NAME": "Ada  ", "CITY": "Bonn"})
    shadow = FakeAdapter({"NAME": "Ada  ", "CITY": "Bonn"})
    harness = Harness(generation_of(tmp_path), live, shadow)
    answer = await harness.call(session_on(harness.tool, "baseline"))
    assert answer.result == {"name": "Ada", "city": "Bonn"}  # the live mapping, never the shadow
    await harness.experiments.drain()
    [record] = harness.store.records_of_kind("call.shadow")
    assert record.call_id == "call-1"
    assert record.body["variant"] == "untrimmed"
    assert record.body["live_variant"] == "baseline"
    assert record.body["agree"] is False
    assert record.body["fields"] == ["name"]
    assert record.body["differences"] == [{"field": "name", "live": "Ada", "shadow": "Ada  "}]
    assert record.body["attempts"] == 1
    # The shadow sent the same legacy parameters as the live call.
    assert shadow.calls[0][0] == live.calls[0][0]
    assert harness.generation.active == 0


@synchronously
async def test_a_shadow_waits_its_turn_at_the_backends_concurrency_cap(tmp_path: Path) -> None:
    generation = generation_of(tmp_path, cap=1)
    live = FakeAdapter({"NAME": "Ada", "CITY": "Bonn"})
    shadow = FakeAdapter({"NAME": "Ada", "CITY": "Bonn"}, delay_s=0.05)
    harness = Harness(generation, live, shadow)
    await harness.call(session_on(harness.tool, "baseline"))
    await asyncio.sleep(0.01)
    # The shadow holds the backend's only slot: it counts against the cap like any call.
    assert generation.limits["host"].locked()
    await harness.experiments.drain()
    assert not generation.limits["host"].locked()
    [record] = harness.store.records_of_kind("call.shadow")
    assert record.body["agree"] is True


@synchronously
async def test_no_shadow_after_a_failed_call(tmp_path: Path) -> None:
    shadow = FakeAdapter()
    harness = Harness(generation_of(tmp_path), FakeAdapter(LegacyFault("H", "down")), shadow)
    with pytest.raises(LegacyFault):
        await harness.call(session_on(harness.tool, "baseline"))
    await harness.experiments.drain()
    assert shadow.calls == []
    assert harness.store.records_of_kind("call.shadow") == []


@synchronously
async def test_the_guard_stops_a_failing_variant_on_the_record(tmp_path: Path) -> None:
    harness = Harness(generation_of(tmp_path), FakeAdapter(LegacyFault("H", "down")), FakeAdapter())
    session = session_on(harness.tool, "plain")
    for _ in range(4):
        with pytest.raises(GatewayError):
            await harness.call(session)
    [stop] = harness.store.records_of_kind("experiment.stopped")
    assert stop.body == {
        "tool": "lookup",
        "variant": "plain",
        "calls": 4,
        "errors": 4,
        "error_rate": 1.0,
        "guard": {"max_error_rate": 0.5, "min_calls": 4},
        "traffic_to": "baseline",
    }
    assert stop.context.config_version == harness.generation.registry.config.version
    # The same session now goes to the baseline.
    with pytest.raises(GatewayError):
        await harness.call(session)
    assert harness.store.records_of_kind("call.intent")[-1].body["variant"] == "baseline"
    # A fresh process under the same config reads the stop back from the record.
    again = Experiments(harness.store, metrics())
    assert again.stopped(harness.generation.registry.config.version) == {("lookup", "plain")}


@pytest.mark.parametrize("stored", ["memory", "sqlite"])
@synchronously
async def test_the_guards_counts_survive_a_restart(tmp_path: Path, stored: str) -> None:
    """Three failed calls of four before a restart: the fourth after it stops the variant."""
    generation = generation_of(tmp_path)
    version = generation.registry.config.version
    store = MemoryStore() if stored == "memory" else SQLiteStore(tmp_path / "audit.sqlite")
    if isinstance(store, SQLiteStore):
        # An older config's calls, before this one was loaded, count for nothing.
        store.append("config.loaded", None, {"config_version": "sha256:old"})
        store.append("call.rejected", "old-1", {"tool": "lookup", "variant": "plain"},
                     RecordContext(config_version="sha256:old"))  # fmt: skip
        store.append("config.loaded", None, {"config_version": version})
    harness = Harness(generation, FakeAdapter(LegacyFault("H", "down")), FakeAdapter(), store)
    session = session_on(harness.tool, "plain")
    for _ in range(3):
        with pytest.raises(GatewayError):
            await harness.call(session)
    # One success of a baseline session and a dry run count for nothing.
    harness.tool = replace(harness.tool, adapter=FakeAdapter({"NAME": "A"}))
    await harness.call(session_on(harness.tool, "baseline"))
    assert harness.store.records_of_kind("experiment.stopped") == []

    harness.tool = replace(harness.tool, adapter=FakeAdapter(LegacyFault("H", "down")))
    harness.experiments = Experiments(harness.store, metrics())  # a restarted process
    harness.experiments.restore(generation.registry)
    with pytest.raises(GatewayError):
        await harness.call(session)
    [stop] = harness.store.records_of_kind("experiment.stopped")
    assert (stop.body["variant"], stop.body["calls"], stop.body["errors"]) == ("plain", 4, 4)


@synchronously
async def test_the_guard_waits_for_its_minimum_of_calls(tmp_path: Path) -> None:
    harness = Harness(generation_of(tmp_path), FakeAdapter({"NAME": "A"}), FakeAdapter())
    session = session_on(harness.tool, "plain")
    for _ in range(3):
        with pytest.raises(InvalidArguments):
            await harness.call(session, {"customer_id": "x"})
    assert harness.store.records_of_kind("experiment.stopped") == []
    await harness.experiments.drain()
    # The refused calls are on the record under their variant, for the report.
    answer = report(harness.store, "lookup")
    [tool] = answer["tools"]
    [plain] = tool["groups"]
    assert plain["name"] == "plain"
    assert plain["invalid_argument_rate"]["count"] == 3


def test_a_session_is_listed_as_the_variant_its_calls_run(tmp_path: Path) -> None:
    """Sticky per session: the listing an agent reads in a session shows the description of
    the variant that session's calls get, not the variant of the agent's own key."""
    registry = generation_of(tmp_path).registry
    gateway = Gateway(registry, SQLiteStore(tmp_path / "audit.sqlite"))
    tool = registry.tools["lookup"]
    caller = Principal("key:bot", ("lookup",))
    agent_variant = choose(tool.name, tool.config, "agent:key:bot")
    other = "plain" if agent_variant == "baseline" else "baseline"
    session = session_on(tool, other)
    called = gateway.experiments.variant_for(
        tool, caller.name, {"session_id": session}, registry.config.version
    )
    assert (called.variant or "baseline") == other
    [listed] = gateway.visible_tools(caller, {"session_id": session})
    assert listed.config.description == called.config.description
    assert listed.config.description != gateway.visible_tools(caller)[0].config.description
    one = gateway.visible_tool("lookup", caller, {"session_id": session})
    assert one.listing["description"] == called.config.description
