"""SOAP wire primitives of the estate: envelopes, faults, customer records, hostile replies.

Responses are assembled from string templates plus :func:`xml_escape`, not from lxml
trees, because the estate sits on the path of gateway benchmarks and a template costs a
few microseconds. Everything here is pure (no I/O) so it can be unit-tested directly.

Hostile replies (:data:`HOSTILE_CUSTNOS`) are only produced when the app was created with
``hostile=True``; they imitate a broken or malicious backend for the gateway's tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from estate.customers import FIELD_NAMES, Customer

CM_NS: Final = "urn:legacy:customer-master:v1"
FX_NS: Final = "urn:legacy:fx-rates:v1"
SOAP11_NS: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS: Final = "http://www.w3.org/2003/05/soap-envelope"
SLOW_SECONDS: Final = 3.0
#: GetCustomer CUSTNOs that misbehave when the app is created with ``hostile=True``.
HOSTILE_CUSTNOS: Final = {
    "99999500": "HTTP 500 with an HTML body",
    "99999503": "HTTP 503 with an empty body",
    "99999408": f"normal answer after {SLOW_SECONDS:g} s",
    "99999666": "XXE: DOCTYPE with an external file entity used in CUST_NAME",
    "99999777": "billion laughs: nested entities lol1..lol9 used in CUST_NAME",
    "99999888": "HTTP 200 text/xml body that is not XML",
    "99999999": "valid envelope, BAL_CENTS 12X4 and OPEN_DT 20231399",
}

_XML_DECL: Final = '<?xml version="1.0" encoding="utf-8"?>'
_ENV_CLOSE: Final = "</soap:Body></soap:Envelope>"


def xml_escape(text: str) -> str:
    """Escape text for element content (the fast path skips the common clean case)."""
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


@dataclass(frozen=True, slots=True)
class SoapVersion:
    """What differs between SOAP 1.1 and 1.2 on the wire."""

    env_ns: str
    content_type: str
    client_code: str
    server_code: str
    client_status: int  # SOAP 1.1 sends every fault as 500; SOAP 1.2 sends Sender faults as 400

    @property
    def env_open(self) -> str:
        return f'<soap:Envelope xmlns:soap="{self.env_ns}"><soap:Body>'


V11: Final = SoapVersion(SOAP11_NS, "text/xml; charset=utf-8", "soap:Client", "soap:Server", 500)
V12: Final = SoapVersion(
    SOAP12_NS, "application/soap+xml; charset=utf-8", "soap:Sender", "soap:Receiver", 400
)


@dataclass(slots=True)
class Reply:
    """A complete HTTP answer; ``delay`` is slept (without blocking the loop) before sending."""

    status: int
    content_type: str
    body: bytes
    delay: float = 0.0


class SoapFaultError(Exception):
    """Raised by operation handlers; rendered as a SOAP fault with a legacy error detail."""

    def __init__(self, reason: str, err_cd: str, err_txt: str, *, client: bool = True) -> None:
        super().__init__(reason)
        self.reason, self.err_cd, self.err_txt, self.client = reason, err_cd, err_txt, client


def fault_reply(
    fault: SoapFaultError, v: SoapVersion, detail_tag: str = "CM_ERROR", detail_ns: str = CM_NS
) -> Reply:
    """``fault`` as a complete envelope, detail ``<detail_tag><ERR_CD/><ERR_TXT/>``."""
    detail = (
        f'<{detail_tag} xmlns="{detail_ns}"><ERR_CD>{xml_escape(fault.err_cd)}</ERR_CD>'
        f"<ERR_TXT>{xml_escape(fault.err_txt)}</ERR_TXT></{detail_tag}>"
    )
    code = v.client_code if fault.client else v.server_code
    reason = xml_escape(fault.reason)
    if v is V11:
        payload = (
            f"<soap:Fault><faultcode>{code}</faultcode><faultstring>{reason}</faultstring>"
            f"<detail>{detail}</detail></soap:Fault>"
        )
    else:
        payload = (
            f"<soap:Fault><soap:Code><soap:Value>{code}</soap:Value></soap:Code><soap:Reason>"
            f'<soap:Text xml:lang="en">{reason}</soap:Text></soap:Reason>'
            f"<soap:Detail>{detail}</soap:Detail></soap:Fault>"
        )
    reply = envelope(payload, v)
    reply.status = v.client_status if fault.client else 500
    return reply


def envelope(payload: str, v: SoapVersion, prolog: str = "") -> Reply:
    """A 200 answer carrying ``payload`` in the Body; ``prolog`` goes before the root."""
    text = _XML_DECL + prolog + v.env_open + payload + _ENV_CLOSE
    return Reply(200, v.content_type, text.encode())


def record_xml(values: tuple[str, ...]) -> str:
    """A ``<CUSTOMER>`` element from already-escaped field texts in FIELD_NAMES order."""
    inner = "".join([f"<{n}>{v}</{n}>" for n, v in zip(FIELD_NAMES, values, strict=True)])
    return f"<CUSTOMER>{inner}</CUSTOMER>"


def render_customer(customer: Customer) -> str:
    """The ``<CUSTOMER>`` fragment of one record (unqualified: the wrapper sets xmlns)."""
    return record_xml(tuple([xml_escape(value) for value in customer.wire_values()]))


# --- hostile replies ------------------------------------------------------------------------


def _odd_customer(custno: str, name: str, bal: str = "0", open_dt: str = "20010101") -> str:
    # ``name`` goes in unescaped on purpose: the XXE and billion-laughs replies put entity
    # references there.
    address = ("1 NOWHERE LANE".ljust(30), " " * 30, "NOWHERE".ljust(20), "00000".ljust(10))
    values = (custno, name, *address, "GB", bal, "100000", open_dt, " " * 8, "A", "N", "70.0",
              " " * 6, "20010101000000", "000000", "")  # fmt: skip
    return f'<GetCustomerResponse xmlns="{CM_NS}">{record_xml(values)}</GetCustomerResponse>'


def _billion_laughs() -> str:
    entities = ['<!ENTITY lol "lol">']
    for i in range(1, 10):
        ref = "&lol;" if i == 1 else f"&lol{i - 1};"
        entities.append(f'<!ENTITY lol{i} "{ref * 10}">')
    return f"<!DOCTYPE soap:Envelope [{''.join(entities)}]>"


_XXE_DOCTYPE: Final = '<!DOCTYPE soap:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
_BILLION_LAUGHS: Final = _billion_laughs()
_ABEND_HTML: Final = (
    b"<html><head><title>500 Internal Server Error</title></head><body>"
    b"<h1>Internal Server Error</h1><p>CICS TRANSACTION CM01 ABEND ASRA</p></body></html>"
)


def hostile_reply(custno: str, v: SoapVersion) -> Reply:
    """The misbehaviour registered for ``custno`` in :data:`HOSTILE_CUSTNOS`."""
    if custno == "99999500":
        return Reply(500, "text/html; charset=utf-8", _ABEND_HTML)
    if custno == "99999503":
        return Reply(503, "", b"")
    if custno == "99999408":
        reply = envelope(_odd_customer(custno, "SLOW, SAMUEL".ljust(30)), v)
        reply.delay = SLOW_SECONDS
        return reply
    if custno == "99999666":
        return envelope(_odd_customer(custno, "&xxe;"), v, _XXE_DOCTYPE)
    if custno == "99999777":
        return envelope(_odd_customer(custno, "&lol9;"), v, _BILLION_LAUGHS)
    if custno == "99999888":
        return Reply(200, "text/xml; charset=utf-8", b"<<<garbage")
    if custno == "99999999":
        return envelope(_odd_customer(custno, "BROKEN, RECORD".ljust(30), "12X4", "20231399"), v)
    raise KeyError(custno)
