"""OpenAPI and Swagger documents: import, load, and every tool's example makes a request
that the source document allows (path filled, query and body names it declares)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from gateway.importers.openapi import OpenApiImportError
from gateway.importers.run import openapi_to_config
from gateway.mapping.redaction import Commitments
from gateway.tools import Registry, build_registry

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openapi"
DOCUMENTS = [
    "xkcd.com.yaml",
    "stackexchange.com.yaml",
    "atlassian.com.yaml",
    "twilio.com.yaml",
    "yelp.com.yaml",
    "mandrillapp.com.yaml",
    "constructs-3.1.yaml",
    "estate-crm.yaml",
]
_ENV = re.compile(r"\$\{([A-Z0-9_]+)\}")
_SLOT = re.compile(r"\{[^}]+\}")


def _load(out: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    for path in out.glob("*.yaml"):
        for name in _ENV.findall(path.read_text(encoding="utf-8")):
            monkeypatch.setenv(name, "secret-" + name.lower())
    return build_registry(load_config(out, INSTALLED), Commitments.throwaway())


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, set[str]]]:
    """(METHOD, path with anonymous slots) -> query and body names the document declares."""
    found: dict[tuple[str, str], dict[str, set[str]]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or method == "parameters":
                continue
            names: dict[str, set[str]] = {"query": set(), "body": set()}
            for raw in [*item.get("parameters", []), *operation.get("parameters", [])]:
                parameter = _deref(document, raw)
                if parameter.get("in") in ("query", "formData"):
                    names["query"].add(parameter["name"])
            names["body"] = _body_names(document, operation, item)
            found[(method.upper(), _SLOT.sub("{}", path))] = names
    return found


def _deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        for part in node["$ref"][2:].split("/"):
            document = document[part] if isinstance(document, dict) else document
        node = document
        document = node
    return node


def _body_names(
    document: dict[str, Any], operation: dict[str, Any], item: dict[str, Any]
) -> set[str]:
    schema: Any = None
    if "requestBody" in operation:
        content = _deref(document, operation["requestBody"]).get("content", {})
        schema = next((v.get("schema") for k, v in content.items() if "json" in k), None)
    for raw in [*item.get("parameters", []), *operation.get("parameters", [])]:
        parameter = _deref(document, raw)
        if parameter.get("in") == "body":
            schema = parameter.get("schema")
    return _property_names(document, schema)


def _property_names(document: dict[str, Any], schema: Any) -> set[str]:
    schema = _deref(document, schema) if schema is not None else {}
    names = set(schema.get("properties") or {})
    for part in [*schema.get("allOf", []), *schema.get("oneOf", []), *schema.get("anyOf", [])]:
        names |= _property_names(document, part)
    return names


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_operation_becomes_a_tool_whose_example_makes_a_declared_request(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = FIXTURES / name
    document = YAML(typ="safe", pure=True).load(source.read_text(encoding="utf-8"))
    declared = _operations(document)
    out = tmp_path / "config"
    _, report, _ = openapi_to_config(str(source), out)
    registry = _load(out, monkeypatch)
    assert sorted(report.added) == sorted(registry.tools)
    assert len(registry.tools) == len(declared)
    for tool_name, tool in registry.tools.items():
        example = tool.input_schema["examples"][0]
        Draft202012Validator.check_schema(tool.input_schema)
        errors = [e.message for e in Draft202012Validator(tool.input_schema).iter_errors(example)]
        assert not errors, (tool_name, errors)
        request = tool.adapter.render(tool.prepared, tool.input(example))
        method, _, template = tool.config.operation.partition(" ")
        assert request["method"] == method
        assert "{" not in request["url"], (tool_name, request["url"])
        names = declared[(method, _SLOT.sub("{}", template))]
        assert set(request["query"]) <= names["query"], tool_name
        if isinstance(request["body"], dict):
            assert set(request["body"]) <= names["body"], tool_name


def test_constructs_of_openapi_3_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "config"
    openapi_to_config(str(FIXTURES / "constructs-3.1.yaml"), out)
    registry = _load(out, monkeypatch)
    backend = registry.config.backends["parcel_desk"]
    assert backend.base_url == "https://eu.parcels.example.com/v1"  # type: ignore[attr-defined]
    text = (out / "parcel_desk.yaml").read_text(encoding="utf-8")
    assert 'X-Api-Key: "${PARCEL_DESK_KEY}"' in text
    assert 'Authorization: "Bearer ${PARCEL_DESK_TOKEN}"' in text
    assert "X-Request-Id: not sent" not in text

    get = registry.tools["get_parcel"]
    assert get.config.operation == "GET /parcels/{parcel-id}"
    assert get.input_schema["properties"]["parcel_id"]["pattern"] == "^P[0-9]{6}$"
    rendered = get.adapter.render(get.prepared, get.input({"parcel_id": "P123456"}))
    assert rendered["url"] == "https://eu.parcels.example.com/v1/parcels/P123456"
    assert get.config.input["x_request_id"].to == "header:X-Request-Id"
    traced = get.input({"parcel_id": "P123456", "x_request_id": "r-1"})
    rendered = get.adapter.render(get.prepared, traced)
    assert rendered["headers"]["X-Request-Id"] == "r-1" and rendered["query"] == {}
    sender = get.output_schema["properties"]["sender"]["properties"]
    assert "manager" in sender and "manager" not in sender["manager"]["properties"]

    create = registry.tools["create_parcel"].input_schema
    assert create["required"] == ["weight_g"]  # allOf merged the parts' required fields
    assert create["properties"]["weight_g"]["maximum"] == 31500
    assert create["properties"]["insured_value"]["exclusiveMinimum"] == 0
    delivery = create["properties"]["delivery"]
    assert delivery["oneOf"] == [{"required": ["locker_id"]}, {"required": ["address"]}]
    both = {
        "weight_g": 5,
        "delivery": {"locker_id": "L1", "address": {"street": "x", "country": "DE"}},
    }
    assert list(Draft202012Validator(create).iter_errors(both))
    lst = registry.tools["list_parcels"]
    assert lst.input_schema["properties"]["status"]["enum"] == ["open", "shipped"]
    assert lst.config.output.list
    rendered = lst.adapter.render(lst.prepared, lst.input({"status": "open", "limit": 5}))
    assert rendered["query"] == {"limit": 5, "status": "open"}


def test_not_openapi_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("just: data\n", encoding="utf-8")
    with pytest.raises(OpenApiImportError, match="not an OpenAPI or Swagger document"):
        openapi_to_config(str(bad), tmp_path / "out")
    with pytest.raises(OpenApiImportError, match="cannot read"):
        openapi_to_config(str(tmp_path / "missing.yaml"), tmp_path / "out")
