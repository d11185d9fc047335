"""The legacy estate as a raw ASGI app: CustomerMaster (doc/literal) and FxRates (rpc/literal).

Routes of an :class:`EstateApp` (build one with :func:`create_app`):

* ``POST /customer-master`` and ``POST /customer-master/soap12``: CustomerMaster;
  ``POST /fx-rates``: FxRates. SOAP 1.1 and 1.2 are accepted on every path; the answer
  uses the version of the request envelope (the content type decides only when the body
  cannot be parsed).
* ``GET <path>?wsdl``: the WSDL from ``mappings/demo/wsdl`` with its placeholder
  ``soap:address`` rewritten to the URL the client used (Host header).
* ``GET /healthz``: ``ok``.

Every POST is kept in :attr:`EstateApp.received` (last 200) so tests can assert on the
exact envelope that arrived. ``credentials`` turns on WS-Security UsernameToken
(PasswordText) checking; ``hostile`` turns on the failure CUSTNOs of ``GetCustomer``
(:data:`estate.envelope.HOSTILE_CUSTNOS`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from lxml import etree

from estate.crm_rest import CrmRest
from estate.customers import CustomerStore
from estate.envelope import (
    SOAP11_NS,
    SOAP12_NS,
    V11,
    V12,
    Reply,
    SoapFaultError,
    SoapVersion,
    envelope,
    fault_reply,
)
from estate.operations import CustomerMasterService, FxRatesService, Service

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

WSSE_NS: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PASSWORD_TEXT: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordText"
)
CUSTOMER_MASTER_PATH: Final = "/customer-master"
CUSTOMER_MASTER_SOAP12_PATH: Final = "/customer-master/soap12"
FX_RATES_PATH: Final = "/fx-rates"
#: Base URL written in the static WSDL files; replaced by the real one when served.
WSDL_PLACEHOLDER_BASE: Final = "http://127.0.0.1:8801"
# The WSDLs are those of the demo config: a checkout's mappings/demo beside estate/, or the
# copy a wheel carries in gateway/mappings/demo. Found by path, never by importing the gateway:
# the estate stands for a legacy system and knows nothing of the product in front of it.
_ROOT = Path(__file__).resolve().parent.parent
_WSDL_DIRS = (
    _ROOT / "mappings" / "demo" / "wsdl",
    _ROOT / "gateway" / "mappings" / "demo" / "wsdl",
)
DEFAULT_WSDL_DIR: Final = next((p for p in _WSDL_DIRS if p.is_dir()), _WSDL_DIRS[0])
MAX_BODY_BYTES: Final = 4 * 1024 * 1024
RECEIVED_MAXLEN: Final = 200

_log = logging.getLogger(__name__)
_HOST_RE: Final = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
_TEXT: Final = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One POST as it arrived: header names are lower case, the body is untouched."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class EstateApp:
    """The ASGI application. Use :func:`create_app` to build one."""

    def __init__(
        self,
        store: CustomerStore,
        *,
        hostile: bool = False,
        credentials: tuple[str, str] | None = None,
        wsdl_dir: Path = DEFAULT_WSDL_DIR,
    ) -> None:
        self.customer_master = CustomerMasterService(store, hostile=hostile)
        self.crm = CrmRest(store)
        self.fx_rates = FxRatesService()
        self.hostile = hostile
        self.credentials = credentials
        self.received: deque[ReceivedRequest] = deque(maxlen=RECEIVED_MAXLEN)
        self._services: dict[str, Service] = {
            CUSTOMER_MASTER_PATH: self.customer_master,
            CUSTOMER_MASTER_SOAP12_PATH: self.customer_master,
            FX_RATES_PATH: self.fx_rates,
        }
        cm_wsdl = (wsdl_dir / "customer_master.wsdl").read_text(encoding="utf-8")
        self._wsdl = {
            CUSTOMER_MASTER_PATH: cm_wsdl,
            CUSTOMER_MASTER_SOAP12_PATH: cm_wsdl,
            FX_RATES_PATH: (wsdl_dir / "fx_rates.wsdl").read_text(encoding="utf-8"),
        }
        self._wsdl_cache: dict[tuple[str, str], bytes] = {}
        # One parser per app: an lxml parser must not be used by two threads at once, and
        # each embedded server runs its own loop thread.
        self._parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        if method == "POST":
            reply = await self._post(scope, receive)
            if reply.delay:
                await asyncio.sleep(reply.delay)
        elif method in ("GET", "HEAD"):
            reply = self._get(scope)
        else:
            reply = Reply(405, _TEXT, b"method not allowed")
        headers = [(b"content-length", str(len(reply.body)).encode())]
        if reply.content_type:
            headers.append((b"content-type", reply.content_type.encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        body = b"" if method == "HEAD" else reply.body
        await send({"type": "http.response.body", "body": body})

    def _get(self, scope: Scope) -> Reply:
        path: str = scope["path"]
        if path == "/healthz":
            return Reply(200, _TEXT, b"ok")
        if self.crm.handles(path):
            self.received.append(
                ReceivedRequest("GET", path, scope["query_string"].decode(), {}, b"")
            )
            status, content_type, answer = self.crm.get(path, scope["query_string"])
            return Reply(status, content_type, answer)
        template = self._wsdl.get(path)
        if template is None:
            return Reply(404, _TEXT, b"not found")
        if scope["query_string"].lower() not in (b"wsdl", b"wsdl="):
            return Reply(200, _TEXT, b"SOAP endpoint; add ?wsdl for its description")
        base = f"{scope.get('scheme', 'http')}://{self._host(scope)}"
        body = self._wsdl_cache.get((path, base))
        if body is None:
            body = template.replace(
                f'location="{WSDL_PLACEHOLDER_BASE}', f'location="{base}'
            ).encode()
            if len(self._wsdl_cache) < 64:  # the Host header is client-chosen: bound the cache
                self._wsdl_cache[path, base] = body
        return Reply(200, "text/xml; charset=utf-8", body)

    @staticmethod
    def _host(scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == b"host":
                host: str = value.decode("latin-1")
                # Only a plain host[:port] may be echoed into the WSDL's attribute.
                if _HOST_RE.fullmatch(host):
                    return host
        server = scope.get("server") or ("127.0.0.1", 80)
        return f"{server[0]}:{server[1]}"

    async def _post(self, scope: Scope, receive: Receive) -> Reply:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_BODY_BYTES:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        path: str = scope["path"]
        query = scope["query_string"].decode("latin-1")
        self.received.append(ReceivedRequest("POST", path, query, headers, body))
        if self.crm.handles(path):
            status, content_type, answer = self.crm.post(path, body)
            return Reply(status, content_type, answer)
        service = self._services.get(path)
        if service is None:
            return Reply(404, _TEXT, b"not found")
        if size > MAX_BODY_BYTES:
            return Reply(413, _TEXT, b"request too large")
        soap12 = "application/soap+xml" in headers.get("content-type", "").lower()
        return self.dispatch(service, body, V12 if soap12 else V11)

    def dispatch(self, service: Service, body: bytes, v: SoapVersion) -> Reply:
        """Parse one SOAP request and run it through ``service``; never raises.

        ``v`` is only the guess from the content type, used if the envelope is unreadable.
        """
        tag, ns, prefix = service.detail_tag, service.detail_ns, service.err_prefix

        # Reads ``v`` when called, so faults raised after parsing use the envelope's version.
        def fault(reason: str, err_cd: str, err_txt: str, *, client: bool = True) -> Reply:
            return fault_reply(SoapFaultError(reason, err_cd, err_txt, client=client), v, tag, ns)

        try:
            root = etree.fromstring(body, self._parser)
        except etree.XMLSyntaxError as exc:
            return fault("MALFORMED REQUEST", f"{prefix}400", str(exc)[:120])
        if root.tag == f"{{{SOAP12_NS}}}Envelope":
            v = V12
        elif root.tag == f"{{{SOAP11_NS}}}Envelope":
            v = V11
        else:
            return fault("MALFORMED REQUEST", f"{prefix}400", "NOT A SOAP ENVELOPE")
        # SOAP forbids DTDs in messages. (getattr: lxml-stubs lacks DocInfo.doctype.)
        if getattr(root.getroottree().docinfo, "doctype", ""):
            return fault("MALFORMED REQUEST", f"{prefix}400", "DTD NOT ALLOWED")
        if not self._authenticated(root.find(f"{{{v.env_ns}}}Header")):
            # The estate's security front end is shared, so the code is CM401 on every path.
            failed = SoapFaultError("AUTHENTICATION FAILED", "CM401", "INVALID USERNAMETOKEN")
            return fault_reply(failed, v)
        body_el = root.find(f"{{{v.env_ns}}}Body")
        op = None if body_el is None else next(body_el.iterchildren("{*}*"), None)
        if op is None:
            return fault("INVALID REQUEST", f"{prefix}400", "EMPTY SOAP BODY")
        try:
            result = service.handle(op, v)
        except SoapFaultError as exc:
            return fault_reply(exc, v, tag, ns)
        except Exception:  # a fixture bug must still answer the way a server would
            _log.exception("estate handler failed")
            return fault("INTERNAL ERROR", f"{prefix}500", "ABEND", client=False)
        return result if isinstance(result, Reply) else envelope(result, v)

    def _authenticated(self, header: etree._Element | None) -> bool:
        if self.credentials is None:
            return True
        path = f"{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken"
        token = None if header is None else header.find(path)
        password = None if token is None else token.find(f"{{{WSSE_NS}}}Password")
        if token is None or password is None:
            return False
        # Only PasswordText is understood; a digest token is refused, as old stacks did.
        if password.get("Type", PASSWORD_TEXT) != PASSWORD_TEXT:
            return False
        user = (token.findtext(f"{{{WSSE_NS}}}Username") or "").encode()
        user_ok = hmac.compare_digest(user, self.credentials[0].encode())
        pass_ok = hmac.compare_digest((password.text or "").encode(), self.credentials[1].encode())
        return user_ok and pass_ok


def create_app(
    *,
    hostile: bool = False,
    credentials: tuple[str, str] | None = None,
    store: CustomerStore | None = None,
    wsdl_dir: Path = DEFAULT_WSDL_DIR,
) -> EstateApp:
    """A fresh estate app with its own customer data (generated unless ``store`` is given)."""
    return EstateApp(
        store if store is not None else CustomerStore.generated(),
        hostile=hostile,
        credentials=credentials,
        wsdl_dir=wsdl_dir,
    )
