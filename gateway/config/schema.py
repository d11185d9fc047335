"""The JSON Schema of the config files, published so that editors can check them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, create_model
from pydantic.json_schema import models_json_schema

from gateway.config.adapters import AdapterLookup
from gateway.config.models import NAME_PATTERN, ToolConfig, ToolSettings


def config_json_schema(adapters: AdapterLookup) -> dict[str, Any]:
    """The schema of a config file with the backends and tool keys of ``adapters``
    (``adapters.installed.INSTALLED`` for the published one). A tool may carry the keys of
    any adapter: which apply depends on its backend, which a schema cannot follow."""
    backend_models: list[type[BaseModel]] = []
    tool_models: list[type[ToolSettings]] = []
    for name in sorted(adapters.names()):
        try:
            found = adapters.models(name)
        except ImportError:
            continue  # an adapter whose library is absent cannot describe itself
        backend_models.append(found.config_model)
        if found.tool_model not in tool_models:
            tool_models.append(found.tool_model)
    tool_model = _every_tool_key(tool_models)
    models: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (tool_model, "validation"),
        *((m, "validation") for m in backend_models),
    ]
    refs, schema = models_json_schema(models, ref_template="#/$defs/{model}")
    backend_refs = [refs[(m, "validation")] for m in backend_models]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://legacy-gateway.dev/schemas/config.json",
        "title": "legacy-gateway config file",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "backends": {
                "type": "object",
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {"oneOf": backend_refs},
            },
            "tools": {
                "type": "object",
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": refs[(tool_model, "validation")],
            },
        },
        "$defs": schema.get("$defs", {}),
    }


def _every_tool_key(tool_models: list[type[ToolSettings]]) -> type[BaseModel]:
    """``ToolConfig`` with the tool keys of every adapter (the first declaration of a key
    shared by two adapters describes it)."""
    fields: dict[str, Any] = {}
    for model in tool_models:
        for name, info in model.model_fields.items():
            fields.setdefault(name, (info.annotation, info))
    if not fields:
        return ToolConfig
    combined: type[BaseModel] = create_model(
        "ToolConfig", __base__=ToolConfig, __doc__=ToolConfig.__doc__, **fields
    )
    return combined
