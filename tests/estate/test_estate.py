"""The demo legacy estate, exercised over real HTTP with zeep as the SOAP client."""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
import zeep
from lxml import etree
from zeep.helpers import serialize_object
from zeep.wsse.username import UsernameToken

from estate import EstateServer
from estate.customers import CustomerStore

CM_NS = "urn:legacy:customer-master:v1"


@pytest.fixture(scope="module")
def estate() -> Iterator[EstateServer]:
    with EstateServer() as server:
        yield server


@pytest.fixture(scope="module")
def client(estate: EstateServer) -> zeep.Client:
    return zeep.Client(f"{estate.base_url}/customer-master?wsdl")


def test_get_customer_returns_fixed_padded_record(client: zeep.Client) -> None:
    expected = {
        "CUSTNO": "10000001",
        "CUST_NAME": "MULLER, ANNA".ljust(30),
        "ADDR_LINE1": "KURFURSTENDAMM 21".ljust(30),
        "ADDR_LINE2": " " * 30,
        "CITY": "BERLIN".ljust(20),
        "POST_CD": "10719".ljust(10),
        "CTRY_CD": "DE",
        "BAL_CENTS": 123456,
        "CREDIT_LIM_CENTS": 500000,
        "OPEN_DT": "19870315",
        "LAST_ORD_DT": "20240611",
        "STAT_CD": "A",
        "VIP_FLG": "Y",
        "HEIGHT_IN": Decimal("66.5"),
        "BIRTH_DT": "620704",
        "UPD_TS": "20240611143005",
        "PREF_CALL_TM": "093000",
        # The MEASFILE record in EBCDIC cp037, written out byte by byte: zoned CUSTNO and
        # Julian date (124163 = 2024-06-11), fit S, four packed S9(3)V9 (36.5, 30.0, 31.5,
        # 24.0), binary 2, the note padded with 0x40, five filler spaces.
        "MEASURE_REC": bytes.fromhex(
            "F1F0F0F0F0F0F0F1"
            "F1F2F4F1F6F3"
            "E2"
            "00365C"
            "00300C"
            "00315C"
            "00240C"
            "0002"
            "D3C5C6E340E2C8D6E4D3C4C5D940D3D6E6404040"
            "4040404040"
        ),
    }
    record = client.service.GetCustomer(CUSTNO="10000001")
    assert dict(serialize_object(record)) == expected


def test_every_customer_carries_well_formed_later_fields() -> None:
    store = CustomerStore.generated()
    assert len({c.birth_dt for c in store}) > 100
    for customer in store:
        assert re.fullmatch(r"[0-9]{6}| {6}", customer.birth_dt), customer
        assert dt.datetime.strptime(customer.upd_ts, "%Y%m%d%H%M%S").year in range(2020, 2025)
        assert re.fullmatch(r"000000|(0[89]|1[0-9])(00|15|30|45)00", customer.pref_call_tm)
        record = base64.b64decode(customer.measure_rec)
        assert len(record) == 54
        assert record[:8].decode("cp037") == customer.custno
        julian = record[8:14].decode("cp037")  # CYYDDD
        assert julian.isdigit() and julian[0] in "01" and 1 <= int(julian[3:]) <= 366
        for start in range(15, 27, 3):  # four packed decimals, positive (sign nibble C)
            nibbles = record[start : start + 3].hex()
            assert nibbles[:-1].isdigit() and nibbles[-1] == "c", nibbles


def test_unknown_customer_is_a_client_fault(client: zeep.Client) -> None:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.GetCustomer(CUSTNO="12345678")
    assert caught.value.message == "CUSTOMER NOT FOUND"
    assert caught.value.code == "soap:Client"
    assert caught.value.detail.findtext(f"{{{CM_NS}}}CM_ERROR/{{{CM_NS}}}ERR_CD") == "CM404"
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.GetCustomer(CUSTNO="1234")
    assert caught.value.detail.findtext(f"{{{CM_NS}}}CM_ERROR/{{{CM_NS}}}ERR_CD") == "CM400"


def test_list_and_search(client: zeep.Client) -> None:
    page = client.service.ListCustomers(PAGE_NO=1, PAGE_SIZE=500)
    assert (page.TOTAL_COUNT, len(page.CUSTOMER)) == (1200, 500)
    assert page.CUSTOMER[41].CUSTNO == "10000042"
    hits = client.service.SearchCustomers(NAME_PREFIX="smith", MAX_HITS=5)
    assert hits.HIT_COUNT == 5
    assert all(c.CUST_NAME.startswith("SMITH") for c in hits.CUSTOMER)
    escaped = client.service.SearchCustomers(NAME_PREFIX="O'BRIEN, S", STAT_CD="A")
    assert "10000002" in [c.CUSTNO for c in escaped.CUSTOMER]


def test_update_address_is_seen_by_later_reads(client: zeep.Client) -> None:
    result = client.service.UpdateCustomerAddress(
        CUSTNO="10000042", ADDR_LINE1="7 NEW ROAD", CITY="LEEDS", POST_CD="LS1 1AA", CTRY_CD="GB"
    )
    assert result.RESULT_CD == "OK"
    record = client.service.GetCustomer(CUSTNO="10000042")
    address = (record.ADDR_LINE1, record.CITY)
    assert address == ("7 NEW ROAD".ljust(30), "LEEDS".ljust(20))
    with pytest.raises(zeep.exceptions.Fault):
        client.service.UpdateCustomerAddress(
            CUSTNO="10000042", ADDR_LINE1="X", CITY="LEEDS", POST_CD="1", CTRY_CD="gb"
        )


def test_soap12_port(estate: EstateServer, client: zeep.Client) -> None:
    service = client.bind("CustomerMaster", "CustomerMasterSoap12")
    assert service.GetCustomer(CUSTNO="10000001").CUST_NAME.rstrip() == "MULLER, ANNA"
    assert estate.received[-1].path == "/customer-master/soap12"
    assert estate.received[-1].headers["content-type"].startswith("application/soap+xml")
    with pytest.raises(zeep.exceptions.Fault) as caught:
        service.GetCustomer(CUSTNO="12345678")
    assert caught.value.code == "soap:Sender"


def test_fx_rates_rpc_literal(estate: EstateServer) -> None:
    fx = zeep.Client(f"{estate.base_url}/fx-rates?wsdl")
    rate = fx.service.GetRate(FROM_CCY="EUR", TO_CCY="USD")
    assert (rate.RATE_MILLIONTHS, rate.RATE_DT) == (1_085_000, "20240611")
    with pytest.raises(zeep.exceptions.Fault, match="UNKNOWN CURRENCY"):
        fx.service.GetRate(FROM_CCY="EUR", TO_CCY="XYZ")


def test_received_holds_the_exact_envelope(estate: EstateServer, client: zeep.Client) -> None:
    client.service.GetCustomerCount()
    request = estate.received[-1]
    assert (request.method, request.path) == ("POST", "/customer-master")
    assert request.headers["soapaction"] == '"urn:legacy:customer-master:v1#GetCustomerCount"'
    body = etree.fromstring(request.body)
    assert body.find("{*}Body/{urn:legacy:customer-master:v1}GetCustomerCount") is not None


def test_malformed_request_is_a_soap_fault(estate: EstateServer) -> None:
    url = f"{estate.base_url}/customer-master"
    reply = httpx.post(url, content=b"<oops", headers={"content-type": "text/xml"})
    assert reply.status_code == 500  # SOAP 1.1: every fault travels as HTTP 500
    assert b"<faultstring>MALFORMED REQUEST</faultstring>" in reply.content
    reply = httpx.post(url, content=b"<oops", headers={"content-type": "application/soap+xml"})
    assert reply.status_code == 400  # SOAP 1.2: Sender faults travel as HTTP 400
    assert reply.headers["content-type"].startswith("application/soap+xml")


def test_credentials_are_enforced() -> None:
    with EstateServer(credentials=("agent", "s3cret")) as estate:
        wsdl = f"{estate.base_url}/customer-master?wsdl"
        for wsse in (None, UsernameToken("agent", "wrong")):
            with pytest.raises(zeep.exceptions.Fault, match="AUTHENTICATION FAILED"):
                zeep.Client(wsdl, wsse=wsse).service.GetCustomerCount()
        authed = zeep.Client(wsdl, wsse=UsernameToken("agent", "s3cret"))
        assert authed.service.GetCustomerCount() == 1200


def test_hostile_only_when_enabled(estate: EstateServer) -> None:
    def get(server: EstateServer, custno: str) -> httpx.Response:
        body = (
            '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            f'<GetCustomer xmlns="{CM_NS}"><CUSTNO>{custno}</CUSTNO></GetCustomer>'
            "</s:Body></s:Envelope>"
        )
        headers = {"content-type": "text/xml; charset=utf-8"}
        return httpx.post(f"{server.base_url}/customer-master", content=body, headers=headers)

    assert b"CM404" in get(estate, "99999500").content  # the demo estate stays well-behaved
    with EstateServer(hostile=True) as hostile:
        assert get(hostile, "99999500").headers["content-type"].startswith("text/html")
        assert get(hostile, "99999503").status_code == 503
        assert b'<!ENTITY xxe SYSTEM "file:///etc/passwd">' in get(hostile, "99999666").content
        assert b"<!ENTITY lol9" in get(hostile, "99999777").content
        assert get(hostile, "99999888").content == b"<<<garbage"
        assert b"<BAL_CENTS>12X4</BAL_CENTS>" in get(hostile, "99999999").content
