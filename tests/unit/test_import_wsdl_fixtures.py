"""Real vendors' WSDLs: import, load, and every tool's example makes a schema-valid request."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from lxml import etree

from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from gateway.importers.run import wsdl_to_config
from gateway.importers.wsdl import load_client
from gateway.importers.xsd import Reader
from gateway.mapping.redaction import Commitments
from gateway.tools import build_registry
from tests.unit.wsdl_xsd import body_content, wsdl_schema
from tests.unit.xsd_instances import instance

FIXTURES = Path(__file__).parent.parent / "fixtures" / "wsdl"
WSDLS = [
    "bingads/customerbilling_service.xml",
    "bingads/customermanagement_service.xml",
    "bingads/reporting_service.xml",
    "bingads/bulk_service.xml",
    "bingads/adinsight_service.xml",
    "bingads/campaignmanagement_service.xml",
    "onvif/devicemgmt.wsdl",
    "onvif/ptz.wsdl",
    "onvif/media.wsdl",
    "onvif/imaging.wsdl",
    "onvif/accesscontrol.wsdl",
    "onvif/actionengine.wsdl",
    "onvif/analytics.wsdl",
    "onvif/analyticsdevice.wsdl",
    "onvif/deviceio.wsdl",
    "onvif/display.wsdl",
    "onvif/doorcontrol.wsdl",
    "onvif/events.wsdl",
    "onvif/receiver.wsdl",
    "onvif/replay.wsdl",
    "onvif/search.wsdl",
    "zeep/soap.wsdl",
    "zeep/soap_header.wsdl",
    "node-soap/CyberSourceTransaction_1.26.wsdl",
    "node-soap/list_parameter.wsdl",
    "node-soap/logincms.wsdl",
    "node-soap/ip2tele.wsdl",
    "fedex/ShipService_v23.wsdl",
    "fedex/TrackService_v16.wsdl",
    "fedex/RateService_v24.wsdl",
    "fedex/AddressValidationService_v4.wsdl",
]


@pytest.mark.parametrize("wsdl", WSDLS)
def test_every_operation_imports_loads_and_renders_a_valid_request(
    wsdl: str, tmp_path: Path
) -> None:
    source = FIXTURES / wsdl
    out = tmp_path / "config"
    _path, report, _ = wsdl_to_config(str(source), out)
    registry = build_registry(load_config(out, INSTALLED), Commitments.throwaway())
    assert registry.tools, "no tools imported"
    assert sorted(report.added) == sorted(registry.tools)
    work = tmp_path / "xsd"
    work.mkdir()
    schema = wsdl_schema(source, work)
    for name, tool in registry.tools.items():
        examples = tool.input_schema.get("examples", [])
        assert len(examples) == 1, name
        Draft202012Validator.check_schema(tool.input_schema)
        errors = list(Draft202012Validator(tool.input_schema).iter_errors(examples[0]))
        assert not errors, (name, [e.message for e in errors])
        params = tool.input(examples[0])
        rendered = tool.adapter.render(tool.prepared, params)
        content = body_content(rendered["envelope"])
        if not schema.validate(etree.ElementTree(content)):
            raise AssertionError(f"{name}: {schema.error_log.last_error}\n{rendered['envelope']}")


@pytest.mark.parametrize("wsdl", WSDLS)
def test_every_answer_the_schema_allows_maps_to_the_output_schema(
    wsdl: str, tmp_path: Path
) -> None:
    """An answer built from the operation's XSD, valid against it, goes through the tool's
    output mapping, and the result validates against the tool's published output schema."""
    source = FIXTURES / wsdl
    out = tmp_path / "config"
    wsdl_to_config(str(source), out)
    registry = build_registry(load_config(out, INSTALLED), Commitments.throwaway())
    work = tmp_path / "xsd"
    work.mkdir()
    schema = wsdl_schema(source, work)
    reader = Reader()
    client = load_client(str(source))  # with the facets the importer reads
    operations = {
        (port.binding.name.localname, name): operation
        for service in client.wsdl.services.values()
        for port in service.ports.values()
        for name, operation in getattr(port.binding, "_operations", {}).items()
    }
    checked = 0
    for name, tool in registry.tools.items():
        binding = tool.adapter._binding.name.localname  # type: ignore[attr-defined]
        operation = operations[(binding, tool.config.operation)]
        body = operation.output.body if operation.output is not None else None
        if body is None or body.qname is None:
            continue
        answer = instance(body.qname.text, reader.kind(body.type, ()))
        if not schema.validate(etree.ElementTree(answer)):
            continue  # abstract types or substitution groups the builder does not pick
        raw = tool.adapter.parse_answer(tool.prepared, etree.tostring(answer))
        result = tool.output(raw)
        errors = [e.message for e in Draft202012Validator(tool.output_schema).iter_errors(result)]
        assert not errors, (name, errors, etree.tostring(answer)[:2000])
        checked += 1
    assert checked >= len(registry.tools) // 2, (checked, len(registry.tools))


def test_soap_headers_become_backend_settings_sent_and_never_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = FIXTURES / "bingads/customerbilling_service.xml"
    out = tmp_path / "config"
    path, _, _ = wsdl_to_config(str(source), out)
    assert '"${CUSTOMER_BILLING_SERVICE_DEVELOPER_TOKEN:-}"' in path.read_text(encoding="utf-8")
    monkeypatch.setenv("CUSTOMER_BILLING_SERVICE_DEVELOPER_TOKEN", "dev-token-123")
    registry = build_registry(load_config(out, INSTALLED), Commitments.throwaway())
    tool = registry.tools["get_billing_groups"]
    params = tool.input(tool.input_schema["examples"][0])
    sent, _ = tool.adapter._build(tool.prepared, params)  # type: ignore[attr-defined]
    envelope = etree.fromstring(sent)
    header = envelope[0]
    assert etree.QName(header).localname == "Header"
    assert [etree.QName(child).localname for child in header] == ["DeveloperToken"]
    assert header[0].text == "dev-token-123"  # unset values are left out
    work = tmp_path / "xsd"
    work.mkdir()
    schema = wsdl_schema(source, work)
    assert schema.validate(etree.ElementTree(header[0])), schema.error_log.last_error
    recorded = tool.adapter.render(tool.prepared, params)["envelope"]
    assert "dev-token-123" not in recorded and "sha256:" in recorded
