"""Reading legacy XML into plain values: dicts keyed by local name, lists, strings.

Namespaces are dropped (legacy schemas rarely reuse a local name within one record) and a
repeated element becomes a list; a single occurrence stays a value, and the output mapping's
``list: true`` turns it into a list of one. ``xsi:nil`` becomes None.

Attributes are read only for mappings that name one (``from: "@currency"``, see
``reads_attributes``), so that every other mapping sees the values it always saw: an element's
attributes are then ``@name`` keys beside its children, and a leaf that carries attributes
becomes a record of them with its text under ``#text`` (the names an XML request's ``to:``
uses). Attributes of the XML Schema instance namespace (``xsi:nil``, ``xsi:type``) are markup
about the element, not data, and stay out.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
XSI_NIL = f"{XSI}nil"
#: The key of a leaf's text when the leaf also carries attributes.
TEXT_KEY = "#text"


_REFUSED = (
    "the response carries a DTD; refused (entity declarations enable XXE and "
    "entity-expansion attacks)"
)


class HostileXML(ValueError):
    """A document that carries a DTD: entity declarations are how XXE and billion laughs work."""


def hardened_parser() -> etree.XMLParser:
    # No entity resolution, no network, no DTD loading: the document is parsed as data only.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_untrusted(data: bytes, parser: etree.XMLParser) -> etree._Element:
    """Parse bytes from a legacy system; refuse any document with a DOCTYPE."""
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        # libxml2 may give up on an entity bomb before we can look at the DOCTYPE.
        if b"<!DOCTYPE" in data[:4096]:
            raise HostileXML(_REFUSED) from None
        raise
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise HostileXML(_REFUSED)
    return root


def local_name(tag: Any) -> str:
    text = str(tag)
    return text.rpartition("}")[2]


def element_to_value(element: etree._Element) -> Any:
    """The element's content as a dict of children, or its text for a leaf."""
    if not len(element):
        if element.get(XSI_NIL) in _TRUE:
            return None
        return element.text or ""
    record: dict[str, Any] = {}
    names = _LOCAL_NAMES
    for child in element:
        tag = child.tag
        key = names.get(tag)
        if key is None:
            if tag.__class__ is not str:
                continue  # comments and processing instructions
            key = local_name(tag)
            if len(names) < 10_000:
                names[tag] = key
        if len(child):
            value = element_to_value(child)
        else:
            value = child.text
            if value is None:
                # Only an element without text can be xsi:nil; most leaves skip the lookup.
                value = None if child.get(XSI_NIL) in _TRUE else ""
        if key not in record:
            record[key] = value
        else:
            existing = record[key]
            if isinstance(existing, list):
                # An element's own value is never a list, so a list here is made of repeats.
                existing.append(value)
            else:
                record[key] = [existing, value]
    if not record:  # only comments or processing instructions inside: a leaf after all
        return element.text or ""
    return record


_TRUE = ("true", "1")
# Tag -> local name: a legacy schema has few distinct tags and every record repeats them.
_LOCAL_NAMES: dict[str, str] = {}


def element_to_value_with_attributes(element: etree._Element) -> Any:
    """``element_to_value``, with the element's attributes as ``@name`` keys (see above)."""
    attributes = _attributes(element)
    record: dict[str, Any] = dict(attributes) if attributes else {}
    has_children = False
    for child in element:
        tag = child.tag
        if tag.__class__ is not str:
            continue  # comments and processing instructions
        has_children = True
        key = local_name(tag)
        value = element_to_value_with_attributes(child)
        if key not in record:
            record[key] = value
        else:
            existing = record[key]
            if isinstance(existing, list):
                existing.append(value)
            else:
                record[key] = [existing, value]
    if has_children:
        return record
    text = None if element.get(XSI_NIL) in _TRUE else (element.text or "")
    if not attributes:
        return text
    record[TEXT_KEY] = text
    return record


def _attributes(element: etree._Element) -> dict[str, str] | None:
    if not len(element.attrib):
        return None
    found = {
        f"@{local_name(name)}": str(value)
        for name, value in element.attrib.items()
        if not str(name).startswith(XSI)
    }
    return found or None
