"""An lxml XMLSchema of a WSDL's types, to check envelopes the gateway renders.

A WSDL's schemas sit inline in wsdl:types and import each other by namespace alone; lxml
needs files and locations. Each inline schema is written to a file, namespace-only imports
are pointed at the file holding that namespace, and one schema imports them all.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"


def wsdl_schema(wsdl: Path, workdir: Path) -> etree.XMLSchema:
    root = etree.parse(str(wsdl)).getroot()
    inline = root.findall(f"{{{WSDL}}}types/{{{XS}}}schema")
    for imported in root.findall(f"{{{WSDL}}}import"):
        location = imported.get("location")
        if location:
            inner = etree.parse(str((wsdl.parent / location).resolve())).getroot()
            inline += inner.findall(f"{{{WSDL}}}types/{{{XS}}}schema")
    files: dict[str, Path] = {}
    located: dict[str, str] = {}  # namespaces inline schemas import from files of their own
    copies = []
    for index, schema in enumerate(inline):
        copy = etree.fromstring(etree.tostring(schema))
        namespace = copy.get("targetNamespace", "")
        path = workdir / f"inline_{index}.xsd"
        files.setdefault(namespace, path)
        copies.append((copy, path))
    for copy, path in copies:
        for node in copy.iter(f"{{{XS}}}import", f"{{{XS}}}include"):
            location = node.get("schemaLocation")
            if location and "://" not in location:
                uri = (wsdl.parent / location).resolve().as_uri()
                node.set("schemaLocation", uri)
                if node.tag == f"{{{XS}}}import":
                    located.setdefault(node.get("namespace", ""), uri)
            elif not location and node.get("namespace") in files:
                node.set("schemaLocation", files[node.get("namespace", "")].as_uri())
        path.write_bytes(etree.tostring(copy))
    locations = {**located, **{ns: path.as_uri() for ns, path in files.items()}}
    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{uri}"/>'
        for ns, uri in locations.items()
        if ns
    )
    main = f'<xs:schema xmlns:xs="{XS}" elementFormDefault="qualified">{imports}</xs:schema>'
    (workdir / "main.xsd").write_text(main, encoding="utf-8")
    return etree.XMLSchema(etree.parse(str(workdir / "main.xsd")))


def body_content(envelope: str) -> etree._Element:
    root = etree.fromstring(envelope.encode("utf-8"))
    body = next(child for child in root if etree.QName(child).localname == "Body")
    return next(child for child in body if isinstance(child.tag, str))
