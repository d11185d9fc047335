"""Loading a config directory: parse, expand ``${VAR}``, merge, validate, hash.

Every problem becomes a ``ConfigIssue`` naming the file, the line and the dotted key; all
issues of a directory are collected and raised together as one ``ConfigError``, so that an
integrator fixes a broken config in one pass rather than one error at a time.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from gateway.config.adapters import (
    AdapterLookup,
    AdapterModels,
    tool_model_with,
)
from gateway.config.models import NAME_PATTERN, BackendConfig, ToolConfig
from gateway.config.pydantic_errors import issues_from_validation
from gateway.config.source import SourceFile, dotted, expand, parse_yaml, plain_scalar
from gateway.errors import ConfigError, ConfigIssue, InvalidArguments
from gateway.mapping.records import InputMapper, MappingConfigError, OutputMapper
from gateway.mapping.schema import output_schema
from gateway.suggest import did_you_mean

SECTIONS = ("backends", "tools", "code_tables")


@dataclass
class Entry:
    """A backend or tool as declared: where it came from and its raw (unexpanded) YAML."""

    section: str
    name: str
    source: SourceFile
    raw: Any


@dataclass
class LoadedConfig:
    directory: Path
    files: list[str]
    backends: dict[str, BackendConfig]
    tools: dict[str, ToolConfig]
    entries: dict[tuple[str, str], Entry]
    mappers: dict[str, tuple[InputMapper, OutputMapper]]
    version: str
    canonical: dict[str, Any] = field(repr=False)
    # The adapters it was loaded with: a reload of the directory reads it with the same.
    adapters: AdapterLookup = field(repr=False, compare=False)
    # The mappers of each tool's variants, by (tool, variant).
    variant_mappers: dict[tuple[str, str], tuple[InputMapper, OutputMapper]] = field(
        default_factory=dict, repr=False
    )

    def issue(
        self, section: str, name: str, loc: tuple[str | int, ...], message: str
    ) -> ConfigIssue:
        """A located issue about part of a backend or tool, for checks done after loading."""
        entry = self.entries[(section, name)]
        full = (section, name, *loc)
        return ConfigIssue(entry.source.display, entry.source.line_of(full), dotted(full), message)


def config_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.suffix in (".yaml", ".yml") and p.is_file() and not p.name.startswith(".")
    )


def load_config(path: Path | str, adapters: AdapterLookup) -> LoadedConfig:
    """Load and validate a config directory (or one file); raise ``ConfigError`` on issues.

    ``adapters`` finds each backend's adapter models (``adapters.installed.INSTALLED`` in the
    gateway); the caller passes it, so that this package never imports an adapter.
    """
    root = Path(path)
    if not root.exists():
        raise ConfigError([ConfigIssue(str(root), None, "", "no such file or directory")])
    files = config_files(root)
    if not files:
        raise ConfigError([ConfigIssue(str(root), None, "", "no .yaml or .yml files found")])
    issues: list[ConfigIssue] = []
    entries = _collect(root, files, issues)

    code_tables = _code_tables(entries, issues)
    backends: dict[str, BackendConfig] = {}
    models: dict[str, AdapterModels] = {}
    for (section, name), entry in entries.items():
        if section == "backends":
            backend = _validate_backend(entry, adapters, models, issues)
            if backend is not None:
                backends[name] = backend
    tools: dict[str, ToolConfig] = {}
    for (section, name), entry in entries.items():
        if section == "tools":
            tool = _validate_tool(entry, models, code_tables, issues)
            if tool is not None:
                tools[name] = tool
    for (section, name), entry in entries.items():
        backend = entry.raw.get("backend") if isinstance(entry.raw, dict) else None
        if section == "tools" and isinstance(backend, str) and ("backends", backend) not in entries:
            hint = did_you_mean(backend, _names(entries, "backends"))
            message = f"unknown backend '{backend}'{hint}"
            issues.append(_issue(entry, ("tools", name, "backend"), message))
    mappers: dict[str, tuple[InputMapper, OutputMapper]] = {}
    variant_mappers: dict[tuple[str, str], tuple[InputMapper, OutputMapper]] = {}
    for name, tool in tools.items():
        compiled = _compile_mappers(entries[("tools", name)], tool, issues)
        if compiled is not None:
            mappers[name] = compiled
            issues.extend(_check_examples(entries[("tools", name)], tool, compiled[0]))
        for variant in tool.variants:
            where = ("variants", variant)
            built = _compile_mappers(entries[("tools", name)], tool.variant(variant), issues, where)
            if built is not None:
                variant_mappers[(name, variant)] = built
                entry = entries[("tools", name)]
                issues.extend(_check_examples(entry, tool.variant(variant), built[0], where))
    if issues:
        raise ConfigError(issues)

    canonical = {
        section: {name: e.raw for (s, name), e in sorted(entries.items()) if s == section}
        for section in SECTIONS
    }
    digest = hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return LoadedConfig(
        directory=root,
        files=[_display(root, f) for f in files],
        backends=backends,
        tools=tools,
        entries=entries,
        mappers=mappers,
        version=f"sha256:{digest}",
        canonical=canonical,
        variant_mappers=variant_mappers,
        adapters=adapters,
    )


def _display(root: Path, file: Path) -> str:
    # Paths as the operator typed them: rglob on a relative directory yields relative paths.
    return str(file)


def _names(entries: dict[tuple[str, str], Entry], section: str) -> list[str]:
    return [name for (s, name) in entries if s == section]


def _issue(entry: Entry, loc: tuple[str | int, ...], message: str) -> ConfigIssue:
    return ConfigIssue(entry.source.display, entry.source.line_of(loc), dotted(loc), message)


def _collect(
    root: Path, files: list[Path], issues: list[ConfigIssue]
) -> dict[tuple[str, str], Entry]:
    entries: dict[tuple[str, str], Entry] = {}
    for file in files:
        source, problems = parse_yaml(file, _display(root, file))
        issues.extend(problems)
        if source is None:
            continue
        for key, section in source.tree.items():
            if key not in SECTIONS:
                issues.append(
                    ConfigIssue(
                        source.display,
                        source.line_of((key,)),
                        str(key),
                        f"unknown top-level key{did_you_mean(str(key), SECTIONS)}",
                    )
                )
                continue
            if section is None:
                continue
            if not isinstance(section, dict):
                issues.append(
                    ConfigIssue(
                        source.display, source.line_of((key,)), key, "must be a mapping of names"
                    )
                )
                continue
            for name, body in section.items():
                _add_entry(entries, Entry(key, str(name), source, body), issues)
    return entries


def _add_entry(
    entries: dict[tuple[str, str], Entry], entry: Entry, issues: list[ConfigIssue]
) -> None:
    loc = (entry.section, entry.name)
    previous = entries.get(loc)
    if previous is not None:
        first = f"{previous.source.display}:{previous.source.line_of(loc)}"
        issues.append(_issue(entry, loc, f"declared twice; first declared at {first}"))
        return
    if not _valid_name(entry.name):
        issues.append(_issue(entry, loc, "names are lower_snake_case, at most 64 characters"))
    # Plain JSON-able copy for the version hash, ${VAR} references left unexpanded.
    entry.raw = orjson.loads(orjson.dumps(_plain(entry.raw)))
    entries[loc] = entry


def _valid_name(name: str) -> bool:
    return re.match(NAME_PATTERN, name) is not None


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return plain_scalar(node)


def _expanded(entry: Entry, issues: list[ConfigIssue]) -> Any | None:
    loc = (entry.section, entry.name)
    node = entry.source.tree[entry.section][entry.name]
    expansion = expand(node, entry.source, loc)
    issues.extend(expansion.issues)
    if expansion.issues:
        return None
    if not isinstance(expansion.value, dict):
        issues.append(_issue(entry, loc, "must be a mapping of keys"))
        return None
    return expansion.value


def _validate(
    model: type[BaseModel],
    data: Any,
    entry: Entry,
    issues: list[ConfigIssue],
    context: dict[str, Any] | None = None,
) -> Any:
    loc = (entry.section, entry.name)
    try:
        return model.model_validate(
            data, context={"base_dir": entry.source.path.parent, **(context or {})}
        )
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, model, entry.source, loc))
        return None


def _validate_backend(
    entry: Entry,
    lookup: AdapterLookup,
    models: dict[str, AdapterModels],
    issues: list[ConfigIssue],
) -> BackendConfig | None:
    """The backend validated by its adapter's model; the adapter's models are kept in
    ``models`` (by backend name) for its tools, even when the backend itself is invalid."""
    data = _expanded(entry, issues)
    if data is None:
        return None
    loc = (entry.section, entry.name)
    kind = data.get("adapter")
    if not isinstance(kind, str):
        issues.append(_issue(entry, (*loc, "adapter"), "required key 'adapter' is missing"))
        return None
    try:
        found = lookup.models(kind)
    except ImportError as exc:
        issues.append(_issue(entry, (*loc, "adapter"), f"cannot load adapter '{kind}': {exc}"))
        return None
    except LookupError as exc:
        issues.append(_issue(entry, (*loc, "adapter"), _lookup_message(exc)))
        return None
    models[entry.name] = found
    result: BackendConfig | None = _validate(found.config_model, data, entry, issues)
    return result


def _lookup_message(exc: LookupError) -> str:
    # KeyError quotes its argument; other lookup errors carry the message as it is.
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def _validate_tool(
    entry: Entry,
    models: dict[str, AdapterModels],
    code_tables: dict[str, dict[str, str]],
    issues: list[ConfigIssue],
) -> ToolConfig | None:
    """The shared keys and those of the backend's adapter, validated in one pass; the
    adapter's part is attached as the tool's ``settings``."""
    data = _expanded(entry, issues)
    if data is None:
        return None
    backend = data.get("backend")
    adapter = models.get(backend) if isinstance(backend, str) else None
    if adapter is None:
        # No adapter to judge the other keys by: the backend's own issue says why.
        data = {key: value for key, value in data.items() if key in _SHARED_KEYS}
        result: ToolConfig | None = _validate(
            ToolConfig, data, entry, issues, {"code_tables": code_tables}
        )
        return result
    combined = tool_model_with(adapter.tool_model)
    tool: ToolConfig | None = _validate(combined, data, entry, issues, {"code_tables": code_tables})
    if tool is None:
        return None
    own = {key: value for key, value in data.items() if key in adapter.tool_model.model_fields}
    settings = _validate(adapter.tool_model, own, entry, issues)
    if settings is None:
        return None
    shared = {key: getattr(tool, key) for key in _SHARED_KEYS}
    return ToolConfig.model_construct(tool.model_fields_set & _SHARED_KEYS, **shared).with_settings(
        settings
    )


_SHARED_KEYS = frozenset(ToolConfig.model_fields)


def _code_tables(
    entries: dict[tuple[str, str], Entry], issues: list[ConfigIssue]
) -> dict[str, dict[str, str]]:
    """Shared code tables, checked first: tools refer to them by name."""
    tables: dict[str, dict[str, str]] = {}
    for (section, name), entry in entries.items():
        if section != "code_tables":
            continue
        loc = (section, name)
        body = entry.raw
        if not isinstance(body, dict) or not body:
            issues.append(_issue(entry, loc, "a code table maps legacy codes to agent values"))
            continue
        bad = [code for code, value in body.items() if not isinstance(value, str | int)]
        for code in bad:
            issues.append(_issue(entry, (*loc, code), "agent values are strings"))
        table = {str(code): str(value) for code, value in body.items()}
        if len(set(table.values())) != len(table):
            issues.append(_issue(entry, loc, "each legacy code must map to a distinct agent value"))
        elif not bad:
            tables[name] = table
    return tables


def _compile_mappers(
    entry: Entry, tool: ToolConfig, issues: list[ConfigIssue], where: tuple[str, ...] = ()
) -> tuple[InputMapper, OutputMapper] | None:
    """The tool's mappers, compiled once here; a mistake is reported where it was made
    (``where``: under one of the tool's variants)."""
    prefix = ("tools", entry.name, *where)
    compiled: list[Any] = []
    for build in (
        lambda: InputMapper(tool.input, tool.request, rules=tool.input_json_schema),
        lambda: OutputMapper(tool.output),
    ):
        try:
            compiled.append(build())
        except MappingConfigError as exc:
            issues.append(_issue(entry, (*prefix, *exc.loc), exc.message))
    if len(compiled) != 2:
        return None
    return compiled[0], compiled[1]


def _check_examples(
    entry: Entry, tool: ToolConfig, mapper: InputMapper, under: tuple[str, ...] = ()
) -> list[ConfigIssue]:
    """Examples are shown to agents as the truth, so each must pass its mapping or schema."""
    found = []
    for index, example in enumerate(tool.examples):
        try:
            mapper(example)
        except InvalidArguments as exc:
            loc: tuple[str | int, ...] = ("tools", entry.name, *under, "examples", index)
            found.append(_issue(entry, loc, f"example does not validate: {exc.message}"))
    if tool.result_examples:
        # Imported here, as in ``checked_json_schema``: with its optional format checkers
        # installed, importing jsonschema takes over a second (``rfc3987_syntax`` builds its
        # grammar), which a gateway whose tools give no examples need not wait for at start.
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import best_match

        validator = Draft202012Validator(output_schema(tool.output, []))
        for index, example in enumerate(tool.result_examples):
            error = best_match(validator.iter_errors(example))
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                loc = ("tools", entry.name, *under, "result_examples", index)
                message = (
                    f"result example does not match the output schema at {where}: {error.message}"
                )
                found.append(_issue(entry, loc, message))
    return found
