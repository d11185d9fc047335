"""The traffic split: a stable hash per (tool, sticky key), laid over the weights."""

from __future__ import annotations

import hashlib
from collections import Counter

from gateway.config.models import ToolConfig
from gateway.experiments.split import bucket, choose, sticky_key


def tool(**experiment: object) -> ToolConfig:
    return ToolConfig.model_validate(
        {
            "description": "Rates.",
            "backend": "fx",
            "operation": "GetRate",
            "variants": {
                "b": {"weight": 0.2, "description": "Rates, as codes."},
                "c": {"weight": 0.3, "description": "Rates, three letters."},
                "candidate": {"shadow": True, "operation": "GetRate2"},
            },
            "experiment": experiment,
        }
    )


def test_the_bucket_is_sha256_of_tool_and_key_scaled_into_0_1() -> None:
    digest = hashlib.sha256(b"get_rate\x00session:s-1").digest()
    assert bucket("get_rate", "session:s-1") == int.from_bytes(digest[:8], "big") / 2**64
    points = [bucket("get_rate", f"session:{n}") for n in range(1000)]
    assert all(0 <= p < 1 for p in points)
    assert bucket("other_tool", "session:s-1") != bucket("get_rate", "session:s-1")


def test_one_session_always_gets_one_variant() -> None:
    config = tool()
    for n in range(200):
        key = f"session:{n}"
        first = choose("get_rate", config, key)
        assert all(choose("get_rate", config, key) == first for _ in range(5))


def test_weights_split_the_traffic_and_the_baseline_takes_the_rest() -> None:
    config = tool()
    seen = Counter(choose("get_rate", config, f"session:{n}") for n in range(20_000))
    assert set(seen) == {"baseline", "b", "c"}  # a shadow variant answers no call
    assert abs(seen["b"] / 20_000 - 0.2) < 0.015
    assert abs(seen["c"] / 20_000 - 0.3) < 0.015
    assert abs(seen["baseline"] / 20_000 - 0.5) < 0.015


def test_the_split_is_laid_out_in_declared_order() -> None:
    config = tool()
    for n in range(500):
        key = f"agent:{n}"
        point = bucket("get_rate", key)
        expected = "b" if point < 0.2 else "c" if point < 0.5 else "baseline"
        assert choose("get_rate", config, key) == expected


def test_a_stopped_variant_sends_its_traffic_to_the_baseline() -> None:
    config = tool()
    keys = [f"session:{n}" for n in range(300)]
    on_b = [key for key in keys if choose("get_rate", config, key) == "b"]
    assert on_b
    assert {choose("get_rate", config, key, {"b"}) for key in on_b} == {"baseline"}
    others = [key for key in keys if key not in on_b]
    assert [choose("get_rate", config, k, {"b"}) for k in others] == [
        choose("get_rate", config, k) for k in others
    ]


def test_sticky_keys_per_session_or_per_agent() -> None:
    per_session, per_agent = tool(sticky="session"), tool(sticky="agent")
    assert sticky_key(per_session, "key:bot", {"session_id": "s-9"}) == "session:s-9"
    # No session sent: the agent keeps its variant.
    assert sticky_key(per_session, "key:bot", {"agent_version": "2"}) == "agent:key:bot"
    assert sticky_key(per_session, "key:bot", None) == "agent:key:bot"
    assert sticky_key(per_agent, "key:bot", {"session_id": "s-9"}) == "agent:key:bot"
