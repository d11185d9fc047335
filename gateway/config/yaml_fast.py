"""A libyaml-backed YAML 1.2 loader that remembers the line of every key and list item.

ruamel's round-trip loader keeps those lines but parses in pure Python: a config imported
from a WSDL of a few hundred operations took seconds to parse. PyYAML's C parser is several
times faster; its resolver, though, speaks YAML 1.1 (``yes``, ``on`` and ``no`` are booleans,
``017`` is octal). The resolver here holds YAML 1.2 core schema rules, as ruamel reads
config files: only ``true``/``false`` in their three spellings are booleans, and a leading
zero does not make an octal number.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator
from typing import Any

from yaml._yaml import CParser
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

MERGE_TAG = "tag:yaml.org,2002:merge"


class LocatedMap(dict[Any, Any]):
    """A mapping with the 0-based line of itself and of each of its keys."""

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}


class LocatedList(list[Any]):
    """A sequence with the 0-based line of itself and of each of its items."""

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class Yaml12Resolver(BaseResolver):
    """YAML 1.2 core schema implicit types (the rules ruamel applies to version 1.2)."""


_FIRST_CHARS = {
    "bool": "tTfF",
    "int": "-+0123456789",
    "float": "-+0123456789.",
    "null": "~nN",
    "timestamp": "0123456789",
    "merge": "<",
}
_PATTERNS = {
    "bool": r"^(?:true|True|TRUE|false|False|FALSE)$",
    "int": r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$",
    "float": r"""^(?:
        [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
    "null": r"^(?:~|null|Null|NULL|)$",
    "timestamp": r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
        (?:[Tt]|[ \t]+)[0-9][0-9]?
        :[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
    "merge": r"^(?:<<)$",
}
for _kind, _pattern in _PATTERNS.items():
    Yaml12Resolver.add_implicit_resolver(
        f"tag:yaml.org,2002:{_kind}", re.compile(_pattern, re.X), list(_FIRST_CHARS[_kind])
    )
# The empty plain scalar is null: the resolver looks it up under the empty first character.
Yaml12Resolver.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(_PATTERNS["null"]), [""])


class LocatingConstructor(SafeConstructor):
    """Builds ``LocatedMap``/``LocatedList`` and refuses duplicate keys, as ruamel does."""

    def construct_yaml_map(self, node: MappingNode) -> Iterator[LocatedMap]:  # type: ignore[override]
        data = LocatedMap(node.start_mark.line)
        yield data
        own_keys = sum(1 for key_node, _ in node.value if key_node.tag != MERGE_TAG)
        self.flatten_mapping(node)
        merged = len(node.value) - own_keys
        seen: set[Any] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.construct_object(key_node)
            if not isinstance(key, Hashable):
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found unhashable key",
                    key_node.start_mark,
                )
            if index >= merged:  # keys merged in with << may be overridden; own keys not
                if key in seen:
                    raise ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f'found duplicate key "{key}"',
                        key_node.start_mark,
                    )
                seen.add(key)
            data[key] = self.construct_object(value_node)
            data.key_lines[key] = key_node.start_mark.line

    def construct_yaml_seq(self, node: SequenceNode) -> Iterator[LocatedList]:  # type: ignore[override]
        data = LocatedList(node.start_mark.line)
        yield data
        for item in node.value:
            data.append(self.construct_object(item))
            data.item_lines.append(item.start_mark.line)

    def construct_yaml_bool(self, node: ScalarNode) -> bool:
        return str(self.construct_scalar(node)).lower() == "true"

    def construct_yaml_int(self, node: ScalarNode) -> int:
        text = str(self.construct_scalar(node)).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        for prefix, base in (("0b", 2), ("0o", 8), ("0x", 16)):
            if digits.startswith(prefix):
                return sign * int(digits[2:], base)
        return sign * int(digits)  # YAML 1.2: a leading zero is still decimal

    def construct_yaml_float(self, node: ScalarNode) -> float:
        text = str(self.construct_scalar(node)).replace("_", "").lower()
        if text.endswith(".inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        if text == ".nan":
            return float("nan")
        return float(text)


for _tag, _method in (
    ("map", LocatingConstructor.construct_yaml_map),
    ("seq", LocatingConstructor.construct_yaml_seq),
    ("bool", LocatingConstructor.construct_yaml_bool),
    ("int", LocatingConstructor.construct_yaml_int),
    ("float", LocatingConstructor.construct_yaml_float),
):
    LocatingConstructor.add_constructor(f"tag:yaml.org,2002:{_tag}", _method)  # type: ignore[type-var]


class LocatingLoader(CParser, LocatingConstructor, Yaml12Resolver):
    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        LocatingConstructor.__init__(self)
        Yaml12Resolver.__init__(self)


def load_located(text: str) -> Any:
    """The single document in ``text`` as plain Python values with line-aware containers."""
    loader = LocatingLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
