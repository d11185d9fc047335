"""``legacy-gateway import wsdl``: one typed tool per operation of every SOAP port.

zeep reads the WSDL (imports, includes, SOAP 1.1 and 1.2 bindings, document and rpc
styles); ``xsd`` turns its types into shapes and ``fields`` into the mapping language. A
request is built as XML from the input fields (the element names, forms and order of the
schema); the answer is read as plain data by local names. Ports that only repeat another
port's operations (the SOAP 1.2 twin of a SOAP 1.1 port) are not imported twice.

A WSDL with bindings but no ``<service>`` (the abstract half of a split WSDL, or one
published without endpoints) is imported too: its SOAP bindings become the ports of a
small concrete WSDL written beside the config (``service_wsdl``), which imports the source
and names no real address; each backend's ``endpoint`` is the ``--address`` given, or a
``${NAME_URL}`` variable to set.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from gateway.importers.fields import Prefixes, example, input_fields, output_fields, snake
from gateway.importers.xsd import Complex, Reader, Simple, facets_recorded

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP11_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap12/"
#: The address written into a generated service: a reserved name that never resolves, so a
#: backend without its endpoint fails at once instead of reaching some other host.
NO_ADDRESS = "http://endpoint.invalid/"
READ_VERBS = frozenset(
    {"get", "list", "search", "find", "query", "read", "fetch", "lookup", "describe", "count"}
)


class WsdlImportError(ValueError):
    """The WSDL cannot be read, or has nothing to import."""


@dataclass
class ImportedTool:
    name: str
    operation: str
    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    # SOAP header elements the operation declares: (local name, namespace).
    headers: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class ImportedBackend:
    name: str
    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class WsdlImport:
    source: str
    backends: list[ImportedBackend]
    tools: list[ImportedTool]
    skipped: list[str]
    # A WSDL without <service>: the concrete WSDL to write into the config directory.
    service_wsdl: ServiceWsdl | None = None


@dataclass
class ServiceWsdl:
    """A concrete WSDL for a source that declares bindings but no service."""

    name: str  # file name in the config directory
    text: str


@dataclass
class _Port:
    service: str
    name: str
    binding: Any
    address: str


def load_client(source: str) -> Any:
    import zeep

    settings = zeep.Settings(strict=False, forbid_dtd=True, forbid_entities=True)
    try:
        with facets_recorded():
            client = zeep.Client(source, settings=settings)
            # Types resolve lazily; resolve them while the facets are being recorded.
            for document in client.wsdl.types.documents:
                for xsd_type in list(document._types.values()):
                    xsd_type.resolve()
                for element in list(document._elements.values()):
                    element.resolve()
    except Exception as exc:
        raise WsdlImportError(f"cannot read WSDL {source}: {exc or type(exc).__name__}") from exc
    return client


def source_stem(source: str) -> str:
    """The name of the files written from a WSDL: customer_master for .../CustomerMaster?wsdl."""
    return snake(Path(source.rstrip("/").split("?")[0]).stem) or "service"


def _root(source: str, client: Any = None) -> Any:
    """The WSDL's root element, or None when it cannot be read again."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        if "://" in source and client is not None:
            # The document zeep fetched, through its own transport (and cache).
            return etree.fromstring(client.transport.load(source), parser)
        return etree.parse(source, parser).getroot()
    except (OSError, ValueError, etree.XMLSyntaxError):
        return None


def documentation(source: str, client: Any = None) -> dict[str, str]:
    """Operation name -> its wsdl:documentation text (from every portType of the file)."""
    root = _root(source, client)
    if root is None:
        return {}
    docs: dict[str, str] = {}
    for operation in root.iterfind(f"{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation"):
        node = operation.find(f"{{{WSDL_NS}}}documentation")
        text = " ".join(str(node.xpath("string()")).split()) if node is not None else ""
        if text:
            docs.setdefault(operation.get("name", ""), text)
    return docs


def guess_effect(name: str) -> str:
    return "read" if snake(name).split("_")[0] in READ_VERBS else "write"


def import_wsdl(
    source: str,
    out_dir: Path,
    operations: str | None = None,
    reader: Reader | None = None,
    address: str | None = None,
) -> WsdlImport:
    """One backend per SOAP port and one tool per operation; ``address`` is every backend's
    endpoint (needed where the WSDL has no service, an override where it has)."""
    if address is not None:
        check_address(address)
    client = load_client(source)
    docs = documentation(source, client)
    reader = reader or Reader()
    wsdl_ref = (
        source if "://" in source else os.path.relpath(Path(source).resolve(), out_dir.resolve())
    )
    backends: list[ImportedBackend] = []
    tools: list[ImportedTool] = []
    skipped: list[str] = []
    seen_port_types: dict[str, str] = {}
    names: set[str] = set()
    soap_ports = _service_ports(client)
    service_wsdl = None
    if not client.wsdl.services:
        soap_ports = _binding_ports(client, source)
        if soap_ports:
            service_wsdl = _service_wsdl(source, client, wsdl_ref, soap_ports)
            wsdl_ref = service_wsdl.name
    if not soap_ports:
        raise WsdlImportError(f"{source} declares no SOAP port")
    for port in soap_ports:
        service_name, port_name, binding = port.service, port.name, port.binding
        port_type = binding.port_name.text if getattr(binding, "port_name", None) else port_name
        if port_type in seen_port_types:
            skipped.append(f"port {service_name}/{port_name}: same operations as "
                           f"{seen_port_types[port_type]}")  # fmt: skip
            continue
        # The first port is the service; further ones are named by service and port.
        backend_name = snake(f"{service_name}_{port_name}" if backends else service_name)[:64]
        seen_port_types[port_type] = backend_name
        version = "1.2" if "2003/05" in binding.nsmap["soap-env"] else "1.1"
        backend_cfg: dict[str, Any] = {
            "adapter": "soap",
            "description": f"{service_name} ({port_name}, SOAP {version})",
            "wsdl": wsdl_ref,
            "service": service_name,
            "port": port_name,
        }
        backend = ImportedBackend(backend_name, backend_cfg)
        backends.append(backend)
        if address is not None:
            backend_cfg["endpoint"] = address
        elif not port.address:
            backend_cfg["endpoint"] = f"${{{backend_name.upper()}_URL}}"
        for op_name, operation in binding._operations.items():
            if operations and not (fnmatch.fnmatchcase(op_name, operations)
                                   or fnmatch.fnmatchcase(snake(op_name), operations)):  # fmt: skip
                continue
            tool_name = snake(op_name)[:64]
            if tool_name in names:
                tool_name = f"{backend_name}_{tool_name}"[:64]
            try:
                tool = _tool(tool_name, backend_name, op_name, operation, docs, reader)
                tool.config["tags"] = [snake(service_name), snake(port_type.rpartition("}")[2])]
            except _Unsupported as exc:
                skipped.append(f"operation {op_name}: {exc}")
                continue
            names.add(tool_name)
            tools.append(tool)
            _add_headers(backend_cfg, backend_name, tool.headers)
    return WsdlImport(source, backends, tools, skipped, service_wsdl)


def check_address(address: str) -> None:
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WsdlImportError(
            f"--address takes an http(s) URL, e.g. https://host/path; got {address}"
        )


def _is_soap(binding: Any) -> bool:
    return "soap-env" in getattr(binding, "nsmap", {})


def _service_ports(client: Any) -> list[_Port]:
    return [
        _Port(service_name, port_name, port.binding, port.binding_options.get("address") or "")
        for service_name, service in client.wsdl.services.items()
        for port_name, port in service.ports.items()
        if _is_soap(port.binding)
    ]


def _binding_ports(client: Any, source: str) -> list[_Port]:
    """The SOAP bindings of a WSDL without <service>, as the ports of one service named
    after the WSDL, each port named after its binding."""
    bindings = [binding for binding in client.wsdl.bindings.values() if _is_soap(binding)]
    service = source_stem(source).title().replace("_", "") or "Service"
    return [_Port(service, binding.name.localname, binding, "") for binding in bindings]


def _service_wsdl(source: str, client: Any, wsdl_ref: str, ports: list[_Port]) -> ServiceWsdl:
    """A concrete WSDL that imports the source and declares one service over its bindings."""
    root = _root(source, client)
    namespace = root.get("targetNamespace", "") if root is not None else ""
    nsmap = {"wsdl": WSDL_NS, "soap": SOAP11_BINDING_NS, "soap12": SOAP12_BINDING_NS}
    prefixes: dict[str, str] = {}
    for port in ports:
        uri = port.binding.name.namespace or ""
        prefixes.setdefault(uri, f"b{len(prefixes)}")
    nsmap.update({prefix: uri for uri, prefix in prefixes.items() if uri})
    definitions = etree.Element(f"{{{WSDL_NS}}}definitions", nsmap=nsmap)
    definitions.set("targetNamespace", namespace)
    definitions.append(
        etree.Comment(
            f" Generated by `legacy-gateway import wsdl`: {source} declares bindings but no"
            " service. The address below is a stand-in: calls go to the backend's endpoint. "
        )
    )
    etree.SubElement(definitions, f"{{{WSDL_NS}}}import", namespace=namespace, location=wsdl_ref)
    service = etree.SubElement(definitions, f"{{{WSDL_NS}}}service", name=ports[0].service)
    for port in ports:
        uri = port.binding.name.namespace or ""
        binding = f"{prefixes[uri]}:{port.name}" if uri else port.name
        element = etree.SubElement(service, f"{{{WSDL_NS}}}port", name=port.name, binding=binding)
        soap12 = "2003/05" in port.binding.nsmap["soap-env"]
        soap_ns = SOAP12_BINDING_NS if soap12 else SOAP11_BINDING_NS
        etree.SubElement(element, f"{{{soap_ns}}}address", location=NO_ADDRESS)
    text = etree.tostring(definitions, pretty_print=True, xml_declaration=True, encoding="utf-8")
    return ServiceWsdl(f"{source_stem(source)}.service.wsdl", text.decode("utf-8"))


def _add_headers(
    backend: dict[str, Any], backend_name: str, headers: list[tuple[str, str | None]]
) -> None:
    """The operation's SOAP header elements on the backend, each from an environment variable
    (empty by default: left out until set)."""
    if not headers:
        return
    spec = backend.setdefault("soap_header", {"namespaces": {}, "values": {}})
    by_uri = {uri: prefix for prefix, uri in spec["namespaces"].items()}
    for local, namespace in headers:
        name = local
        if namespace:
            prefix = by_uri.setdefault(namespace, f"h{len(by_uri)}")
            spec["namespaces"][prefix] = namespace
            name = f"{prefix}:{local}"
        variable = f"{backend_name}_{snake(local)}".upper()
        spec["values"].setdefault(name, f"${{{variable}:-}}")


class _Unsupported(Exception):
    pass


def _tool(
    name: str, backend: str, op_name: str, operation: Any, docs: dict[str, str], reader: Reader
) -> ImportedTool:
    effect = guess_effect(op_name)
    description = docs.get(op_name) or f"SOAP operation {op_name}."
    config: dict[str, Any] = {
        "description": description,
        "backend": backend,
        "operation": op_name,
        "effect": effect,
    }
    if effect == "write":
        config["approval"] = "none"
    notes: list[str] = []
    header = operation.input.header
    headers: list[tuple[str, str | None]] = []
    if header is not None and header.type.elements:
        headers = [(element.qname.localname, element.qname.namespace)
                   for _, element in header.type.elements]  # fmt: skip
        names = ", ".join(name for name, _ in headers)
        notes.append(f"SOAP headers {names}: set on the backend (soap_header)")
    body = operation.input.body
    arguments: dict[str, Any] = {}
    if body is not None:
        if body.qname is None or body.qname.localname in ("_value_1", ""):
            raise _Unsupported("a document/literal message with several parts")
        prefixes = Prefixes()
        root = prefixes.name(body.qname.localname, body.qname.namespace)
        shape = reader.kind(body.type, ())
        if isinstance(shape, Simple):
            shape = Complex(None, text=shape)
        fields, rules = input_fields(shape, prefixes)
        if shape.open:
            notes.append("the request allows further elements (xsd:any): not mapped")
        config["request"] = {"xml": {"root": root, "namespaces": prefixes.declared}}
        if fields:
            config["input"] = fields
        if rules:
            config["input_json_schema"] = rules
        arguments = example(shape)
    config["output"] = _output(operation, reader, notes)
    config["examples"] = [arguments]
    return ImportedTool(name, op_name, config, notes, headers)


def _output(operation: Any, reader: Reader, notes: list[str]) -> dict[str, Any]:
    message = operation.output
    body = message.body if message is not None else None
    if body is None:
        return {}
    shape = reader.kind(body.type, ())
    if isinstance(shape, Simple):
        return {"fields": {snake(body.qname.localname): {"from": "@"}}}
    fields = output_fields(shape)
    if shape.open:
        notes.append("the answer may hold further elements (xsd:any): not mapped")
    # A wrapper holding one record (GetXResponse/GetXResult): the record is the result.
    if len(fields) == 1:
        (only,) = fields.values()
        if "fields" in only and not only.get("list"):
            return {"from": only["from"], "fields": only["fields"]}
    return {"fields": fields} if fields else {}
