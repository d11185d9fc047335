"""Each XSD construct on a hand-written WSDL: what the agent's schema says, what goes out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from lxml import etree

from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from gateway.importers.regex_sample import sample
from gateway.importers.run import wsdl_to_config
from gateway.importers.simple_types import example_value, field_checks
from gateway.importers.xsd import Simple
from gateway.mapping.redaction import Commitments
from gateway.tools import Registry, build_registry
from tests.unit.wsdl_xsd import body_content, wsdl_schema

FIXTURE = Path(__file__).parent.parent / "fixtures" / "wsdl" / "constructs"
RATES_WRAPPER = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
  xmlns:o="urn:example:orders" targetNamespace="urn:example:rates">
  <xs:import namespace="urn:example:orders" schemaLocation="{orders}"/>
  <xs:element name="GetRate"><xs:complexType><xs:sequence>
    <xs:element name="query" type="o:RateQuery" form="unqualified"/>
    <xs:element name="day" type="xs:date" form="unqualified"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>"""


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Registry, Path]:
    base = tmp_path_factory.mktemp("constructs")
    wsdl_dir = base / "wsdl"
    shutil.copytree(FIXTURE, wsdl_dir)
    wsdl_to_config(str(wsdl_dir / "constructs.wsdl"), base / "config")
    return build_registry(
        load_config(base / "config", INSTALLED), Commitments.throwaway()
    ), wsdl_dir


def _props(registry: Registry, tool: str) -> dict[str, Any]:
    return registry.tools[tool].input_schema["properties"]  # type: ignore[no-any-return]


def test_one_tool_per_operation_over_every_port_with_soap12_twin_not_repeated(
    imported: tuple[Registry, Path],
) -> None:
    registry, _ = imported
    assert sorted(registry.tools) == ["get_rate", "place_order"]
    assert registry.tools["place_order"].config.effect == "write"
    assert registry.tools["get_rate"].config.effect == "read"
    assert registry.tools["place_order"].config.description == "Place an order for a customer."
    assert registry.tools["get_rate"].adapter.soap_version == "1.2"  # type: ignore[attr-defined]


def test_sequence_extension_attributes_and_recursion(imported: tuple[Registry, Path]) -> None:
    customer = _props(imported[0], "place_order")["customer"]
    # extension: the base's Name and id come with the derived Address and Referrer
    assert list(customer["properties"]) == ["name", "address", "referrer", "id"]
    assert customer["required"] == ["name", "address"]
    assert customer["properties"]["id"]["maximum"] == 2**31 - 1  # attribute, xs:int
    referrer = customer["properties"]["referrer"]
    assert "referrer" not in referrer["properties"]  # the recursive type is cut at depth 2


def test_all_occurs_lengths_ranges_and_patterns(imported: tuple[Registry, Path]) -> None:
    line = _props(imported[0], "place_order")["line"]
    assert (line["type"], line["minItems"], line["maxItems"]) == ("array", 1, 10)
    item = line["items"]["properties"]
    assert item["sku"]["pattern"] == "^(?:(?:[A-Z]{3}-[0-9]{4}))$"  # pattern from an import
    assert (item["quantity"]["minimum"], item["quantity"]["maximum"]) == (1, 99)
    assert item["note"]["maxLength"] == 20
    assert line["items"]["required"] == ["sku", "quantity"]
    assert (
        _props(imported[0], "place_order")["customer"]["properties"]["address"]["properties"][
            "country"
        ]["pattern"]
        == "^(?:(?:[A-Z]{2}))$"
    )


def test_simple_content_digits_exclusive_ranges_enumerations_and_builtins(
    imported: tuple[Registry, Path],
) -> None:
    props = _props(imported[0], "place_order")
    total = props["total"]["properties"]
    assert total["value"]["exclusiveMinimum"] == 0
    assert total["value"]["maximum"] == 1000000
    assert "9 digits in all, 2 after the point" in total["value"]["description"]
    assert props["total"]["required"] == ["currency", "value"]
    assert props["status"]["enum"] == ["OPEN", "SHIPPED"]
    assert props["wanted"]["format"] == "date"
    assert props["attachment"]["contentEncoding"] == "base64"
    assert "Nillable" in props["priority"]["description"]
    assert "extra" not in props  # xsd:any only: nothing an agent can name


def test_choice_branches_are_optional_and_exclusive(imported: tuple[Registry, Path]) -> None:
    registry, _ = imported
    schema = registry.tools["place_order"].input_schema
    assert "card_token" not in schema["required"] and "invoice_to" not in schema["required"]
    assert schema["oneOf"] == [{"required": ["card_token"]}, {"required": ["invoice_to"]}]
    example = schema["examples"][0]
    validator = Draft202012Validator(schema)
    assert not list(validator.iter_errors(example))
    both = {**example, "invoice_to": {"street": "x", "country": "DE"}}
    assert list(validator.iter_errors(both))  # both branches: not what the XSD allows
    neither = {k: v for k, v in example.items() if k != "card_token"}
    assert list(validator.iter_errors(neither))


def test_output_required_lists_and_codes(imported: tuple[Registry, Path]) -> None:
    output = imported[0].tools["place_order"].output_schema
    assert output["properties"]["order_number"]["type"] == "integer"
    assert output["properties"]["status"]["enum"] == ["OPEN", "SHIPPED"]
    assert output["properties"]["lines"]["type"] == "array"
    answer = (
        b"<PlaceOrderResponse xmlns='urn:example:orders'><OrderNumber>42</OrderNumber>"
        b"<Status>OPEN</Status><Lines><Sku>ABC-0001</Sku><Quantity>2</Quantity></Lines>"
        b"</PlaceOrderResponse>"
    )
    tool = imported[0].tools["place_order"]
    result = tool.output(tool.adapter.parse_answer(tool.prepared, answer))
    assert result == {
        "order_number": 42,
        "status": "OPEN",
        "lines": [{"sku": "ABC-0001", "quantity": 2, "note": None}],
    }


def test_examples_make_schema_valid_envelopes_document_and_rpc(
    imported: tuple[Registry, Path], tmp_path: Path
) -> None:
    registry, wsdl_dir = imported
    schema = wsdl_schema(wsdl_dir / "constructs.wsdl", tmp_path)
    orders = next(p for p in tmp_path.glob("inline_*.xsd"))
    wrapper = tmp_path / "rates.xsd"
    wrapper.write_text(RATES_WRAPPER.format(orders=orders.as_uri()), encoding="utf-8")
    rates = etree.XMLSchema(etree.parse(str(wrapper)))
    for name, check in (("place_order", schema), ("get_rate", rates)):
        tool = registry.tools[name]
        example = tool.input_schema["examples"][0]
        assert not list(Draft202012Validator(tool.input_schema).iter_errors(example))
        rendered = tool.adapter.render(tool.prepared, tool.input(example))
        content = body_content(rendered["envelope"])
        assert check.validate(etree.ElementTree(content)), check.error_log.last_error
    envelope = registry.tools["get_rate"].adapter.render(
        registry.tools["get_rate"].prepared,
        registry.tools["get_rate"].input(
            {"query": {"from": "EUR", "to": "USD"}, "day": "2024-02-29"}
        ),
    )["envelope"]
    # Version is fixed by the schema: never asked of the agent, always sent.
    assert (
        "version"
        not in registry.tools["get_rate"].input_schema["properties"]["query"]["properties"]
    )
    assert (
        "<query><ns1:From>EUR</ns1:From><ns1:To>USD</ns1:To><ns1:Version>1.0</ns1:Version></query>"
        in envelope
    )
    assert "http://www.w3.org/2003/05/soap-envelope" in envelope


@pytest.mark.parametrize(
    ("builtin", "facets", "keys", "extra"),
    [
        ("unsignedByte", {}, {"minimum": 0, "maximum": 255}, {}),
        ("positiveInteger", {}, {"minimum": 1}, {}),
        ("anyURI", {}, {}, {"format": "uri"}),
        ("hexBinary", {}, {"pattern": "^(?:(?:([0-9a-fA-F]{2})*))$"}, {}),
        ("string", {"length": "3"}, {"min_length": 3, "max_length": 3}, {}),
        ("int", {"enumeration": ["1", "2"]}, {"minimum": -(2**31), "maximum": 2**31 - 1},
         {"enum": [1, 2]}),
        ("double", {"maxExclusive": "1.5"}, {}, {"exclusiveMaximum": 1.5}),
    ],
)  # fmt: skip
def test_builtins_and_facets(
    builtin: str, facets: dict[str, Any], keys: dict[str, Any], extra: dict[str, Any]
) -> None:
    got_keys, got_extra, _ = field_checks(Simple(builtin, facets))
    assert got_keys == keys
    assert got_extra == extra


@pytest.mark.parametrize(
    "pattern", [r"[A-Z]{2}[0-9]{8}", r"(\d{3})-\d+", r"[^x]+|b", r"[a-z]+@[a-z]+\.com"]
)
def test_pattern_examples_match(pattern: str) -> None:
    import re

    assert re.fullmatch(pattern, sample(pattern))
    value = example_value(Simple("string", {"pattern": [pattern]}))
    assert re.fullmatch(pattern, value)


def test_xsd_only_pattern_is_said_not_enforced() -> None:
    keys, _, notes = field_checks(Simple("string", {"pattern": [r"\i\c*"]}))
    assert "pattern" not in keys
    assert any("\\i\\c*" in note for note in notes)


def test_an_empty_element_is_an_empty_record_not_an_error() -> None:
    from gateway.mapping.records import OutputMapper
    from gateway.mapping.spec import OutputSpec

    spec = OutputSpec.model_validate(
        {"fields": {"a": {"from": "A", "fields": {"b": {"from": "B"}}}, "c": {"from": "A.C"}}}
    )
    # <A/> in an answer reads as '' in plain data: all-optional content, all of it absent.
    assert OutputMapper(spec)({"A": ""}) == {"a": {"b": None}, "c": None}
