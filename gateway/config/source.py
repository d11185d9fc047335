"""Reading YAML config files while keeping track of where every key came from.

The loader (libyaml, YAML 1.2 rules) keeps line numbers on every mapping and sequence; we keep
the loaded tree as the *locator* of a file and hand plain dicts (with ``${VAR}`` expanded) to the
pydantic models. When a model rejects something, the error's location tuple is walked back
through the locator to a line number.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml import MarkedYAMLError, YAMLError

from gateway.config.yaml_fast import LocatedList, LocatedMap, load_located
from gateway.errors import ConfigIssue

# ${VAR} or ${VAR:-default}; $${VAR} is a literal "${VAR}". ${file:/run/secrets/name} is the
# content of that file (Docker and Kubernetes secrets), without its final line break.
# A default may hold braces one level deep: ${QUEUE:-replies.{installation}}.
_VAR = re.compile(
    r"\$(\$?)\{(?:file:([^}]+)|([A-Za-z_][A-Za-z0-9_]*)(?::-((?:[^{}]|\{[^{}]*\})*))?)\}"
)


@dataclass
class SourceFile:
    """One parsed YAML file: its path, its located tree and its display name."""

    path: Path
    tree: Any
    display: str

    def line_of(self, loc: Iterable[str | int]) -> int | None:
        """1-based line of the deepest node of ``loc`` that exists in this file."""
        node = self.tree
        line: int | None = None
        for part in loc:
            if isinstance(node, LocatedMap) and part in node:
                line = node.key_lines[part] + 1
                node = node[part]
            elif isinstance(node, LocatedList) and isinstance(part, int) and part < len(node):
                line = node.item_lines[part] + 1
                node = node[part]
            else:
                break
        if line is None and isinstance(self.tree, LocatedMap):
            return self.tree.line + 1
        return line


@dataclass
class Expansion:
    """Result of expanding ``${VAR}`` references: the plain tree and what went wrong."""

    value: Any
    issues: list[ConfigIssue] = field(default_factory=list)


def parse_yaml(path: Path, display: str) -> tuple[SourceFile | None, list[ConfigIssue]]:
    """Parse one file; a syntax error becomes an issue with the line it occurred on."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [ConfigIssue(display, None, "", f"cannot read file: {exc}")]
    try:
        tree = load_located(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(filter(None, [exc.context, exc.problem]))
        lines = text.splitlines()
        if line is not None and "${" in "".join(lines[max(0, line - 2) : line]):
            problem += ' (inside { } flow mappings, quote values holding ${VAR}: "${VAR}")'
        return None, [ConfigIssue(display, line, "", f"invalid YAML: {problem}")]
    except YAMLError as exc:
        return None, [ConfigIssue(display, None, "", f"invalid YAML: {exc}")]
    if tree is None:
        tree = LocatedMap()
    if not isinstance(tree, LocatedMap):
        return None, [ConfigIssue(display, 1, "", "a config file must be a mapping")]
    return SourceFile(path, tree, display), []


def expand(node: Any, source: SourceFile, loc: tuple[str | int, ...] = ()) -> Expansion:
    """Copy ``node`` into plain dicts and lists, expanding ``${VAR}`` in every string.

    Values that came from the environment are never put into an error message.
    """
    result = Expansion(None)
    result.value = _expand(node, source, loc, result)
    return result


def _expand(node: Any, source: SourceFile, loc: tuple[str | int, ...], acc: Expansion) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _expand(v, source, (*loc, str(k)), acc) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, source, (*loc, i), acc) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:
        return _expand_string(node, source, loc, acc)
    return plain_scalar(node)


def plain_scalar(node: Any) -> Any:
    """A subclass of int, float or str (as YAML libraries may build) as the plain type.

    JSON serialisers and hashing must see the value only.
    """
    if type(node) in (bool, int, float, str):
        return node
    for kind in (int, float, str):
        if isinstance(node, kind) and type(node) is not kind:
            return kind(node)
    return node


def _expand_string(
    text: str, source: SourceFile, loc: tuple[str | int, ...], acc: Expansion
) -> str:
    def substitute(match: re.Match[str]) -> str:
        escaped, secret_file, name, default = match.groups()
        if escaped:
            return match.group(0)[1:]
        if secret_file is not None:
            return _read_secret(secret_file, source, loc, acc)
        value = os.environ.get(name)
        if value is None:
            if default is not None:
                return default
            acc.issues.append(
                ConfigIssue(
                    source.display,
                    source.line_of(loc),
                    dotted(loc),
                    f"environment variable {name} is not set "
                    f"(set it, or write ${{{name}:-default}} for a default)",
                )
            )
            return ""
        return value

    return _VAR.sub(substitute, text)


def _read_secret(name: str, source: SourceFile, loc: tuple[str | int, ...], acc: Expansion) -> str:
    """A secret file's content; a relative path is from the YAML file's directory."""
    path = Path(name.strip())
    if not path.is_absolute():
        path = source.path.parent / path
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        acc.issues.append(
            ConfigIssue(
                source.display,
                source.line_of(loc),
                dotted(loc),
                f"cannot read secret file {path}: {reason}",
            )
        )
        return ""
    return content.removesuffix("\n").removesuffix("\r")


def dotted(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
