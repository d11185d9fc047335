"""Which legacy names carry sensitive values, and blanking them in what gets recorded.

A field marked ``sensitive: true`` is *** in every record: the agent's arguments and mapped
results (``InputMapper.redact``, ``OutputMapper.redact``), and the legacy payloads adapters
record. Payloads are redacted by the legacy names the tool's mapping reads and writes.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from gateway.config.models import ToolConfig
from gateway.mapping.xml import local_name

MASK = "***"


def sensitive_names(tool: ToolConfig) -> frozenset[str]:
    """Last path segment (element, key or column name) of every sensitive field of a tool."""
    names = {
        (spec.to or name).replace("/", ".").split(".")[-1].split(":")[-1]
        for name, spec in tool.input.items()
        if spec.sensitive
    }
    names |= {
        (spec.source or name).replace("/", ".").split(".")[-1].split(":")[-1]
        for name, spec in tool.output.fields.items()
        if spec.sensitive
    }
    return frozenset(names)


def blank_elements(root: etree._Element, names: frozenset[str]) -> None:
    """Set the text of every leaf element with one of these local names to ***."""
    if not names:
        return
    for node in root.iter():
        if isinstance(node.tag, str) and local_name(node.tag) in names and len(node) == 0:
            node.text = MASK


def blank_keys(value: Any, names: frozenset[str]) -> Any:
    """A copy of JSON data with the values of these keys, at any depth, as ***."""
    if not names:
        return value
    if isinstance(value, dict):
        return {
            key: MASK if key in names and item is not None else blank_keys(item, names)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [blank_keys(item, names) for item in value]
    return value
