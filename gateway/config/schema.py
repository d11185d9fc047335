"""The JSON Schema of the config files, published so that editors can check them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from adapters.registry import adapter_class, available
from gateway.config.models import NAME_PATTERN, ToolConfig


def config_json_schema() -> dict[str, Any]:
    backend_models: list[type[BaseModel]] = []
    for name in sorted(available()):
        try:
            backend_models.append(adapter_class(name).config_model)
        except ImportError:
            continue  # an adapter whose library is absent cannot describe itself
    models: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (ToolConfig, "validation"),
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
                "additionalProperties": refs[(ToolConfig, "validation")],
            },
        },
        "$defs": schema.get("$defs", {}),
    }
