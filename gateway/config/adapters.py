"""What the config loader needs to know of adapters, passed in by its caller.

The loader validates a backend with its adapter's ``config_model`` and a tool with the
shared ``ToolConfig`` plus the ``tool_model`` of its backend's adapter. It finds both
through an ``AdapterLookup`` (``adapters.installed.INSTALLED`` in the gateway), so that this
package does not depend on the adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from pydantic import create_model

from gateway.config.models import BackendConfig, ToolConfig, ToolSettings


@dataclass(frozen=True)
class AdapterModels:
    """The config models of one adapter: its backends' and its tools' keys."""

    config_model: type[BackendConfig]
    tool_model: type[ToolSettings] = ToolSettings


class AdapterLookup(Protocol):
    def names(self) -> list[str]:
        """Every adapter name that can be looked up."""

    def models(self, name: str) -> AdapterModels:
        """The models of adapter ``name``: ``LookupError`` (with a readable message) when
        there is no such adapter, ``ImportError`` when its library is missing."""


@cache
def tool_model_with(tool_model: type[ToolSettings]) -> type[ToolConfig]:
    """``ToolConfig`` with an adapter's tool keys added: a tool of that adapter validates
    against it in one pass, so that a mistake anywhere gets its location and a did-you-mean
    drawn from every key the tool may have."""
    if tool_model is ToolSettings:
        return ToolConfig
    shared = set(ToolConfig.model_fields)
    fields: dict[str, Any] = {}
    for name, info in tool_model.model_fields.items():
        if name in shared:
            raise TypeError(f"{tool_model.__name__}.{name} is a key every tool already has")
        fields[name] = (info.annotation, info)
    combined: type[ToolConfig] = create_model(
        "ToolConfig", __base__=ToolConfig, __module__=tool_model.__module__, **fields
    )
    return combined
