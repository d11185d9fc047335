"""Input and output paths checked against the WSDL: a typo is a config error naming the
real names.

A tool's output ``from:`` paths read the answer by element local names. A misspelt name
(``WEIGHT_GR`` for ``WEIGHT_G``) would otherwise be a silent null in every answer; here it is
found when the config loads, with the nearest name the answer's schema has at that place.
Paths that are JMESPath expressions (filters, functions) and elements whose type allows
``xsd:any`` are not checked: their names cannot be known from the schema.
"""

from __future__ import annotations

import re
from typing import Any

from adapters.base import BackendSetupError
from gateway.config.models import ToolConfig
from gateway.mapping.spec import InputField, OutputField, OutputSpec
from gateway.suggest import did_you_mean

_PLAIN = re.compile(r'^(?:[A-Za-z_@#][\w-]*|"[^"]+")(?:\.(?:[A-Za-z_@#][\w-]*|"[^"]+"))*$')
_PART = re.compile(r'"[^"]+"|[^.]+')


def _children(xsd_type: Any) -> dict[str, Any] | None:
    """Local name -> type of the elements a complex type holds; None if it is open (xsd:any)."""
    elements = _element_children(xsd_type)
    if elements is None:
        return None
    return {clark.rpartition("}")[2]: child for clark, child in elements.items()}


def _walk(xsd_type: Any, path: str, loc: tuple[Any, ...], operation: str) -> Any:
    """The type at ``path`` below ``xsd_type``; raises naming the nearest real element."""
    for raw in _PART.findall(path):
        name = raw.strip('"')
        if name == "@":
            continue
        if name.startswith("@") or name == "#text":
            _check_attribute(xsd_type, name, loc, operation)
            return None  # an attribute or a text holds nothing further to check
        children = _children(xsd_type)
        if children is None:
            return None  # open content: anything may be there
        if name not in children:
            known = sorted(children)
            listed = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
            hint = did_you_mean(name, known)
            suggestion = hint if hint.startswith(" (did you mean") else ""
            raise BackendSetupError(
                loc,
                f"the answer of {operation} has no element '{name}' here"
                f"{suggestion} (it has: {listed or 'no elements'})",
            )
        xsd_type = children[name]
    return xsd_type


def _check_attribute(xsd_type: Any, name: str, loc: tuple[Any, ...], operation: str) -> None:
    known = _attributes(xsd_type)
    if name == "#text" or known is None or name[1:] in known:
        return
    listed = ", ".join(sorted(known)) or "no attributes"
    hint = did_you_mean(name[1:], sorted(known))
    suggestion = hint if hint.startswith(" (did you mean") else ""
    raise BackendSetupError(
        loc,
        f"the answer of {operation} has no attribute '{name[1:]}' here{suggestion} "
        f"(it has: {listed})",
    )


def check_output_paths(operation: Any, output: OutputSpec, name: str) -> None:
    """Raise ``BackendSetupError`` for an output path the operation's answer cannot have."""
    message = operation.output
    body = message.body if message is not None else None
    if body is None or output.uses_xml or output.record is not None:
        return
    root: Any = body.type
    if output.source is not None:
        if not _PLAIN.match(output.source):
            return
        root = _walk(root, output.source, ("output", "from"), name)
        if root is None:
            return
    _check_fields(root, output.fields, ("output", "fields"), name)


def _check_fields(
    xsd_type: Any, fields: dict[str, OutputField], loc: tuple[Any, ...], name: str
) -> None:
    for field, spec in fields.items():
        if spec.const is not None or spec.record is not None or spec.xpath is not None:
            continue
        path = spec.source or field
        if not _PLAIN.match(path):
            continue
        found = _walk(xsd_type, path, (*loc, field, "from"), name)
        if found is not None and spec.fields is not None:
            _check_fields(found, spec.fields, (*loc, field, "fields"), name)


def _element_children(xsd_type: Any) -> dict[str, Any] | None:
    """Clark name -> type of a complex type's elements; None if it is open (xsd:any)."""
    from zeep.xsd.elements.any import Any as AnyElement
    from zeep.xsd.elements.element import Element
    from zeep.xsd.elements.indicators import Group
    from zeep.xsd.types.complex import ComplexType

    if not isinstance(xsd_type, ComplexType):
        return {}
    names: dict[str, Any] = {}
    pending: list[Any] = [xsd_type._element] if xsd_type._element is not None else []
    while pending:
        particle = pending.pop()
        if isinstance(particle, AnyElement):
            return None
        if isinstance(particle, Element) and particle.name != "_value_1":
            names[particle.qname.text] = particle.type
        elif isinstance(particle, Group):
            pending.append(particle.child)
        elif isinstance(particle, list):
            pending.extend(particle)
    return names


def _attributes(xsd_type: Any) -> set[str] | None:
    from zeep.xsd.elements.any import AnyAttribute

    names: set[str] = set()
    for name, attribute in getattr(xsd_type, "attributes", []):
        if isinstance(attribute, AnyAttribute):
            return None
        names.add(attribute.qname.localname if attribute.qname is not None else name)
    return names


def check_request_paths(operation: Any, tool: ToolConfig, resolve: Any) -> None:
    """An XML request's root and every input ``to:`` path against the operation's XSD.

    ``resolve`` turns ``prefix:Local`` into a Clark name with the request's namespaces.
    """
    body = operation.input.body
    if body is None or body.qname is None:
        return
    root = resolve(tool.request.xml.root) if tool.request and tool.request.xml else None
    if root is not None and root != body.qname.text:
        raise BackendSetupError(
            ("request", "xml", "root"),
            f"operation {tool.operation} takes <{body.qname.text}>, not <{root}> "
            "(check the name and its namespace)",
        )
    _check_inputs(body.type, tool.input, ("input",), tool.operation, resolve)


def _check_inputs(
    xsd_type: Any, fields: dict[str, InputField], loc: tuple[Any, ...], operation: str,
    resolve: Any,
) -> None:  # fmt: skip
    for field, spec in fields.items():
        current = xsd_type
        parts = [part for part in (spec.to or field).split("/") if part]
        for part in parts:
            if part == "#text":
                break
            if part.startswith("@"):
                known_attributes = _attributes(current)
                local = resolve(part).rpartition("}")[2]
                if known_attributes is not None and local not in known_attributes:
                    raise BackendSetupError(
                        (*loc, field, "to"),
                        f"{operation}: no attribute '{local}' here"
                        f"{did_you_mean(local, known_attributes)}",
                    )
                break
            children = _element_children(current)
            if children is None:
                current = None
                break
            clark = resolve(part)
            if clark not in children:
                by_local = {name.rpartition("}")[2]: name for name in children}
                local = clark.rpartition("}")[2]
                hint = (f" (the schema has {by_local[local]}: check the namespace)"
                        if local in by_local else did_you_mean(local, by_local))  # fmt: skip
                raise BackendSetupError(
                    (*loc, field, "to"),
                    f"{operation}: no element {clark} here{hint}",
                )
            current = children[clark]
        if current is not None and spec.fields is not None:
            _check_inputs(current, spec.fields, (*loc, field, "fields"), operation, resolve)
