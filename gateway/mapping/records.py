"""Compiled mappers for a tool: agent arguments -> legacy parameters, legacy answer -> result.

Both are built once from the YAML when the config loads. Per call, the input mapper runs one
closure per argument; the output mapper walks precomputed key paths and runs one closure per
field and record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.errors import InvalidArguments, MappingFailed
from gateway.mapping.spec import InputField, OutputField, OutputSpec
from gateway.mapping.values import Converter, Unmappable, agent_to_legacy, legacy_to_agent
from gateway.suggest import did_you_mean

_MISSING = object()


def _path(dotted: str) -> tuple[str, ...]:
    return tuple(part for part in dotted.split(".") if part)


def _getter(keys: tuple[str, ...]) -> Callable[[Any], Any]:
    """A function reading ``keys`` from a record; one key (the usual case) is a dict lookup."""
    if len(keys) == 1:
        key = keys[0]

        def one(node: Any) -> Any:
            if isinstance(node, dict):
                return node.get(key)
            return _get(node, keys)

        return one
    return lambda node: _get(node, keys)


def _get(node: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if node is None:
            return None
        if isinstance(node, list):
            raise Unmappable(f"'{key}' is below a repeated element; declare list: true above it")
        if not isinstance(node, dict):
            raise Unmappable(f"expected a record holding '{key}'")
        node = node.get(key)
    return node


def _put(target: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


@dataclass(frozen=True)
class _InputSlot:
    name: str
    target: tuple[str, ...]
    convert: Converter
    required: bool
    default: Any


class InputMapper:
    """Validates the agent's arguments and builds the legacy parameters from them."""

    def __init__(self, fields: dict[str, InputField]) -> None:
        self.slots = [
            _InputSlot(
                name,
                _path(spec.to or name),
                agent_to_legacy(spec),
                spec.required,
                spec.default,
            )
            for name, spec in fields.items()
        ]
        self.names = frozenset(fields)

    def __call__(self, arguments: dict[str, Any]) -> dict[str, Any]:
        errors: list[dict[str, str]] = []
        for name in arguments:
            if name not in self.names:
                hint = did_you_mean(name, self.names)
                errors.append({"field": name, "message": f"unknown argument{hint}"})
        params: dict[str, Any] = {}
        for slot in self.slots:
            value = arguments.get(slot.name, _MISSING)
            if value is _MISSING or value is None:
                if slot.required:
                    errors.append({"field": slot.name, "message": "is required"})
                    continue
                if slot.default is None:
                    continue
                value = slot.default
            try:
                _put(params, slot.target, slot.convert(value))
            except Unmappable as exc:
                errors.append({"field": slot.name, "message": str(exc)})
        if errors:
            raise InvalidArguments(errors)
        return params


RecordMapper = Callable[[Any, str], Any]


def _field_mapper(name: str, spec: OutputField) -> Callable[[Any, str], Any]:
    """A function (legacy record, path of the record) -> the field's JSON value."""
    keys = _path(spec.source or name)
    get = _getter(keys)
    if spec.fields is not None:
        inner = _record_mapper(spec.fields)

        def nested(record: Any, where: str) -> Any:
            raw = _located(record, keys, where, name)
            if spec.list:
                return [inner(item, f"{where}{name}[{i}].") for i, item in enumerate(_items(raw))]
            return None if raw is None else inner(raw, f"{where}{name}.")

        return nested
    convert = legacy_to_agent(spec)

    def scalar(record: Any, where: str) -> Any:
        try:
            raw = get(record)
            if spec.list:
                return [convert(item) for item in _items(raw)]
            return convert(raw)
        except Unmappable as exc:
            raise MappingFailed(f"{where}{name}", _raw_or_none(record, keys), str(exc)) from None

    return scalar


def _raw_or_none(record: Any, keys: tuple[str, ...]) -> Any:
    try:
        return _get(record, keys)
    except Unmappable:
        return None


def _located(record: Any, keys: tuple[str, ...], where: str, name: str) -> Any:
    try:
        return _get(record, keys)
    except Unmappable as exc:
        raise MappingFailed(f"{where}{name}", None, str(exc)) from None


def _items(raw: Any) -> list[Any]:
    # XML does not say "list" for a single occurrence: one element is a list of one.
    if raw is None:
        return []
    return raw if isinstance(raw, list) else [raw]


def _record_mapper(fields: dict[str, OutputField]) -> RecordMapper:
    mappers = [(name, _field_mapper(name, spec)) for name, spec in fields.items()]

    def record(raw: Any, where: str) -> dict[str, Any]:
        if raw is not None and not isinstance(raw, dict):
            raise MappingFailed(where.rstrip(".") or "$", raw, "expected a record")
        return {name: mapper(raw, where) for name, mapper in mappers}

    return record


class OutputMapper:
    """Turns the legacy answer (plain dicts, lists and strings) into the tool's result."""

    def __init__(self, spec: OutputSpec) -> None:
        self.root = _path(spec.source or "")
        self.many = spec.list
        self.passthrough = not spec.fields
        self.record = _record_mapper(spec.fields)

    def __call__(self, answer: Any) -> Any:
        try:
            node = _get(answer, self.root)
        except Unmappable as exc:
            raise MappingFailed(".".join(self.root), None, str(exc)) from None
        if self.passthrough:
            return node
        if self.many:
            return {
                "items": [self.record(item, f"items[{i}].") for i, item in enumerate(_items(node))]
            }
        if node is None:
            raise MappingFailed(".".join(self.root) or "$", None, "the legacy answer is empty")
        return self.record(node, "")
