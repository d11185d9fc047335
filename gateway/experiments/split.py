"""Which variant of a tool answers a call: a stable hash of (tool, sticky key) into [0, 1),
laid over the variants' weights.

The same session (or agent) always lands on the same variant of a tool, across calls,
processes and restarts, without any state: the hash is of the names alone. Variants take
their weights in the order they are declared; the baseline (the tool itself) takes the rest.
A stopped variant's share goes to the baseline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

from gateway.config.models import BASELINE, ToolConfig

_SCALE = float(2**64)


def bucket(tool: str, key: str) -> float:
    """A stable number in [0, 1) for (tool, key): SHA-256, its first 8 bytes."""
    digest = hashlib.sha256(f"{tool}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def sticky_key(tool: ToolConfig, principal: str, context: dict[str, Any] | None) -> str:
    """What keeps a caller on one variant: its session (``context.session_id``, when the
    tool is sticky per session and the call sends one), else its agent."""
    session = (context or {}).get("session_id")
    if tool.experiment.sticky == "session" and isinstance(session, str | int) and session != "":
        return f"session:{session}"
    return f"agent:{principal}"


def choose(name: str, tool: ToolConfig, key: str, stopped: Collection[str] = frozenset()) -> str:
    """The variant that answers: a variant's name, or ``baseline``."""
    point = bucket(name, key)
    edge = 0.0
    for variant, spec in tool.variants.items():
        if spec.shadow or not spec.weight:
            continue
        edge += spec.weight
        if point < edge:
            return BASELINE if variant in stopped else variant
    return BASELINE
