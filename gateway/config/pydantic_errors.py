"""Turning pydantic validation errors into located, readable config issues."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.config.source import SourceFile, dotted
from gateway.errors import ConfigIssue
from gateway.suggest import did_you_mean


def issues_from_validation(
    exc: ValidationError, model: type[BaseModel], source: SourceFile, prefix: tuple[str | int, ...]
) -> list[ConfigIssue]:
    issues = []
    for error in exc.errors(include_url=False):
        # Pydantic appends the name of the validator branch to some locations; drop those.
        loc = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
        full = (*prefix, *loc)
        issues.append(
            ConfigIssue(
                source.display, source.line_of(full), dotted(full), _message(error, model, loc)
            )
        )
    return issues


def _message(error: Any, model: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        return f"unknown key '{loc[-1]}'{did_you_mean(str(loc[-1]), known)}"
    if kind == "missing":
        return f"required key '{loc[-1]}' is missing"
    # pydantic's message, never the offending value: it may hold an expanded secret.
    message: str = error["msg"]
    return message.removeprefix("Value error, ")


def _known_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys a mapping at ``loc`` (inside ``model``) accepts."""
    target: Any = model
    for part in loc:
        target = _step(target, part)
        if target is None:
            return []
    for candidate in _unwrap(target):  # an optional section is "Model | None"
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return [f.alias or name for name, f in candidate.model_fields.items()]
    return []


def _step(target: Any, part: str | int) -> Any:
    """Follow one location part through a model class or a container type."""
    for candidate in _unwrap(target):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            for name, info in candidate.model_fields.items():
                if part in (name, info.alias):
                    return info.annotation
        origin = typing.get_origin(candidate)
        if origin in (dict, list, tuple):
            args = typing.get_args(candidate)
            if args:
                return args[-1] if origin is dict else args[0]
    return None


def _unwrap(target: Any) -> list[Any]:
    if typing.get_origin(target) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(target) if a is not type(None)]
    return [target]
