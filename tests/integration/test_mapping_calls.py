"""The mapping language end to end: real SOAP calls to the demo estate, and `legacy-gateway
map` on answers captured from it.

A tool that builds its request as an XML document (``request: xml``) and reads the answer
with XPath talks to the same GetCustomer operation as the demo's parameter-mapped tool, and
both must agree; ``map`` must give, offline, exactly what a live call gives.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import orjson
from lxml import etree
from typer.testing import CliRunner

from estate.server import EstateServer
from gateway.cli import app
from tests.integration.support import (
    ANNA,
    CM_NS,
    DEMO_CONFIG,
    EstateWatch,
    call_record,
    call_tool,
    committed,
    demo_copy,
    error_of,
    gateway_client,
)

XML_TOOL = f"""
tools:
  get_customer_xml:
    description: Look up a customer, with the request built as XML and read by XPath.
    backend: customer_master
    operation: GetCustomer
    request:
      xml:
        root: cm:GetCustomer
        namespaces: {{cm: "{CM_NS}"}}
    input:
      customer_number: {{to: "cm:CUSTNO", type: integer, width: 8, pad: "0"}}
    output:
      namespaces: {{cm: "{CM_NS}"}}
      xpath: cm:CUSTOMER
      fields:
        name: {{xpath: cm:CUST_NAME, trim: true}}
        balance_eur: {{xpath: cm:BAL_CENTS, scale: -2}}
        status: {{xpath: cm:STAT_CD, codes: cm_status}}
        opened_on: {{xpath: cm:OPEN_DT, type: date, format: "%Y%m%d"}}
        height_cm: {{xpath: cm:HEIGHT_IN, unit: {{from: inch, to: cm, round: 1}}}}
code_tables:
  cm_status: {{A: active, C: closed, S: suspended, P: pending}}
"""


def _config(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, directory)
    (directory / "xml_tools.yaml").write_text(XML_TOOL, encoding="utf-8")
    return directory


def test_an_xml_request_and_xpath_answer_agree_with_the_parameter_mapped_tool(
    estate_env: dict[str, str], estate: EstateServer, tmp_path: Path
) -> None:
    with gateway_client(_config(tmp_path), tmp_path / "audit.sqlite") as client:
        watch = EstateWatch(estate)
        response = call_tool(client, "get_customer_xml", {"customer_number": int(ANNA)})
        assert response.status_code == 200, response.text
        sent = etree.fromstring(watch.sole().body)
        plain = call_tool(client, "get_customer", {"customer_number": ANNA}).json()["result"]

    operation = sent.find(f".//{{{CM_NS}}}GetCustomer")
    assert operation is not None
    assert [(child.tag, child.text) for child in operation] == [(f"{{{CM_NS}}}CUSTNO", ANNA)]
    assert response.json()["result"] == {
        "name": "MULLER, ANNA",
        "balance_eur": 1234.56,
        "status": "active",
        "opened_on": "1987-03-15",
        "height_cm": 168.9,
    }
    assert {key: plain[key] for key in response.json()["result"]} == response.json()["result"]


def test_a_value_the_xpath_mapping_cannot_read_fails_the_call_on_the_record(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    config = _config(tmp_path)
    tool = config / "xml_tools.yaml"
    tool.write_text(
        tool.read_text().replace("cm:STAT_CD, codes", "cm:VIP_FLG, codes"), encoding="utf-8"
    )
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        response = call_tool(client, "get_customer_xml", {"customer_number": int(ANNA)})
        error = error_of(response)
        record = call_record(client, error["call_id"])

    assert response.status_code == 502
    assert error["code"] == "mapping_failed"
    assert error["details"] == {
        "field": "status",
        "raw_value": "Y",
        "reason": "unknown code (known: A, C, P, S)",
    }
    assert record["status"] == "error"
    assert record["error"]["details"]["raw_value"] == "Y"
    assert "<VIP_FLG>Y</VIP_FLG>" in record["interactions"][0]["response"]["body"]


def _captured_answer(estate: EstateServer, custno: str) -> bytes:
    envelope = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soap:Body><GetCustomer xmlns="{CM_NS}"><CUSTNO>{custno}</CUSTNO></GetCustomer>'
        "</soap:Body></soap:Envelope>"
    )
    response = httpx.post(
        estate.customer_master_url,
        content=envelope,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"GetCustomer"'},
    )
    assert response.status_code == 200, response.text
    return response.content


def _map(*args: str) -> tuple[int, Any, str]:
    result = CliRunner().invoke(app, ["map", *args])
    output = orjson.loads(result.stdout) if result.exit_code == 0 else result.stdout
    return result.exit_code, output, result.stderr


def test_map_output_from_a_captured_answer_gives_what_a_live_call_gives(
    estate_env: dict[str, str], estate: EstateServer, tmp_path: Path
) -> None:
    answer = tmp_path / "answer.xml"
    answer.write_bytes(_captured_answer(estate, ANNA))
    with gateway_client(DEMO_CONFIG, tmp_path / "audit.sqlite") as client:
        live = call_tool(client, "get_customer", {"customer_number": ANNA}).json()["result"]

    code, mapped, _ = _map(str(DEMO_CONFIG), "get_customer", "--output-from", str(answer))
    assert code == 0
    assert mapped == live

    # Only the body's content, as a legacy team might hand it over, maps the same.
    content = etree.fromstring(answer.read_bytes()).find(".//{*}Body")[0]  # type: ignore[index]
    answer.write_bytes(etree.tostring(content))
    assert _map(str(DEMO_CONFIG), "get_customer", "--output-from", str(answer))[1] == live


def test_map_input_from_prints_the_envelope_the_backend_would_get(tmp_path: Path) -> None:
    arguments = tmp_path / "args.json"
    arguments.write_text('{"name_prefix": "smith", "status": "active", "max_hits": 5}')

    code, request, _ = _map(str(DEMO_CONFIG), "search_customers", "--input-from", str(arguments))

    assert code == 0
    assert request["http_headers"]["Content-Type"] == "text/xml; charset=utf-8"
    body = etree.fromstring(request["envelope"].encode())
    operation = body.find(f".//{{{CM_NS}}}SearchCustomers")
    assert operation is not None
    assert [(etree.QName(c).localname, c.text) for c in operation] == [
        ("NAME_PREFIX", "SMITH"),
        ("STAT_CD", "A"),
        ("MAX_HITS", "5"),
    ]


def test_map_reports_an_unmappable_value_with_its_field_and_raw_value(
    estate: EstateServer, tmp_path: Path
) -> None:
    answer = tmp_path / "answer.xml"
    answer.write_bytes(
        _captured_answer(estate, ANNA).replace(b"<STAT_CD>A</STAT_CD>", b"<STAT_CD>Q</STAT_CD>")
    )

    code, _, stderr = _map(str(DEMO_CONFIG), "get_customer", "--output-from", str(answer))

    assert code == 2
    assert "mapping_failed" in stderr
    assert "'Q'" in stderr
    assert "status" in stderr


def test_map_refuses_bad_arguments_and_unknown_tools(tmp_path: Path) -> None:
    arguments = tmp_path / "args.json"
    arguments.write_text('{"customer_number": "42"}')

    code, _, stderr = _map(str(DEMO_CONFIG), "get_customer", "--input-from", str(arguments))
    assert code == 2
    assert "invalid_arguments" in stderr
    assert "does not match pattern" in stderr

    code, _, stderr = _map(str(DEMO_CONFIG), "get_custmer", "--input-from", str(arguments))
    assert code == 2
    assert "did you mean 'get_customer'" in stderr

    code, _, stderr = _map(str(DEMO_CONFIG), "get_customer")
    assert code != 0
    assert "exactly one of" in stderr


def test_the_demo_maps_dates_times_timezones_and_an_ebcdic_copybook_field(
    demo_client: Any,
) -> None:
    response = call_tool(demo_client, "get_customer", {"customer_number": ANNA})

    assert response.status_code == 200, response.text
    result = response.json()["result"]
    # BIRTH_DT 620704 with a 1925 window, UPD_TS host time in Berlin (summer: +02:00),
    # PREF_CALL_TM 093000, and MEASURE_REC: base64 of a cp037 record with zoned, packed
    # (COMP-3) and binary (COMP) fields, a Julian date and a code, in inches made cm.
    assert result["born_on"] == "1962-07-04"
    assert result["updated_at"] == "2024-06-11T14:30:05+02:00"
    assert result["call_after"] == "09:30:00"
    assert result["measurements"] == {
        "taken_on": "2024-06-11",
        "fit": "slim",
        "chest_cm": 92.7,
        "waist_cm": 76.2,
        "inseam_cm": 80,
        "sleeve_cm": 61,
        "alterations": 2,
        "note": "LEFT SHOULDER LOW",
    }
    schema = demo_client.get("/v1/tools").json()
    tool = next(t for t in schema["tools"] if t["name"] == "get_customer")
    measurements = tool["output_schema"]["properties"]["measurements"]
    assert measurements["properties"]["fit"]["enum"] == ["slim", "regular", "comfort", None]
    assert "Legacy encoded record MEASURE_REC" in measurements["description"]
    assert tool["output_schema"]["properties"]["updated_at"]["format"] == "date-time"


def test_a_page_of_customers_maps_every_record_of_the_estate(demo_client: Any) -> None:
    response = call_tool(demo_client, "list_customers", {"page": 1, "page_size": 1000})

    assert response.status_code == 200, response.text
    customers = response.json()["result"]["customers"]
    assert len(customers) == 1000
    assert all(c["measurements"]["taken_on"] >= "1995-01-01" for c in customers)
    assert {c["measurements"]["fit"] for c in customers} == {"slim", "regular", "comfort"}
    assert any(c["born_on"] is None for c in customers)
    assert any(c["call_after"] is None for c in customers)


def test_sensitive_fields_are_starred_in_every_record_of_a_soap_call(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    config = demo_copy(tmp_path)
    customers = config / "customers.yaml"
    text = customers.read_text()
    text = text.replace("to: CUSTNO,\n", "to: CUSTNO, sensitive: true,\n", 1)
    text = text.replace(
        "name:            {from: CUST_NAME, trim: true,",
        "name:            {from: CUST_NAME, trim: true, sensitive: true,",
    )
    customers.write_text(text)
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        response = call_tool(client, "get_customer", {"customer_number": ANNA})
        record = call_record(client, response.json()["call_id"])

    assert response.json()["result"]["name"] == "MULLER, ANNA"  # the agent gets it
    assert record["arguments"] == {"customer_number": committed(client, ANNA)}
    assert record["result"]["name"] == committed(client, "MULLER, ANNA")
    assert record["result"]["city"] == "BERLIN"
    (interaction,) = record["interactions"]
    assert (
        f"<ns0:CUSTNO>{committed(client, ANNA)}</ns0:CUSTNO>" in interaction["request"]["envelope"]
    )
    assert "<CUST_NAME>sha256:" in interaction["response"]["body"]
    assert "MULLER" not in str(record)
