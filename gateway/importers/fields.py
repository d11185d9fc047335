"""From XSD shapes to the mapping language: input fields, output fields, examples.

Input fields build the request body as XML (``request: {xml: ...}``): each field's ``to`` is
the element's (prefixed) name, ``@name`` for attributes and ``#text`` for simple content, so
that elements come out in schema order and in the namespaces the schema's element forms
require. Output fields read the answer as plain data (``from:`` the element's local name, ``@name``
for an attribute and ``#text`` for the text of an element that carries attributes).
What the mapping language cannot check itself (a choice, exclusive ranges, formats) goes to
the field's ``json_schema``, which the published schema carries.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.importers.simple_types import example_value, field_checks, mapping_type
from gateway.importers.xsd import Choice, Complex, Node, Simple


def snake(name: str) -> str:
    """``GetCustomerByID`` -> ``get_customer_by_id``; always a valid lower_snake_case name."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    if not text or not text[0].isalpha():
        text = f"n_{text}" if text else "value"
    return text


class Prefixes:
    """Namespace prefixes of one request document: ns0, ns1, ... in order of first use."""

    def __init__(self) -> None:
        self.by_uri: dict[str, str] = {}

    def name(self, local: str, namespace: str | None) -> str:
        if not namespace:
            return local
        prefix = self.by_uri.setdefault(namespace, f"ns{len(self.by_uri)}")
        return f"{prefix}:{local}"

    @property
    def declared(self) -> dict[str, str]:
        return {prefix: uri for uri, prefix in self.by_uri.items()}


def _unique_names(nodes: list[Node]) -> dict[int, str]:
    names: dict[int, str] = {}
    used: set[str] = set()
    for index, node in enumerate(nodes):
        base = snake(node.name)
        name, counter = base, 2
        while name in used:
            name, counter = f"{base}_{counter}", counter + 1
        used.add(name)
        names[index] = name
    return names


def _required(node: Node) -> bool:
    return node.min_occurs >= 1 and node.choice is None


def _choice_rules(complex_type: Complex, field_names: dict[str, str]) -> dict[str, Any]:
    """``oneOf`` of the alternatives' required fields, one ``oneOf`` per xsd:choice."""
    rules = []
    for choice in complex_type.choices:
        alternatives = [[field_names[n] for n in names if n in field_names]
                        for names in choice.alternatives]  # fmt: skip
        alternatives = [names for names in alternatives if names]
        if len(alternatives) < 2:
            continue
        rules.append(_one_of(alternatives, choice))
    if not rules:
        return {}
    return {"oneOf": rules[0]["oneOf"]} if len(rules) == 1 else {"allOf": rules}


def _one_of(alternatives: list[list[str]], choice: Choice) -> dict[str, Any]:
    branches: list[dict[str, Any]] = [{"required": names} for names in alternatives]
    if choice.optional:
        every = sorted({name for names in alternatives for name in names})
        branches.append({"not": {"anyOf": [{"required": [name]} for name in every]}})
    return {"oneOf": branches}


# ------------------------------------------------------------------ input


def input_fields(
    complex_type: Complex, prefixes: Prefixes
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(input fields of a complex type's content, JSON Schema rules for the object)."""
    fields: dict[str, Any] = {}
    by_xml_name: dict[str, str] = {}
    names = _unique_names(complex_type.nodes)
    for index, node in enumerate(complex_type.nodes):
        spec = _input_field(node, prefixes)
        if spec is None:
            continue
        fields[names[index]] = spec
        by_xml_name.setdefault(node.name, names[index])
    if complex_type.text is not None:
        spec = _simple_input(complex_type.text, "#text", required=True)
        fields[_free_name("value", fields)] = spec
    return fields, _choice_rules(complex_type, by_xml_name)


def _free_name(name: str, taken: dict[str, Any]) -> str:
    while name in taken:
        name = f"{name}_"
    return name


def _simple_input(simple: Simple, to: str, required: bool) -> dict[str, Any]:
    keys, extra, notes = field_checks(simple)
    spec: dict[str, Any] = {"to": to}
    kind = mapping_type(simple)
    if kind != "string":
        spec["type"] = kind
    spec.update(keys)
    if not required:
        spec["required"] = False
    if notes:
        spec["description"] = "; ".join(notes) + "."
    if extra:
        spec["json_schema"] = extra
    return spec


def _input_field(node: Node, prefixes: Prefixes) -> dict[str, Any] | None:
    to = ("@" if node.attribute else "") + prefixes.name(node.name, node.namespace)
    required = _required(node)
    kind = node.kind
    if kind is None:
        return None  # xsd:any: the agent cannot name it
    if isinstance(kind, Simple) and node.fixed is not None:
        if not required and not node.attribute:
            return None
        return {"to": to, "const": node.fixed, "description": "Fixed by the schema."}
    if isinstance(kind, Simple):
        spec = _simple_input(kind, to, required)
    else:
        if kind.cut:
            return None
        nested, rules = input_fields(kind, prefixes)
        if not nested:
            if not required:
                return None
            # An element with no content of its own: always sent, empty.
            return {"to": to, "const": "", "description": "An empty element, always sent."}
        spec = {"to": to, "fields": nested}
        if not required:
            spec["required"] = False
        if rules:
            spec["json_schema"] = rules
    if node.nillable:
        spec["description"] = (spec.get("description", "") + " Nillable.").strip()
    if node.repeats:
        spec["list"] = True
        if node.min_occurs > 0:
            spec["min_items"] = node.min_occurs
        if node.max_occurs is not None:
            spec["max_items"] = node.max_occurs
    return spec


# ------------------------------------------------------------------ examples


def example(complex_type: Complex) -> dict[str, Any]:
    """The smallest arguments the schema accepts: required fields, a choice's first branch."""
    names = _unique_names(complex_type.nodes)
    chosen = {index: alternatives.alternatives[0] for index, alternatives
              in enumerate(complex_type.choices)
              if not alternatives.optional and alternatives.alternatives}  # fmt: skip
    result: dict[str, Any] = {}
    for index, node in enumerate(complex_type.nodes):
        wanted = _required(node) or (
            node.choice is not None
            and node.name in chosen.get(node.choice, [])
            and node.min_occurs >= 0
        )
        if not wanted or node.kind is None or node.fixed is not None:
            continue
        if isinstance(node.kind, Complex):
            if node.kind.cut:
                continue
            value: Any = example(node.kind)
            if not value and not input_fields(node.kind, Prefixes())[0]:
                continue  # an empty element: sent as a constant
        else:
            value = example_value(node.kind)
        count = max(node.min_occurs, 1)
        result[names[index]] = [value] * count if node.repeats else value
    if complex_type.text is not None:
        taken = {names[i]: None for i in range(len(complex_type.nodes))}
        result[_free_name("value", taken)] = example_value(complex_type.text)
    return result


# ------------------------------------------------------------------ output


def output_fields(complex_type: Complex) -> dict[str, Any]:
    """Output fields of a complex type's elements and attributes, named as the input fields
    of the same type are; simple content beside attributes is the field ``value``."""
    fields: dict[str, Any] = {}
    names = _unique_names(complex_type.nodes)
    for index, node in enumerate(complex_type.nodes):
        spec = _output_field(node)
        if spec is not None:
            fields[names[index]] = spec
    if complex_type.text is not None and fields:
        text = _simple_output(complex_type.text, {"from": TEXT})
        fields[_free_name("value", fields)] = text
    return fields


_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
TEXT = "#text"


def source_path(name: str) -> str:
    """The element's local name as a ``from:`` path: quoted when JMESPath would split it."""
    return name if _PLAIN_NAME.fullmatch(name) else '"' + name.replace('"', '\\"') + '"'


def _node_path(node: Node) -> str:
    if not node.attribute:
        return source_path(node.name)
    # ``@name`` is a plain path for the mapper; JMESPath reads the quoted form alike.
    return "@" + node.name if _PLAIN_NAME.fullmatch(node.name) else source_path("@" + node.name)


def _output_field(node: Node) -> dict[str, Any] | None:
    kind = node.kind
    spec: dict[str, Any] = {"from": _node_path(node)}
    if kind is None:
        return None
    if isinstance(kind, Complex):
        if kind.cut:
            return None
        if kind.text is not None and not kind.nodes:
            kind_simple: Simple | None = kind.text
        else:
            kind_simple = None
            nested = output_fields(kind)
            if not nested and kind.text is None:
                return None
            if nested:
                spec["fields"] = nested
            else:
                kind_simple = kind.text  # none of its attributes can be mapped: the text
    else:
        kind_simple = kind
    if kind_simple is not None:
        spec = _simple_output(kind_simple, spec)
    if node.repeats:
        spec["list"] = True
    elif _required(node) and not node.nillable and kind_simple is not None:
        spec["required"] = True
    return spec


def _simple_output(kind: Simple, spec: dict[str, Any]) -> dict[str, Any]:
    simple_kind = mapping_type(kind)
    if simple_kind != "string":
        spec["type"] = simple_kind
    enumeration = kind.facets.get("enumeration")
    if enumeration and simple_kind == "string":
        spec["codes"] = {value: value for value in dict.fromkeys(enumeration)}
    if kind.builtin != "string":
        spec["description"] = f"XSD {kind.builtin}."
    return spec
