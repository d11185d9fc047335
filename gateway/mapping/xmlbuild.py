"""Building a request XML document from mapped parameters, for backends that take raw XML.

The input mapper places each value at its ``to`` path (``ord:Customer/@id``,
``ord:Lines/ord:Line``) in a nested dict; ``XmlBuilder`` turns that dict into elements:
prefixes resolve through the declared namespaces, ``@name`` keys become attributes, lists
become repeated elements, ``#text`` is the text of an element that also has attributes, and
None is left out. Names are resolved once per builder, not per call.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from lxml import etree

TEXT = "#text"


class XmlNameError(ValueError):
    """A name whose prefix is not declared, or that is not a valid XML name."""


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


class XmlBuilder:
    def __init__(self, root: str, namespaces: dict[str, str]) -> None:
        self.namespaces = dict(namespaces)
        self._names: dict[str, str] = {}
        self.root = self.resolve(root)
        # The declared prefixes are kept on the root, so the document reads as integrators
        # wrote it rather than with generated ns0 prefixes.
        self.nsmap = {prefix or None: uri for prefix, uri in self.namespaces.items()}

    def resolve(self, name: str) -> str:
        """The Clark name ({uri}local) of ``prefix:local``; raises ``XmlNameError``."""
        known = self._names.get(name)
        if known is not None:
            return known
        bare = name.removeprefix("@")
        prefix, _, local = bare.rpartition(":")
        if prefix and prefix not in self.namespaces:
            declared = ", ".join(sorted(self.namespaces)) or "none"
            raise XmlNameError(f"prefix '{prefix}' is not declared (declared: {declared})")
        try:
            etree.QName(local)
        except ValueError:
            raise XmlNameError(f"'{local}' is not a valid XML name") from None
        if prefix:
            clark = f"{{{self.namespaces[prefix]}}}{local}"
        elif not name.startswith("@") and "" in self.namespaces:
            clark = f"{{{self.namespaces['']}}}{local}"
        else:
            clark = local
        self._names[name] = clark
        return clark

    def build(self, values: dict[str, Any]) -> etree._Element:
        root = etree.Element(self.root, nsmap=self.nsmap)  # type: ignore[arg-type]
        self._fill(root, values)
        return root

    def _fill(self, element: etree._Element, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if value is None:
                continue
            if key == TEXT:
                element.text = _text(value)
            elif key.startswith("@"):
                element.set(self.resolve(key), _text(value))
            else:
                tag = self.resolve(key)
                for item in value if isinstance(value, list) else [value]:
                    if item is None:
                        continue
                    child = etree.SubElement(element, tag)
                    if isinstance(item, dict):
                        self._fill(child, item)
                    else:
                        child.text = _text(item)
