"""From a loaded config to callable tools: backends loaded, operations checked, mappings built."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from adapters.base import Adapter, BackendSetupError, OperationUnknown, Prepared
from adapters.installed import adapter_class
from gateway.config.loader import LoadedConfig
from gateway.config.models import BASELINE, ToolConfig
from gateway.errors import ConfigError, ConfigIssue, GatewayError
from gateway.mapping.limits import record_integer_ranges, within_legacy_types
from gateway.mapping.openai import strict_parameters
from gateway.mapping.records import InputMapper, OutputMapper
from gateway.mapping.redaction import Commitments
from gateway.mapping.schema import input_schema, output_schema


@dataclass
class Tool:
    """One tool, ready to call: its adapter, prepared operation and compiled mappings."""

    name: str
    config: ToolConfig
    adapter: Adapter[Any]
    prepared: Prepared
    input: InputMapper
    output: OutputMapper
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    version: str
    # What its records hold instead of sensitive values: the installation's commitments.
    commitments: Commitments
    # A variant of the tool (``config.variants``) is a Tool of the same name: ``variant``
    # names it; the baseline holds them all in ``variants``.
    variant: str | None = None
    variants: dict[str, Tool] = field(default_factory=dict)
    listing: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.listing = {
            "name": self.name,
            "description": self.config.description,
            "effect": self.config.effect,
            "idempotent": self.config.is_idempotent,
            "version": self.version,
            "backend": self.config.backend,
            "tags": list(self.config.tags),
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
        }

    def matches(self, tag: str | None, words: list[str]) -> bool:
        """Carries ``tag`` (if given) and every word of a search, in its name, description
        or tags (case-insensitive)."""
        if tag is not None and tag not in self.config.tags:
            return False
        if not words:
            return True
        text = " ".join([self.name, self.config.description, *self.config.tags]).lower()
        return all(word in text for word in words)

    def openai(self) -> dict[str, Any]:
        """The tool as an OpenAI function-calling definition, usable in strict mode."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.config.description,
                "strict": True,
                "parameters": strict_parameters(self.input_schema),
            },
        }


@dataclass
class Registry:
    config: LoadedConfig
    adapters: dict[str, Adapter[Any]]
    tools: dict[str, Tool]
    commitments: Commitments


def _budgeted(schema: dict[str, Any], tool: ToolConfig) -> dict[str, Any]:
    """A list result under an output budget may be cut, and then says so."""
    if (tool.max_rows is None and tool.max_bytes is None) or schema.get("type") != "object":
        return schema
    properties = dict(schema["properties"])
    properties.setdefault(
        "truncated", {"type": "boolean", "description": "The answer was cut to its budget."}
    )
    properties.setdefault("notice", {"type": "string", "description": "Why the answer was cut."})
    return {**schema, "properties": properties}


def _paged(schema: dict[str, Any], pages: bool) -> dict[str, Any]:
    """A paged tool's result also says whether it was cut, and how to get the rest."""
    if not pages or schema.get("type") != "object":
        return schema
    properties = dict(schema["properties"])
    properties["truncated"] = {
        "type": "boolean",
        "description": "More rows exist than this answer holds.",
    }
    properties["next_cursor"] = {
        "type": ["string", "null"],
        "description": "Send as cursor, with the same arguments, for the next page.",
    }
    properties["notice"] = {"type": "string", "description": "Why the answer was cut."}
    return {**schema, "properties": properties}


def build_registry(config: LoadedConfig, commitments: Commitments) -> Registry:
    """Load every backend's metadata and prepare every tool; raise ``ConfigError`` on issues.

    ``commitments`` (the installation's, from its audit settings) stand in the records for
    sensitive values: the adapters and the tools built here get them."""
    issues: list[ConfigIssue] = []
    adapters: dict[str, Adapter[Any]] = {}
    for name, backend in config.backends.items():
        adapter = adapter_class(backend.adapter)(name, backend, commitments)
        try:
            adapter.load()
        except BackendSetupError as exc:
            issues.append(config.issue("backends", name, exc.loc, exc.message))
            continue
        except GatewayError as exc:
            issues.append(config.issue("backends", name, ("adapter",), exc.message))
            continue
        adapters[name] = adapter

    tools: dict[str, Tool] = {}
    for name, tool in config.tools.items():
        if tool.backend not in adapters:
            continue  # the backend's own issue is already reported
        backend_adapter = adapters[tool.backend]
        try:
            prepared = backend_adapter.prepare(tool)
        except OperationUnknown as exc:
            issues.append(config.issue("tools", name, ("operation",), str(exc)))
            continue
        except BackendSetupError as exc:
            issues.append(config.issue("tools", name, exc.loc, exc.message))
            continue
        raw = config.entries[("tools", name)].raw
        version = hashlib.sha256(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
        # A tool with variants is itself the baseline, and its records say so.
        baseline = BASELINE if tool.variants else None
        built = tools[name] = _tool(
            name,
            tool,
            backend_adapter,
            prepared,
            config.mappers[name],
            version,
            commitments,
            baseline,
        )
        for variant in tool.variants:
            declared = tool.variant(variant)
            try:
                variant_prepared = backend_adapter.prepare(declared)
            except OperationUnknown as exc:
                issues.append(
                    config.issue("tools", name, ("variants", variant, "operation"), str(exc))
                )
                continue
            except BackendSetupError as exc:
                located = ("variants", variant, *exc.loc)
                issues.append(config.issue("tools", name, located, exc.message))
                continue
            built.variants[variant] = _tool(
                name,
                declared,
                backend_adapter,
                variant_prepared,
                config.variant_mappers[(name, variant)],
                f"{version}:{variant}",
                commitments,
                variant,
            )
    if issues:
        raise ConfigError(issues)
    return Registry(config, adapters, tools, commitments)


def _tool(
    name: str,
    tool: ToolConfig,
    backend_adapter: Adapter[Any],
    prepared: Prepared,
    mappers: tuple[InputMapper, OutputMapper],
    version: str,
    commitments: Commitments,
    variant: str | None = None,
) -> Tool:
    # An integer argument holds no more than its legacy parameter's type (a WSDL's
    # xsd:int, a copybook's PIC): the schema says so and the mapper refuses the rest.
    ranges = backend_adapter.parameter_ranges(tool)
    if tool.request is not None and tool.request.record is not None:
        ranges = {**ranges, **record_integer_ranges(tool.request.record.compiled)}
    fields = within_legacy_types(tool.input, ranges)
    mapper = mappers[0]
    if fields is not tool.input:
        mapper = InputMapper(fields, tool.request, rules=tool.input_json_schema)
    return Tool(
        name=name,
        config=tool,
        adapter=backend_adapter,
        prepared=prepared,
        input=mapper,
        output=mappers[1],
        input_schema=input_schema(fields, tool.examples, tool.input_json_schema),
        output_schema=backend_adapter.result_schema(prepared)
        or _paged(
            _budgeted(output_schema(tool.output, tool.result_examples), tool)
            if not backend_adapter.pages
            else output_schema(tool.output, tool.result_examples),
            backend_adapter.pages and tool.effect == "read",
        ),
        version=version,
        commitments=commitments,
        variant=variant,
    )
