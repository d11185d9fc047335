"""A small XML instance of an XSD shape: the answer a backend could send, for mapping tests."""

from __future__ import annotations

from typing import Any

from lxml import etree

from gateway.importers.simple_types import example_value
from gateway.importers.xsd import Complex, Node, Simple


def lexical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def instance(tag: str, shape: Simple | Complex, optional_depth: int = 2) -> etree._Element:
    element = etree.Element(tag)
    _fill(element, shape, optional_depth)
    return element


def _fill(element: etree._Element, shape: Simple | Complex, optional_depth: int) -> None:
    if isinstance(shape, Simple):
        element.text = lexical(example_value(shape))
        return
    chosen = {index: choice.alternatives[0] for index, choice in enumerate(shape.choices)
              if not choice.optional and choice.alternatives}  # fmt: skip
    for node in shape.nodes:
        if not _wanted(node, chosen, optional_depth):
            continue
        name = f"{{{node.namespace}}}{node.name}" if node.namespace else node.name
        if node.attribute:
            if isinstance(node.kind, Simple):
                element.set(name, node.fixed or lexical(example_value(node.kind)))
            continue
        for _ in range(max(node.min_occurs, 1)):
            child = etree.SubElement(element, name)
            if node.fixed is not None:
                child.text = node.fixed
            elif node.kind is not None:
                _fill(child, node.kind, optional_depth - 1)
    if shape.text is not None:
        element.text = lexical(example_value(shape.text))


def _wanted(node: Node, chosen: dict[int, list[str]], optional_depth: int) -> bool:
    if isinstance(node.kind, Complex) and node.kind.cut:
        return False
    if node.choice is not None:
        return node.name in chosen.get(node.choice, [])
    return node.min_occurs >= 1 or (optional_depth > 0 and node.kind is not None)
