"""The shape of an XSD type as the importers need it, read from zeep's schema model.

zeep resolves what is hard about XSD (imports and includes, references, groups, extension
and restriction of complex types, element forms) but keeps no facets of simple types: it
turns a restriction into its base type. ``facets_recorded`` lets zeep's visitor note each
simple type's facets (enumerations, patterns, lengths, digits, ranges) on the type it builds,
so the schema an agent sees says what the XSD says.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

XS = "http://www.w3.org/2001/XMLSchema"
FACETS_ATTR = "_legacy_gateway_facets"
FIXED_ATTR = "_legacy_gateway_fixed"
_SNAKE = {"simpleType": "simple_type", "element": "element", "attribute": "attribute"}
#: A complex type met again below itself is cut after this many repeats on one path.
RECURSION_DEPTH = 1
#: Nested records deeper than this are left out (said in the field's description).
MAX_DEPTH = 12

_FACET_NAMES = (
    "enumeration",
    "pattern",
    "length",
    "minLength",
    "maxLength",
    "minInclusive",
    "maxInclusive",
    "minExclusive",
    "maxExclusive",
    "totalDigits",
    "fractionDigits",
)


def read_facets(restriction: Any) -> dict[str, Any]:
    """Facets of an ``xs:restriction`` node: enumeration and pattern as lists, others as text."""
    facets: dict[str, Any] = {}
    for child in restriction:
        tag = child.tag if isinstance(child.tag, str) else ""
        local = tag.rpartition("}")[2]
        if not tag.startswith(f"{{{XS}}}") or local not in _FACET_NAMES:
            continue
        value = child.get("value")
        if value is None:
            continue
        if local in ("enumeration", "pattern"):
            facets.setdefault(local, []).append(value)
        else:
            facets[local] = value
    return facets


@contextmanager
def facets_recorded() -> Iterator[None]:
    """While active, simple types zeep builds carry their facets (``FACETS_ATTR``)."""
    from zeep.xsd import visitor
    from zeep.xsd.types import unresolved

    original_visit = visitor.SchemaVisitor.visit_simple_type
    original_resolve = unresolved.UnresolvedCustomType.resolve

    def visit_simple_type(self: Any, node: Any, parent: Any) -> Any:
        result = original_visit(self, node, parent)
        restriction = node.find(f"{{{XS}}}restriction")
        if restriction is not None and isinstance(result, unresolved.UnresolvedCustomType):
            setattr(result, FACETS_ATTR, read_facets(restriction))
        return result

    def resolve(self: Any) -> Any:
        resolved = original_resolve(self)
        own = getattr(self, FACETS_ATTR, None)
        if own is not None:
            inherited = getattr(self.base_type.resolve(), FACETS_ATTR, {})
            # A restriction narrows its base: its own facets win, enumerations replace.
            setattr(resolved, FACETS_ATTR, {**inherited, **own})
        return resolved

    def with_fixed(original: Any) -> Any:
        # zeep reads no ``fixed``: keep it on the element or attribute it builds.
        def visit(self: Any, node: Any, parent: Any) -> Any:
            result = original(self, node, parent)
            if node.get("fixed") is not None and result is not None:
                setattr(result, FIXED_ATTR, node.get("fixed"))
            return result

        return visit

    # Global declarations are dispatched through the visitor's tag table, local ones by name.
    table = visitor.SchemaVisitor.visitors
    patched = {
        "simpleType": visit_simple_type,
        "element": with_fixed(visitor.SchemaVisitor.visit_element),
        "attribute": with_fixed(visitor.SchemaVisitor.visit_attribute),
    }
    originals = {name: getattr(visitor.SchemaVisitor, f"visit_{_SNAKE[name]}") for name in patched}
    for name, function in patched.items():
        setattr(visitor.SchemaVisitor, f"visit_{_SNAKE[name]}", function)
        table[f"{{{XS}}}{name}"] = function
    unresolved.UnresolvedCustomType.resolve = resolve
    try:
        yield
    finally:
        for name, function in originals.items():
            setattr(visitor.SchemaVisitor, f"visit_{_SNAKE[name]}", function)
            table[f"{{{XS}}}{name}"] = function
        unresolved.UnresolvedCustomType.resolve = original_resolve


@dataclass
class Simple:
    """A simple type: the XSD built-in it derives from, and its facets."""

    builtin: str
    facets: dict[str, Any] = field(default_factory=dict)


@dataclass
class Node:
    """An element or attribute of a complex type, as it appears in XML."""

    name: str
    namespace: str | None
    kind: Simple | Complex | None  # None: xsd:any
    attribute: bool = False
    min_occurs: int = 1
    max_occurs: int | None = 1  # None: unbounded
    nillable: bool = False
    choice: int | None = None  # index into the parent's choices
    fixed: str | None = None  # the schema's fixed value: always sent as it is

    @property
    def repeats(self) -> bool:
        return self.max_occurs is None or self.max_occurs > 1


@dataclass
class Choice:
    """An xsd:choice: one of its alternatives (each a list of node names) is present."""

    alternatives: list[list[str]]
    optional: bool


@dataclass
class Complex:
    name: str | None
    nodes: list[Node] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)
    text: Simple | None = None  # simpleContent
    open: bool = False  # xsd:any (or anyAttribute) allows more
    cut: str = ""  # why nested content was left out


_BUILTIN_NAMES = {
    "AnySimpleType": "anySimpleType",
    "AnyType": "anyType",
    "AnyURI": "anyURI",
    "Base64Binary": "base64Binary",
    "Boolean": "boolean",
    "Byte": "byte",
    "Date": "date",
    "DateTime": "dateTime",
    "Decimal": "decimal",
    "Double": "double",
    "Duration": "duration",
    "Float": "float",
    "HexBinary": "hexBinary",
    "Int": "int",
    "Integer": "integer",
    "Long": "long",
    "NegativeInteger": "negativeInteger",
    "NonNegativeInteger": "nonNegativeInteger",
    "NonPositiveInteger": "nonPositiveInteger",
    "PositiveInteger": "positiveInteger",
    "QName": "QName",
    "Short": "short",
    "String": "string",
    "Time": "time",
    "UnsignedByte": "unsignedByte",
    "UnsignedInt": "unsignedInt",
    "UnsignedLong": "unsignedLong",
    "UnsignedShort": "unsignedShort",
    "gYear": "gYear",
    "gYearMonth": "gYearMonth",
    "gMonth": "gMonth",
    "gMonthDay": "gMonthDay",
    "gDay": "gDay",
}


def simple_of(xsd_type: Any) -> Simple:
    """The built-in a zeep simple type derives from, with the facets recorded on it."""
    from zeep.xsd.types.collection import ListType, UnionType

    facets = dict(getattr(xsd_type, FACETS_ATTR, {}))
    if isinstance(xsd_type, ListType | UnionType):
        return Simple("string", facets)
    module = "zeep.xsd.types.builtins"
    for cls in type(xsd_type).__mro__:
        if cls.__module__ == module and cls.__name__ in _BUILTIN_NAMES:
            return Simple(_BUILTIN_NAMES[cls.__name__], facets)
    return Simple("string", facets)


def _occurs(value: Any) -> int | None:
    return None if value == "unbounded" else int(value)


class Reader:
    """Walks zeep types into ``Complex``/``Simple`` trees, cutting recursion."""

    def __init__(self, recursion_depth: int = RECURSION_DEPTH, max_depth: int = MAX_DEPTH) -> None:
        self.recursion_depth = recursion_depth
        self.max_depth = max_depth

    def kind(self, xsd_type: Any, path: tuple[str, ...]) -> Simple | Complex:
        from zeep.xsd.types.complex import ComplexType

        if not isinstance(xsd_type, ComplexType):
            return simple_of(xsd_type)
        qname = getattr(xsd_type, "qname", None)
        name = qname.text if qname is not None else None
        if name is not None and path.count(name) > self.recursion_depth:
            local = name.rpartition("}")[2]
            depth = self.recursion_depth + 1
            return Complex(name, cut=f"recursive type {local}: cut at depth {depth}")
        if len(path) >= self.max_depth:
            return Complex(name, cut=f"nested deeper than {self.max_depth} levels: left out")
        return self.complex(xsd_type, (*path, name or "?"))

    def complex(self, xsd_type: Any, path: tuple[str, ...]) -> Complex:
        from zeep.xsd.elements.any import AnyAttribute

        qname = getattr(xsd_type, "qname", None)
        result = Complex(qname.text if qname is not None else None)
        content = xsd_type._element
        if content is not None:
            self._particle(content, result, path, None, optional=False, repeats=False)
        for name, attribute in xsd_type.attributes:
            if isinstance(attribute, AnyAttribute):
                result.open = True
                continue
            if name == "_value_1" and attribute.__class__.__name__ != "Attribute":
                continue
            result.nodes.append(
                Node(
                    name=attribute.qname.localname if attribute.qname is not None else name,
                    namespace=attribute.qname.namespace if attribute.qname is not None else None,
                    kind=simple_of(attribute.type),
                    attribute=True,
                    min_occurs=1 if getattr(attribute, "required", False) else 0,
                    fixed=getattr(attribute, FIXED_ATTR, None),
                )
            )
        for node in list(result.nodes):
            # zeep gives simpleContent's text as an element named _value_1.
            if node.name == "_value_1" and not node.attribute and isinstance(node.kind, Simple):
                result.nodes.remove(node)
                result.text = node.kind
        if result.text is None:
            self._simple_content(xsd_type, result)
        return result

    def _simple_content(self, xsd_type: Any, result: Complex) -> None:
        # zeep models simpleContent as an element-less type whose text is ``_value_1``.
        from zeep.xsd.types.simple import AnySimpleType

        base = getattr(xsd_type, "_extension", None) or getattr(xsd_type, "_restriction", None)
        while base is not None and not isinstance(base, AnySimpleType):
            base = getattr(base, "_extension", None) or getattr(base, "_restriction", None)
        if base is not None and not any(not node.attribute for node in result.nodes):
            result.text = simple_of(base)

    def _particle(
        self,
        particle: Any,
        result: Complex,
        path: tuple[str, ...],
        choice: int | None,
        optional: bool,
        repeats: bool,
    ) -> list[str]:
        """Add the particle's elements to ``result``; return the names it added."""
        from zeep.xsd.elements.any import Any as AnyElement
        from zeep.xsd.elements.element import Element
        from zeep.xsd.elements.indicators import Choice as ChoiceIndicator
        from zeep.xsd.elements.indicators import Group

        min_occurs = getattr(particle, "min_occurs", 1)
        max_occurs = _occurs(getattr(particle, "max_occurs", 1))
        optional = optional or min_occurs == 0
        repeats = repeats or max_occurs is None or max_occurs > 1
        if isinstance(particle, AnyElement):
            result.open = True
            return []
        if isinstance(particle, Element):
            node = Node(
                name=particle.qname.localname,
                namespace=particle.qname.namespace,
                kind=self.kind(particle.type, path),
                min_occurs=0 if optional else min_occurs,
                max_occurs=None if repeats and max_occurs == 1 else max_occurs,
                nillable=bool(particle.nillable),
                choice=choice,
                fixed=getattr(particle, FIXED_ATTR, None),
            )
            result.nodes.append(node)
            return [node.name]
        if isinstance(particle, Group):
            return self._particle(particle.child, result, path, choice, optional, repeats)
        if isinstance(particle, ChoiceIndicator):
            index = len(result.choices)
            group = Choice([], optional=optional)
            result.choices.append(group)
            added: list[str] = []
            for item in particle:
                names = self._particle(item, result, path, index, True, repeats)
                if names:
                    group.alternatives.append(names)
                    added += names
                elif isinstance(item, AnyElement):
                    group.optional = True  # an xsd:any branch: nothing we name is needed
            if not group.alternatives:
                result.choices.pop()
            return added
        # sequence or all
        added = []
        for item in particle:
            added += self._particle(item, result, path, choice, optional, repeats)
        return added
