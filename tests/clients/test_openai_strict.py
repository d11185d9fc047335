"""``?format=openai`` tools work with OpenAI's strict mode (``strict: true``).

Strict structured outputs take a documented subset of JSON Schema: every object lists all
its properties in ``required`` and has ``additionalProperties: false``; optional values are
a union with null; only some keywords are supported (for strings ``pattern`` and some
formats, for numbers ranges and ``multipleOf``, for arrays ``minItems``/``maxItems``, and
``enum``, ``const``, ``anyOf``, ``description``). Each demo tool's definition is checked
against that subset, and each example, as a strict model sends it (null for what it leaves
out), is accepted by the definition and answered by the gateway.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from gateway.mapping.openai import SUPPORTED_FORMATS, SUPPORTED_KEYWORDS
from tests.integration.support import DEMO_CONFIG

DEMO_TOOLS = sorted(load_config(DEMO_CONFIG, INSTALLED).tools)
STRUCTURAL = {"type", "properties", "required", "additionalProperties", "items", "anyOf"}
SCALAR_TYPES = {"string", "number", "integer", "boolean", "null"}


def strict_problems(node: dict[str, Any], where: str = "$") -> list[str]:
    """Where ``node`` leaves the documented strict-mode subset (empty when it does not)."""
    problems = [f"{where}: unsupported {key}" for key in node if key not in SUPPORTED_KEYWORDS]
    kind = node.get("type")
    if isinstance(kind, list):
        real = [k for k in kind if k != "null"]
        if len(real) != 1 or len(kind) > 2:
            problems.append(f"{where}: a type list is one type or one type and null: {kind}")
    if "format" in node and node["format"] not in SUPPORTED_FORMATS:
        problems.append(f"{where}: unsupported format {node['format']}")
    if kind == "object" or "properties" in node:
        properties = node.get("properties", {})
        if node.get("additionalProperties") is not False:
            problems.append(f"{where}: additionalProperties must be false")
        if node.get("required") != list(properties):
            problems.append(f"{where}: every property must be required")
        for name, sub in properties.items():
            problems.extend(strict_problems(sub, f"{where}.{name}"))
    if "items" in node:
        problems.extend(strict_problems(node["items"], f"{where}[]"))
    for index, branch in enumerate(node.get("anyOf", [])):
        problems.extend(strict_problems(branch, f"{where}.anyOf[{index}]"))
    if "enum" in node and isinstance(kind, list) and "null" in kind and None not in node["enum"]:
        problems.append(f"{where}: a nullable enum lists null")
    return problems


def as_a_strict_model_sends(arguments: dict[str, Any], parameters: dict[str, Any]) -> Any:
    """Every property present: what the example leaves out is null."""
    return {name: arguments.get(name) for name in parameters["properties"]}


@pytest.fixture(scope="module")
def functions(demo: TestClient) -> dict[str, dict[str, Any]]:
    listing = demo.get("/v1/tools", params={"format": "openai"})
    assert listing.status_code == 200, listing.text
    return {entry["function"]["name"]: entry for entry in listing.json()}


def test_the_checker_catches_what_strict_mode_refuses() -> None:
    loose = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "maxLength": 3},
            "b": {"type": ["number", "string"]},
        },
        "required": ["a"],
    }
    problems = strict_problems(loose)
    assert "$: additionalProperties must be false" in problems
    assert "$: every property must be required" in problems
    assert "$.a: unsupported maxLength" in problems
    assert any(problem.startswith("$.b: a type list") for problem in problems)


@pytest.mark.parametrize("name", DEMO_TOOLS)
def test_every_demo_tool_is_a_strict_function(
    functions: dict[str, dict[str, Any]], name: str
) -> None:
    entry = functions[name]
    assert entry["type"] == "function"
    function = entry["function"]
    assert function["strict"] is True
    parameters = function["parameters"]
    assert parameters["type"] == "object"
    assert strict_problems(parameters) == []


@pytest.mark.parametrize("name", DEMO_TOOLS)
def test_a_strict_models_arguments_are_valid_and_answered(
    demo: TestClient, functions: dict[str, dict[str, Any]], name: str
) -> None:
    parameters = functions[name]["function"]["parameters"]
    validator = Draft202012Validator(parameters, format_checker=Draft202012Validator.FORMAT_CHECKER)
    examples = demo.get(f"/v1/tools/{name}").json()["input_schema"]["examples"]
    for example in examples:
        sent = as_a_strict_model_sends(example, parameters)
        assert [e.message for e in validator.iter_errors(sent)] == [], sent
        response = demo.post(f"/v1/tools/{name}/call", json={"arguments": sent})
        assert response.status_code in (200, 202), response.text


def test_optional_arguments_are_a_union_with_null_and_lengths_move_to_words(
    functions: dict[str, dict[str, Any]],
) -> None:
    properties = functions["record_posting"]["function"]["parameters"]["properties"]
    assert properties["booked_at"]["type"] == ["string", "null"]
    assert "Default: 12:00:00." in properties["booked_at"]["description"]
    assert "maxLength" not in properties["text"]
    assert "At most 30 characters." in properties["text"]["description"]
    amount = properties["amount"]
    assert [branch["type"] for branch in amount["anyOf"]] == ["number", "string"]
