"""SOAP adapter: WSDL services as tools.

Features:
    SOAP 1.1 and 1.2, document/literal and rpc/literal bindings (zeep reads the WSDL and
    serialises the request envelope); WS-Security UsernameToken and X.509 signatures
    (``adapters.soap_security``); endpoint override;
    per-backend timeout and connection limit; responses parsed by a hardened lxml parser
    (no DTD, no entities, no network), faults turned into ``LegacyFault``.

Why not zeep end to end: zeep's object model costs ~30x an lxml parse on large answers and
its requests transport is synchronous. zeep reads the WSDL; flat operations get compiled
envelopes (``soap_envelope``), others zeep's serialiser; ``http11`` sends them on kept-alive
connections; lxml reads the answer into plain values for the output mapping.

Config::

    backends:
      crm:
        adapter: soap
        wsdl: wsdl/crm.wsdl          # relative to the YAML file, or a URL
        endpoint: ${CRM_URL}         # optional: overrides the WSDL's soap:address
        service: CustomerMaster      # optional: which service and port of the WSDL
        port: CustomerMasterSoap12
        wsse: {username: ${CRM_USER}, password: ${CRM_PASSWORD}}
        headers: {X-Api-Key: ${CRM_KEY}}
        timeout_s: 5
        max_concurrency: 4

Why one module of this size: loading the WSDL, building, sending and reading an operation's
envelope share the prepared operation; compiled envelopes (``soap_envelope``), answer paths
(``soap_paths``), WS-Security (``soap_security``) and the HTTP client (``http11``) live apart.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

import httptools
from lxml import etree
from pydantic import Field, SecretStr, ValidationInfo, field_validator

from adapters.base import (
    Adapter,
    BackendSetupError,
    CallContext,
    CallRecord,
    Health,
    Interaction,
    OperationUnknown,
)
from adapters.http11 import HTTPClient, client_failure, split_target
from adapters.soap_envelope import (
    EnvelopeTemplate,
    compile_template,
    http_headers,
    integer_parameter_ranges,
    required_parameters,
    wrap_document,
)
from adapters.soap_paths import check_output_paths, check_request_paths
from adapters.soap_security import WsSecurity, ws_security_plugins
from adapters.tls import PROXY_DESCRIPTION, Proxy, TlsSettings, connection_setup
from gateway.config.models import BackendConfig, ToolConfig
from gateway.errors import (
    BackendUnavailable,
    DependencyMissing,
    GatewayError,
    LegacyBadResponse,
    LegacyFault,
    LegacyHTTPError,
)
from gateway.limits import cap_field, limits
from gateway.mapping.records import reads_attributes
from gateway.mapping.redaction import Commitments, sensitive_names
from gateway.mapping.spec import StrictModel
from gateway.mapping.xml import (
    HostileXML,
    element_to_value,
    element_to_value_with_attributes,
    hardened_parser,
    local_name,
    parse_untrusted,
)
from gateway.mapping.xmlbuild import XmlBuilder, XmlNameError
from gateway.suggest import did_you_mean

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
RECORDED_HEADERS = ("content-type", "soapaction", "content-length")
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
# An answer's root tag -> (envelope namespace, Body tag, Fault tag), for both SOAP versions.
_ENVELOPE_PARTS = {
    f"{{{ns}}}Envelope": (ns, f"{{{ns}}}Body", f"{{{ns}}}Fault") for ns in (SOAP11, SOAP12)
}


class SoapHeaderSpec(StrictModel):
    """SOAP header elements sent with every XML request (API tokens and the like)."""

    namespaces: dict[str, str] = Field(
        default_factory=dict, description="Prefix -> namespace URI of the element names."
    )
    values: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="prefix:Name -> text; empty values are left out. Committed in records, "
        "never recorded in clear.",
    )


class SoapBackendConfig(BackendConfig):
    adapter: Literal["soap"] = "soap"
    wsdl: str = Field(description="WSDL file (relative to the YAML file) or http(s) URL.")
    endpoint: str | None = Field(None, description="Overrides the WSDL's soap:address.")
    service: str | None = None
    port: str | None = None
    wsse: WsSecurity | None = Field(
        None, description="WS-Security: a UsernameToken and/or an X.509 signature."
    )
    soap_header: SoapHeaderSpec | None = Field(
        None, description="SOAP header elements for tools whose request is XML (request: xml)."
    )
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    verify_tls: bool = True
    tls: TlsSettings = Field(default_factory=TlsSettings)
    proxy: str | None = Field(None, description=PROXY_DESCRIPTION)
    max_response_bytes: int = Field(64 * 2**20, ge=1024)

    @field_validator("wsdl")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        if "://" in value:
            return value
        base = (info.context or {}).get("base_dir")
        path = Path(value) if base is None or Path(value).is_absolute() else Path(base) / value
        if not path.is_file():
            raise ValueError(f"WSDL file not found: {path}")
        return str(path.resolve())


@dataclass(frozen=True)
class PreparedSoap:
    operation: str
    address: str
    # None: zeep builds this operation's envelopes (headers, WS-Security, complex parameters).
    template: EnvelopeTemplate | None = None
    # The HTTP headers of a request whose body the input mapping built as XML.
    document_headers: dict[str, str] | None = None
    # The output mapping reads raw XML (XPath) rather than plain values.
    xml_answer: bool = False
    # Local names of elements carrying sensitive values: commitments in every record.
    sensitive: frozenset[str] = frozenset()
    # The answer as plain values: with its XML attributes when the output mapping names one.
    values: Callable[[etree._Element], Any] = element_to_value


class SoapAdapter(Adapter[SoapBackendConfig, PreparedSoap]):
    name: ClassVar[str] = "soap"
    config_model: ClassVar[type[BackendConfig]] = SoapBackendConfig

    def __init__(
        self, backend: str, config: SoapBackendConfig, commitments: Commitments | None = None
    ) -> None:
        super().__init__(backend, config, commitments)
        self._client: Any = None
        self._binding: Any = None
        self._address = ""
        self._http: HTTPClient | None = None
        self._ssl: ssl.SSLContext | None = None
        self._proxy: Proxy | None = None
        self._target = "/"
        self._parser = hardened_parser()
        self._header: tuple[tuple[str, str], ...] = ()

    # ------------------------------------------------------------------ metadata

    def load(self) -> None:
        try:
            import zeep
        except ImportError as exc:  # pragma: no cover - zeep is a core dependency
            raise DependencyMissing(f"SOAP needs zeep: pip install zeep ({exc})") from exc
        cfg = self.config
        settings = zeep.Settings(
            strict=False, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        transport = zeep.Transport(
            timeout=cfg.timeout_s, operation_timeout=cfg.timeout_s, session=_wsdl_session(cfg)
        )
        wsse = ws_security_plugins(cfg.wsse)
        try:
            self._client = zeep.Client(cfg.wsdl, settings=settings, transport=transport, wsse=wsse)
        except Exception as exc:
            raise BackendSetupError("wsdl", f"cannot load WSDL {cfg.wsdl}: {_reason(exc)}") from exc
        self._header = self._soap_header()
        self._binding, address = self._select_port()
        self._address = cfg.endpoint or address
        if not self._address:
            raise BackendSetupError("endpoint", "the WSDL has no soap:address; set endpoint")
        self._ssl, self._proxy = connection_setup(self._address, cfg.tls, cfg.proxy, cfg.verify_tls)

    def _select_port(self) -> tuple[Any, str]:
        services = self._client.wsdl.services
        if not services:
            raise BackendSetupError("wsdl", "the WSDL declares no service")
        name = self.config.service or next(iter(services))
        self.service_name = name
        if name not in services:
            raise BackendSetupError(
                "service", f"no service '{name}'; the WSDL has {', '.join(services)}"
            )
        ports = services[name].ports
        port_name = self.config.port or next(iter(ports))
        if port_name not in ports:
            raise BackendSetupError(
                "port", f"no port '{port_name}'; service {name} has {', '.join(ports)}"
            )
        port = ports[port_name]
        return port.binding, port.binding_options.get("address", "")

    def operations(self) -> list[str]:
        return sorted(self._binding._operations)

    def prepare(self, tool: ToolConfig) -> PreparedSoap:
        operation = self._binding._operations.get(tool.operation)
        if operation is None:
            raise OperationUnknown(tool.operation, self.operations())
        xml_answer = tool.output.uses_xml
        check_output_paths(operation, tool.output, tool.operation)
        if tool.request is not None:
            return self._prepare_document(tool, operation, xml_answer)
        body = operation.input.body
        known = [name for name, _ in body.type.elements] if body is not None else []
        mapped = {(spec.to or field).split(".")[0]: field for field, spec in tool.input.items()}
        for parameter, field in mapped.items():
            if parameter not in known:
                # zeep would refuse it on every call; say so once, at load, with the choices.
                raise BackendSetupError(
                    ("input", field, "to"),
                    f"operation {tool.operation} has no parameter '{parameter}'"
                    f"{did_you_mean(parameter, known)}",
                )
        unmapped = [name for name in required_parameters(operation) if name not in mapped]
        if unmapped:
            raise BackendSetupError(
                ("input",),
                f"operation {tool.operation} requires {', '.join(unmapped)}; "
                "map an input field onto each (to: NAME)",
            )
        template = None if self.config.wsse else compile_template(self._binding, operation)
        return PreparedSoap(
            tool.operation,
            self._address,
            template,
            xml_answer=xml_answer,
            sensitive=sensitive_names(tool),
            values=_values_reader(tool),
        )

    def parameter_ranges(self, tool: ToolConfig) -> dict[str, tuple[int | None, int | None]]:
        operation = self._binding._operations.get(tool.operation)
        if operation is None or tool.request is not None:
            return {}
        return integer_parameter_ranges(operation)

    def _prepare_document(self, tool: ToolConfig, operation: Any, xml_answer: bool) -> PreparedSoap:
        """A tool whose input mapping builds the body element itself (request: xml)."""
        if tool.request is None or tool.request.xml is None:
            raise BackendSetupError(
                ("request",), "a SOAP request is parameters or an XML document (request: xml)"
            )
        if self.config.wsse is not None:
            raise BackendSetupError(
                ("request", "xml"), "XML requests cannot be combined with WS-Security (wsse)"
            )
        names = XmlBuilder(tool.request.xml.root, tool.request.xml.namespaces)
        check_request_paths(operation, tool, names.resolve)
        return PreparedSoap(
            tool.operation,
            self._address,
            document_headers=http_headers(self._binding, operation),
            xml_answer=xml_answer,
            sensitive=sensitive_names(tool),
            values=_values_reader(tool),
        )

    @property
    def soap_version(self) -> str:
        return "1.2" if self._binding.nsmap.get("soap-env") == SOAP12 else "1.1"

    # ------------------------------------------------------------------ life cycle

    async def open(self) -> None:
        cfg = self.config
        self._http = HTTPClient(
            self._address,
            max_connections=cfg.max_concurrency,
            verify_tls=cfg.verify_tls,
            headers={k: v.get_secret_value() for k, v in cfg.headers.items()},
            ssl_context=self._ssl,
            proxy=self._proxy,
        )
        self._target = split_target(self._address)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _connections(self) -> HTTPClient:
        if self._http is None:
            raise BackendUnavailable(f"backend {self.backend} is not open")
        return self._http

    async def check(self) -> Health:
        started = time.perf_counter()
        try:
            # Any HTTP answer, even a 405 to a GET, means the host and service are up.
            response = await self._connections().request(
                "GET", self._target, {}, b"", timeout=min(self.config.timeout_s, 5), max_bytes=2**20
            )
            ok, detail = True, f"HTTP {response.status}"
        except Exception as exc:
            ok, detail = False, self.translate_error(exc).message
        return Health(ok, detail, (time.perf_counter() - started) * 1000)

    # ------------------------------------------------------------------ calls

    def _build(self, prepared: PreparedSoap, params: Any) -> tuple[bytes, dict[str, str]]:
        if prepared.document_headers is not None:
            envelope_ns = self._binding.nsmap["soap-env"]
            body = wrap_document(envelope_ns, params, self._header)
            return body, dict(prepared.document_headers)
        if prepared.template is not None:
            return prepared.template.build(params), dict(prepared.template.headers)
        return self._build_with_zeep(prepared, params)

    def _build_with_zeep(
        self, prepared: PreparedSoap, params: dict[str, Any]
    ) -> tuple[bytes, dict[str, str]]:
        envelope, headers = self._binding._create(
            prepared.operation,
            (),
            params,
            client=self._client,
            options={"address": prepared.address},
        )
        body = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        return body, {str(k): str(v) for k, v in headers.items()}

    def render(self, prepared: PreparedSoap, params: Any) -> dict[str, Any]:
        body, headers = self._build(prepared, params)
        return {
            "url": prepared.address,
            "soap_version": self.soap_version,
            "http_headers": self._recordable(headers),
            "envelope": self._redact_envelope(body, prepared.sensitive),
        }

    async def exchange(
        self, prepared: PreparedSoap, params: Any, ctx: CallContext, record: CallRecord
    ) -> Any:
        # Begun before the envelope is built: a request zeep cannot serialise is recorded.
        interaction = record.begin(prepared.operation)
        body, headers = self._build(prepared, params)
        interaction.request = {
            "url": prepared.address,
            "soap_version": self.soap_version,
            "http_headers": self._recordable(headers),
            "envelope": self._redact_envelope(body, prepared.sensitive),
        }
        status, response_headers, payload = await self._post(prepared.address, body, headers, ctx)
        cap = limits()  # once: reading the environment costs ~10 us
        interaction.response = cap_field(
            {
                "http_status": status,
                "http_headers": self._recordable(response_headers),
                "body": self._redact_answer(payload, prepared.sensitive),
            },
            "body",
            cap.recorded,
        )
        cap_field(interaction.response, "http_headers", cap.headers)
        return self._read(status, payload, prepared.xml_answer, values=prepared.values)

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], ctx: CallContext
    ) -> tuple[int, dict[str, str], bytes]:
        response = await self._connections().request(
            "POST",
            self._target,
            headers,
            body,
            timeout=ctx.timeout_s,
            max_bytes=self.config.max_response_bytes,
        )
        return response.status, response.headers, response.body

    def parse_answer(self, prepared: PreparedSoap, payload: bytes) -> Any:
        """A captured answer: a whole envelope, or only the body's content element."""
        root = parse_untrusted(payload, self._parser)
        if local_name(root.tag) == "Envelope":
            return self._read(200, payload, prepared.xml_answer, root, prepared.values)
        return root if prepared.xml_answer else prepared.values(root)

    def _read(
        self,
        status: int,
        payload: bytes,
        xml_answer: bool = False,
        root: etree._Element | None = None,
        values: Callable[[etree._Element], Any] = element_to_value,
    ) -> Any:
        """The answer's body content as plain values (or as XML for XPath mappings).

        Faults and HTTP errors are raised.
        """
        if root is None and (payload[:1] == b"<" or payload.lstrip()[:1] == b"<"):
            try:
                root = parse_untrusted(payload, self._parser)
            except etree.XMLSyntaxError:
                if status < 400:
                    raise
        # The envelope's parts by their Clark names, compared as strings: lxml's find() and
        # QName() parse a path and build objects on every answer.
        parts = _ENVELOPE_PARTS.get(root.tag) if root is not None else None
        if root is None or parts is None:
            if status >= 400:
                raise LegacyHTTPError(status, payload[:500].decode("utf-8", errors="replace"))
            name = local_name(root.tag) if root is not None else "none"
            raise LegacyBadResponse(f"the response is not a SOAP envelope (root <{name}>)")
        ns, body_tag, fault_tag = parts
        body = next((child for child in root if child.tag == body_tag), None)
        if body is None:
            raise LegacyBadResponse("the SOAP envelope has no Body")
        content = next((child for child in body if child.tag.__class__ is str), None)
        if content is not None and content.tag == fault_tag:
            raise _fault(content, ns)
        if status >= 400:
            raise LegacyHTTPError(status, payload[:500].decode("utf-8", errors="replace"))
        if xml_answer:
            return body if content is None else content
        return {} if content is None else values(content)

    # ------------------------------------------------------------------ recording

    def _recordable(self, headers: dict[str, str]) -> dict[str, str]:
        return {
            key: (
                self.commitments.commit(value)
                if key.lower() in SECRET_HEADERS or key in self.config.headers
                else self.redact(value)
            )
            for key, value in headers.items()
            if key.lower() in RECORDED_HEADERS or key in self.config.headers
        }

    def _soap_header(self) -> tuple[tuple[str, str], ...]:
        spec = self.config.soap_header
        if spec is None:
            return ()
        try:
            names = XmlBuilder("soap-header", spec.namespaces)
            return tuple(
                (names.resolve(name), value.get_secret_value())
                for name, value in spec.values.items()
            )
        except XmlNameError as exc:
            raise BackendSetupError(("soap_header", "values"), str(exc)) from None

    def _redact_envelope(self, body: bytes, sensitive: frozenset[str] = frozenset()) -> str:
        text = body.decode("utf-8")
        if self.config.soap_header is not None and self.config.soap_header.values:
            # Header values are tokens and passwords: the record keeps their commitments.
            root = etree.fromstring(body)
            header = next((child for child in root if local_name(child.tag) == "Header"), None)
            for node in header if header is not None else ():
                node.text = self.commitments.commit(node.text or "")
            body = etree.tostring(root, xml_declaration=True, encoding="utf-8")
            text = body.decode("utf-8")
        if self.config.wsse is not None or sensitive:
            # The UsernameToken password is in the envelope itself, and so are values the
            # mapping marks sensitive; the record must keep neither.
            root = etree.fromstring(body)
            for node in root.iter(f"{{{WSSE}}}Password", f"{{{WSSE}}}Nonce"):
                node.text = self.commitments.commit(node.text or "")
            self.commitments.blank_elements(root, sensitive)
            text = etree.tostring(root, xml_declaration=True, encoding="utf-8").decode("utf-8")
        return self.redact(text)

    def _redact_answer(self, payload: bytes, sensitive: frozenset[str]) -> str:
        text = payload.decode("utf-8", errors="replace")
        if sensitive and payload.lstrip()[:1] == b"<":
            try:
                root = parse_untrusted(payload, self._parser)
            except (etree.XMLSyntaxError, HostileXML):
                return self.redact(text)  # kept as received: the error says why
            self.commitments.blank_elements(root, sensitive)
            text = etree.tostring(root, encoding="unicode")
        return self.redact(text)

    def telemetry(self, interaction: Interaction) -> tuple[str, str, dict[str, Any]]:
        """RPC conventions with ``rpc.system.name`` soap, and the HTTP client attributes."""
        url = str(interaction.request.get("url", ""))
        parts = urlsplit(url)
        response = interaction.response or {}
        service = getattr(self, "service_name", self.backend)
        return (
            f"{service}/{interaction.operation}",
            "client",
            {
                "rpc.system.name": "soap",
                "rpc.service": service,
                "rpc.method": interaction.operation,
                "http.request.method": "POST",
                "url.full": urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2],
                                        parts.path, "", "")),
                "server.address": parts.hostname,
                "server.port": parts.port or (443 if parts.scheme == "https" else 80),
                "http.response.status_code": response.get("http_status"),
            },
        )  # fmt: skip

    def translate_error(self, exc: BaseException) -> GatewayError:
        known = client_failure(exc, self.backend)
        if known is not None:
            return known
        if isinstance(exc, OSError):
            return BackendUnavailable(f"cannot reach backend {self.backend}: {_reason(exc)}")
        if isinstance(exc, httptools.HttpParserError):
            return LegacyBadResponse(f"malformed HTTP response from {self.backend}: {_reason(exc)}")
        if isinstance(exc, HostileXML):
            return LegacyBadResponse(str(exc))
        if isinstance(exc, etree.XMLSyntaxError):
            return LegacyBadResponse(f"the response is not well-formed XML: {exc}")
        if isinstance(exc, TypeError | ValueError):
            # zeep refuses parameters the operation does not have: a mapping mistake.
            return GatewayError(f"cannot build the {self.backend} request: {exc}")
        return GatewayError(f"unexpected error calling {self.backend}: {_reason(exc)}")


def _values_reader(tool: ToolConfig) -> Callable[[etree._Element], Any]:
    if reads_attributes(tool.output):
        return element_to_value_with_attributes
    return element_to_value


def _fault(fault: etree._Element, ns: str) -> LegacyFault:
    def text(path: str) -> str:
        found = fault.find(path)
        return (found.text or "").strip() if found is not None else ""

    if ns == SOAP11:
        detail = fault.find("detail")
        code, reason = text("faultcode"), text("faultstring")
    else:
        detail = fault.find(f"{{{ns}}}Detail")
        code, reason = text(f"{{{ns}}}Code/{{{ns}}}Value"), text(f"{{{ns}}}Reason/{{{ns}}}Text")
    return _bounded_fault(code, reason, element_to_value(detail) if detail is not None else None)


def _bounded_fault(code: str, reason: str, detail: Any) -> LegacyFault:
    """The fault as the agent sees it and the record keeps it: the legacy side chooses its
    size, so each part is cut at the fault cap, marked, with the SHA-256 of the whole."""
    cap = limits().fault
    parts: dict[str, Any] = {"faultcode": code, "faultstring": reason, "detail": detail}
    for name in parts.copy():
        cap_field(parts, name, cap)
    fault = LegacyFault(parts["faultcode"], parts["faultstring"], parts["detail"])
    fault.details.update({k: v for k, v in parts.items() if k.endswith("_truncated")})
    return fault


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _wsdl_session(cfg: SoapBackendConfig) -> Any:
    """The requests session zeep fetches a WSDL (and its imports) by URL with: the backend's
    CA bundle, client certificate and proxy, as for its calls."""
    import requests

    session = requests.Session()
    session.verify = cfg.tls.ca_file or cfg.verify_tls
    if cfg.tls.cert_file is not None:
        session.cert = (
            (cfg.tls.cert_file, cfg.tls.key_file) if cfg.tls.key_file else cfg.tls.cert_file
        )
    if cfg.proxy:
        session.proxies = {"http": cfg.proxy, "https": cfg.proxy}
    return session
