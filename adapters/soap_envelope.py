"""Request envelopes compiled once per operation, instead of built by zeep per call.

zeep's serialiser walks its XSD object model on every call (~80 us for a one-field request on
this machine); most legacy operations take a flat list of simple values, for which the
envelope is always the same tree with different texts. ``compile_template`` reads the
operation's shape from zeep once; ``EnvelopeTemplate.build`` then writes the same bytes zeep
would (tests compare them) with a handful of lxml calls. Operations with SOAP headers,
WS-Addressing, or complex or repeated parameters return ``None``: zeep builds those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree

SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"


@dataclass(frozen=True)
class Parameter:
    name: str
    tag: str
    required: bool
    render: Callable[[Any], str]


@dataclass(frozen=True)
class EnvelopeTemplate:
    envelope_ns: str
    wrapper_tag: str
    wrapper_ns: str | None
    parameters: tuple[Parameter, ...]
    headers: dict[str, str]

    def build(self, params: dict[str, Any]) -> bytes:
        ns = self.envelope_ns
        envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap-env": ns})
        body = etree.SubElement(envelope, f"{{{ns}}}Body")
        wrapper_nsmap = {"ns0": self.wrapper_ns} if self.wrapper_ns else None
        wrapper = etree.SubElement(body, self.wrapper_tag, nsmap=wrapper_nsmap)
        for parameter in self.parameters:
            value = params.get(parameter.name)
            if value is not None:
                etree.SubElement(wrapper, parameter.tag).text = parameter.render(value)
        return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def required_parameters(operation: Any) -> list[str]:
    """Names of the operation's parameters the legacy side requires."""
    body = operation.input.body
    if body is None:
        return []
    return [name for name, element in body.type.elements if getattr(element, "min_occurs", 0) >= 1]


#: XML Schema integer types, narrowest first, and the values each holds.
_XSD_INTEGER_RANGES: tuple[tuple[str, int | None, int | None], ...] = (
    ("Byte", -(2**7), 2**7 - 1),
    ("UnsignedByte", 0, 2**8 - 1),
    ("Short", -(2**15), 2**15 - 1),
    ("UnsignedShort", 0, 2**16 - 1),
    ("Int", -(2**31), 2**31 - 1),
    ("UnsignedInt", 0, 2**32 - 1),
    ("Long", -(2**63), 2**63 - 1),
    ("UnsignedLong", 0, 2**64 - 1),
    ("PositiveInteger", 1, None),
    ("NonNegativeInteger", 0, None),
    ("NegativeInteger", None, -1),
    ("NonPositiveInteger", None, 0),
)


def integer_parameter_ranges(operation: Any) -> dict[str, tuple[int | None, int | None]]:
    """(minimum, maximum) of each integer parameter, from its XML Schema type (xsd:int...)."""
    from zeep.xsd.types import builtins

    body = operation.input.body
    if body is None:
        return {}
    ranges: dict[str, tuple[int | None, int | None]] = {}
    for name, element in body.type.elements:
        for type_name, low, high in _XSD_INTEGER_RANGES:
            if isinstance(getattr(element, "type", None), getattr(builtins, type_name)):
                ranges[name] = (low, high)
                break
    return ranges


def compile_template(binding: Any, operation: Any) -> EnvelopeTemplate | None:
    from zeep.xsd.types.simple import AnySimpleType

    message = operation.input
    body = message.body
    if body is None or operation.abstract.wsa_action:
        return None
    if message.header is not None and message.header.type.elements:
        return None
    parameters = []
    for name, element in body.type.elements:
        if not isinstance(element.type, AnySimpleType) or element.max_occurs != 1:
            return None
        parameters.append(
            Parameter(
                name=name,
                tag=element.qname.text,
                required=element.min_occurs >= 1,
                render=element.type.xmlvalue,
            )
        )
    return EnvelopeTemplate(
        envelope_ns=binding.nsmap["soap-env"],
        wrapper_tag=body.qname.text,
        wrapper_ns=body.qname.namespace,
        parameters=tuple(parameters),
        headers=http_headers(binding, operation),
    )


def http_headers(binding: Any, operation: Any) -> dict[str, str]:
    """The HTTP headers of a request to ``operation``: SOAPAction and content type."""
    action = operation.soapaction or ""
    headers = {"SOAPAction": f'"{action}"', "Content-Type": "text/xml; charset=utf-8"}
    if binding.nsmap["soap-env"] == SOAP12_ENV:
        headers["Content-Type"] = f'application/soap+xml; charset=utf-8; action="{action}"'
    return headers


def wrap_document(
    envelope_ns: str, content: etree._Element, header: tuple[tuple[str, str], ...] = ()
) -> bytes:
    """A SOAP envelope whose body is ``content``: an XML request built by the input mapping.

    ``header`` holds (Clark name, text) of SOAP header elements sent with every request;
    empty texts are left out.
    """
    envelope = etree.Element(f"{{{envelope_ns}}}Envelope", nsmap={"soap-env": envelope_ns})
    present = [(name, text) for name, text in header if text]
    if present:
        head = etree.SubElement(envelope, f"{{{envelope_ns}}}Header")
        for name, text in present:
            etree.SubElement(head, name).text = text
    etree.SubElement(envelope, f"{{{envelope_ns}}}Body").append(content)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))
