"""Operation handlers of the estate's two services, independent of HTTP and ASGI.

Each service takes the first SOAP Body child (an lxml element) and returns the Body payload
as a string, a complete :class:`~estate.envelope.Reply` (hostile mode), or raises
:class:`~estate.envelope.SoapFaultError`. ``CustomerMasterService`` keeps one rendered
``<CUSTOMER>`` fragment per record so large pages cost a join, not a render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

from lxml import etree

from estate.customers import CustomerStore
from estate.envelope import (
    CM_NS,
    FX_NS,
    HOSTILE_CUSTNOS,
    Reply,
    SoapFaultError,
    SoapVersion,
    hostile_reply,
    render_customer,
)


class Service(Protocol):
    """What :class:`~estate.soap_service.EstateApp` needs from a service."""

    detail_tag: str
    detail_ns: str
    err_prefix: str

    def handle(self, op: etree._Element, v: SoapVersion) -> str | Reply: ...


def _invalid(err_txt: str, prefix: str = "CM") -> SoapFaultError:
    return SoapFaultError("INVALID REQUEST", f"{prefix}400", err_txt)


def _not_found(custno: str) -> SoapFaultError:
    return SoapFaultError("CUSTOMER NOT FOUND", "CM404", f"NO RECORD FOR CUSTNO {custno}")


class CustomerMasterService:
    """Operation handlers of CustomerMaster over one :class:`CustomerStore`."""

    detail_tag = "CM_ERROR"
    detail_ns = CM_NS
    err_prefix = "CM"

    def __init__(self, store: CustomerStore, *, hostile: bool = False) -> None:
        self.store = store
        self.hostile = hostile
        # Rendered once; ListCustomers of 1,000 records is then one join.
        self._xml = {c.custno: render_customer(c) for c in store}
        self._ops: dict[str, Callable[[etree._Element, SoapVersion], str | Reply]] = {
            "GetCustomer": self._get_customer,
            "SearchCustomers": self._search,
            "ListCustomers": self._list,
            "UpdateCustomerAddress": self._update_address,
            "GetCustomerCount": self._count,
        }

    def handle(self, op: etree._Element, v: SoapVersion) -> str | Reply:
        qname = etree.QName(op)
        handler = self._ops.get(qname.localname) if qname.namespace == CM_NS else None
        if handler is None:
            raise SoapFaultError(
                "UNKNOWN OPERATION", "CM400", f"NO OPERATION {qname.localname[:40]}"
            )
        return handler(op, v)

    # Request children are qualified (elementFormDefault="qualified"); an unqualified child
    # counts as missing, as a strict legacy stack would treat it.
    @staticmethod
    def _opt(op: etree._Element, name: str) -> str | None:
        child = op.find(f"{{{CM_NS}}}{name}")
        return None if child is None else (child.text or "")

    def _req(self, op: etree._Element, name: str) -> str:
        value = self._opt(op, name)
        if value is None:
            raise _invalid(f"MISSING FIELD {name}")
        return value

    def _int(self, op: etree._Element, name: str, default: int | None = None) -> int:
        text = (self._opt(op, name) or "").strip()
        if not text:
            if default is None:
                raise _invalid(f"MISSING FIELD {name}")
            return default
        try:
            return int(text)
        except ValueError:
            raise _invalid(f"{name} NOT NUMERIC") from None

    def _custno(self, op: etree._Element) -> str:
        custno = self._req(op, "CUSTNO").strip()
        if len(custno) != 8 or not (custno.isascii() and custno.isdigit()):
            raise _invalid(f"CUSTNO MUST BE 8 DIGITS: {custno[:20]}")
        return custno

    def _get_customer(self, op: etree._Element, v: SoapVersion) -> str | Reply:
        custno = self._custno(op)
        if self.hostile and custno in HOSTILE_CUSTNOS:
            return hostile_reply(custno, v)
        fragment = self._xml.get(custno)
        if fragment is None:
            raise _not_found(custno)
        return f'<GetCustomerResponse xmlns="{CM_NS}">{fragment}</GetCustomerResponse>'

    def _search(self, op: etree._Element, v: SoapVersion) -> str:
        prefix = self._req(op, "NAME_PREFIX")
        stat_cd = (self._opt(op, "STAT_CD") or "").strip() or None
        if stat_cd is not None and stat_cd not in ("A", "C", "S", "P"):
            raise _invalid(f"STAT_CD MUST BE A, C, S OR P: {stat_cd[:10]}")
        max_hits = self._int(op, "MAX_HITS", default=50)
        if not 1 <= max_hits <= 1000:
            raise _invalid("MAX_HITS MUST BE 1 TO 1000")
        hits = self.store.search(prefix, stat_cd, max_hits)
        records = "".join([self._xml[c.custno] for c in hits])
        return (
            f'<SearchCustomersResponse xmlns="{CM_NS}"><HIT_COUNT>{len(hits)}</HIT_COUNT>'
            f"{records}</SearchCustomersResponse>"
        )

    def _list(self, op: etree._Element, v: SoapVersion) -> str:
        page_no, page_size = self._int(op, "PAGE_NO"), self._int(op, "PAGE_SIZE")
        if page_no < 1:
            raise _invalid("PAGE_NO MUST BE 1 OR MORE")
        if not 1 <= page_size <= 1000:
            raise _invalid("PAGE_SIZE MUST BE 1 TO 1000")
        records = "".join([self._xml[c.custno] for c in self.store.page(page_no, page_size)])
        return (
            f'<ListCustomersResponse xmlns="{CM_NS}"><TOTAL_COUNT>{len(self.store)}'
            f"</TOTAL_COUNT><PAGE_NO>{page_no}</PAGE_NO><PAGE_SIZE>{page_size}</PAGE_SIZE>"
            f"{records}</ListCustomersResponse>"
        )

    def _update_address(self, op: etree._Element, v: SoapVersion) -> str:
        custno = self._custno(op)
        try:
            updated = self.store.update_address(
                custno,
                addr_line1=self._req(op, "ADDR_LINE1"),
                addr_line2=self._opt(op, "ADDR_LINE2") or "",
                city=self._req(op, "CITY"),
                post_cd=self._req(op, "POST_CD"),
                ctry_cd=self._req(op, "CTRY_CD"),
            )
        except KeyError:
            raise _not_found(custno) from None
        except ValueError as exc:
            raise _invalid(str(exc)) from None
        fragment = self._xml[custno] = render_customer(updated)
        return (
            f'<UpdateCustomerAddressResponse xmlns="{CM_NS}"><RESULT_CD>OK</RESULT_CD>'
            f"{fragment}</UpdateCustomerAddressResponse>"
        )

    def _count(self, op: etree._Element, v: SoapVersion) -> str:
        return (
            f'<GetCustomerCountResponse xmlns="{CM_NS}"><TOTAL_COUNT>{len(self.store)}'
            "</TOTAL_COUNT></GetCustomerCountResponse>"
        )


#: Units of each currency per EUR, times 1,000,000; cross rates derive from it, so the
#: table is consistent (EUR->USD 1085000, USD->EUR 921659, ...).
FX_PER_EUR: Final = {"EUR": 1_000_000, "USD": 1_085_000, "GBP": 845_000, "CHF": 965_000}
FX_RATES: Final = {
    (a, b): (pb * 1_000_000 + pa // 2) // pa
    for a, pa in FX_PER_EUR.items()
    for b, pb in FX_PER_EUR.items()
}
FX_RATE_DT: Final = "20240611"


class FxRatesService:
    """FxRates (rpc/literal): parts are unqualified children of ``<tns:GetRate>``."""

    detail_tag = "FX_ERROR"
    detail_ns = FX_NS
    err_prefix = "FX"

    def handle(self, op: etree._Element, v: SoapVersion) -> str:
        if op.tag != f"{{{FX_NS}}}GetRate":
            name = etree.QName(op).localname[:40]
            raise SoapFaultError("UNKNOWN OPERATION", "FX400", f"NO OPERATION {name}")
        src, dst = ((op.findtext(part) or "").strip().upper() for part in ("FROM_CCY", "TO_CCY"))
        rate = FX_RATES.get((src, dst))
        if rate is None:
            raise SoapFaultError("UNKNOWN CURRENCY", "FX404", f"NO RATE FOR {src[:8]}/{dst[:8]}")
        return (
            f'<ns:GetRateResponse xmlns:ns="{FX_NS}"><RATE_MILLIONTHS>{rate}</RATE_MILLIONTHS>'
            f"<RATE_DT>{FX_RATE_DT}</RATE_DT></ns:GetRateResponse>"
        )
