"""YAML text of imported configs, written directly: fast and compact.

ruamel's emitter (pure Python here) takes seconds for a WSDL of a few hundred operations;
the values an importer writes are plain (mappings, lists, strings, numbers, booleans), so a
small writer does. A mapping of scalars that fits on a line is written in flow style
(``{to: ns0:Name, type: integer}``), which keeps a field on one line. Strings are written
plain when YAML cannot read them as anything else, otherwise as JSON strings (which are
valid YAML double-quoted scalars).
"""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/:]*$")
_RESERVED = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})
_FLOW_SAFE = _PLAIN
_UNPRINTABLE = re.compile("[\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
FLOW_WIDTH = 110
BLOCK_KEYS = frozenset({"fields", "input", "output", "tools", "backends"})


def scalar(value: Any, flow: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    pattern = _FLOW_SAFE if flow else _PLAIN
    if (
        pattern.fullmatch(text)  # fullmatch: "$" alone would let a final newline through
        and text.lower() not in _RESERVED
        and not text.endswith(":")
        and ": " not in text
        and " #" not in text
    ):
        return text
    # YAML refuses some characters even inside quotes (DEL, C1 controls, lone surrogates):
    # those are written as escapes.
    quoted = json.dumps(text, ensure_ascii=False)
    return _UNPRINTABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", quoted)


def _flow(value: Any) -> str | None:
    """The value on one line, if it is made of scalars (or short lists of them)."""
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            inner = _flow(item)
            if inner is None:
                return None
            parts.append(f"{scalar(key, flow=True)}: {inner}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        items = [_flow(item) for item in value]
        if any(item is None for item in items):
            return None
        return "[" + ", ".join(str(item) for item in items) + "]"
    return scalar(value, flow=True)


def dump(value: dict[str, Any], indent: int = 0) -> str:
    """Block YAML of a mapping; nested scalar-only mappings on one line when they fit."""
    lines: list[str] = []
    _mapping(value, indent, lines)
    return "\n".join(lines) + "\n"


def _mapping(value: dict[str, Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, item in value.items():
        head = f"{pad}{scalar(key)}:"
        if isinstance(item, dict | list) and item:
            # A record's fields stay one per line, however short: they are what people edit.
            flow = None if key in BLOCK_KEYS else _flow(item)
            if flow is not None and len(head) + len(flow) + 1 <= FLOW_WIDTH:
                lines.append(f"{head} {flow}")
            elif isinstance(item, dict):
                lines.append(head)
                _mapping(item, indent + 2, lines)
            else:
                lines.append(head)
                _sequence(item, indent + 2, lines)
        elif isinstance(item, dict):
            lines.append(f"{head} {{}}")
        elif isinstance(item, list):
            lines.append(f"{head} []")
        else:
            lines.append(f"{head} {scalar(item)}")


def _sequence(value: list[Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in value:
        flow = _flow(item)
        if flow is not None and len(pad) + len(flow) + 2 <= FLOW_WIDTH:
            lines.append(f"{pad}- {flow}")
        elif isinstance(item, dict) and item:
            nested: list[str] = []
            _mapping(item, indent + 2, nested)
            nested[0] = f"{pad}- {nested[0][indent + 2 :]}"
            lines.extend(nested)
        elif isinstance(item, list) and item:
            lines.append(f"{pad}-")
            _sequence(item, indent + 2, lines)
        else:
            lines.append(f"{pad}- {_flow(item) or scalar(item)}")
