"""Request envelopes compiled once per operation, instead of built by zeep per call.

zeep's serialiser walks its XSD object model on every call (~80 us for a one-field request on
this machine); most legacy operations take a flat list of simple values, for which the
envelope is always the same tree with different texts. ``compile_template`` reads the
operation's shape from zeep once; ``EnvelopeTemplate.build`` then writes the same bytes zeep
would (tests compare them). Operations with SOAP headers, WS-Addressing, or complex or
repeated parameters return ``None``: zeep builds those.

The envelope's fixed bytes are cut once, from lxml's own serialisation of the tree with marker
texts, and a call joins them with its escaped texts: an lxml tree and its serialisation cost
more than the rest of the SOAP request's work. A text the byte join might write differently
from lxml (control characters, which lxml refuses, and surrogates) takes the tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lxml import etree

SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
# A private-use character: no WSDL name or namespace holds it.
_MARK = "\ue000"
# Texts lxml refuses or writes as character references: the tree builds those.
_TREE_ONLY = re.compile("[\x00-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class _Piece:
    """One parameter's element as bytes around its text."""

    name: str
    opening: bytes
    closing: bytes


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
    # The envelope's bytes before and after the parameters, and each parameter's: None when
    # the cut did not reproduce lxml's serialisation (the tree builds every envelope).
    head: bytes = b""
    tail: bytes = b""
    pieces: tuple[_Piece, ...] | None = None

    def build(self, params: dict[str, Any]) -> bytes:
        if self.pieces is None:
            return self.build_tree(params)
        texts = {}
        for parameter in self.parameters:
            value = params.get(parameter.name)
            if value is not None:
                texts[parameter.name] = parameter.render(value)
        joined = self._join(texts)
        return self._serialise(texts) if joined is None else joined

    def build_tree(self, params: dict[str, Any]) -> bytes:
        """The envelope built as an lxml tree: the reference the byte join reproduces."""
        texts = {}
        for parameter in self.parameters:
            value = params.get(parameter.name)
            if value is not None:
                texts[parameter.name] = parameter.render(value)
        return self._serialise(texts)

    def _join(self, texts: dict[str, str]) -> bytes | None:
        """The envelope as the fixed bytes around the escaped texts; None for one the tree
        must write (no parameter: lxml writes an empty wrapper as <x/>)."""
        if self.pieces is None or not texts:
            return None
        out = [self.head]
        for piece in self.pieces:
            text = texts.get(piece.name)
            if text is not None:
                if type(text) is not str or _TREE_ONLY.search(text) is not None:
                    return None
                # lxml's escaping of element text: &, < and > (quotes stay as they are).
                escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                out += (piece.opening, escaped.encode("utf-8"), piece.closing)
        out.append(self.tail)
        return b"".join(out)

    def _serialise(self, texts: dict[str, str], wrapper_text: str | None = None) -> bytes:
        ns = self.envelope_ns
        envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap-env": ns})
        body = etree.SubElement(envelope, f"{{{ns}}}Body")
        wrapper_nsmap = {"ns0": self.wrapper_ns} if self.wrapper_ns else None
        wrapper = etree.SubElement(body, self.wrapper_tag, nsmap=wrapper_nsmap)
        wrapper.text = wrapper_text
        for parameter in self.parameters:
            text = texts.get(parameter.name)
            if text is not None:
                etree.SubElement(wrapper, parameter.tag).text = text
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
    template = EnvelopeTemplate(
        envelope_ns=binding.nsmap["soap-env"],
        wrapper_tag=body.qname.text,
        wrapper_ns=body.qname.namespace,
        parameters=tuple(parameters),
        headers=http_headers(binding, operation),
    )
    return _with_pieces(template)


def _with_pieces(template: EnvelopeTemplate) -> EnvelopeTemplate:
    """The template with its bytes cut from lxml's serialisation, checked against it."""
    mark = _MARK.encode("utf-8")
    head, _, tail = template._serialise({}, wrapper_text=_MARK).partition(mark)
    pieces = []
    for parameter in template.parameters:
        # The wrapper's marker text, then the parameter's element around its own.
        cut = template._serialise({parameter.name: _MARK}, wrapper_text=_MARK).split(mark)
        if len(cut) != 3 or cut[0] != head or not cut[2].endswith(tail):
            return template
        closing = cut[2][: len(cut[2]) - len(tail)]
        pieces.append(_Piece(parameter.name, cut[1], closing))
    if not pieces:
        return template
    cut_template = replace(template, head=head, tail=tail, pieces=tuple(pieces))
    everything = {parameter.name: "a & <b>" for parameter in template.parameters}
    if cut_template._join(everything) != template._serialise(everything):
        return template
    return cut_template


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
