"""Every example in docs/mappings.md does what the page says it does.

Fenced blocks carry a role and an example name in their info string: ``yaml mapping=NAME``
is a tool's mapping (``input``, ``output``, ``request``, ``code_tables``); ``legacy=NAME``
and ``agent=NAME`` are a legacy answer and the JSON the agent gets from it; ``args=NAME``
with ``params=NAME`` or ``request=NAME`` are agent arguments and the legacy request;
``error=NAME`` is the error a legacy answer or arguments produce; ``yaml
config-error=NAME`` is a mapping that must not load.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from lxml import etree
from pydantic import ValidationError
from ruamel.yaml import YAML

from gateway.config.models import ToolConfig
from gateway.errors import InvalidArguments, MappingFailed
from gateway.mapping.records import InputMapper, OutputMapper
from gateway.mapping.xml import element_to_value, element_to_value_with_attributes

DOC = Path(__file__).resolve().parents[2] / "docs" / "mappings.md"
BLOCK = re.compile(r"^```(\w+) ([\w-]+)=([\w-]+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks() -> dict[str, dict[str, tuple[str, str]]]:
    examples: dict[str, dict[str, tuple[str, str]]] = {}
    for language, role, name, body in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        roles = examples.setdefault(name, {})
        assert role not in roles, f"example {name} has two {role} blocks"
        roles[role] = (language, body)
    return examples


EXAMPLES = _blocks()


def _tool(text: str) -> tuple[InputMapper, OutputMapper]:
    data = YAML(typ="safe").load(text)
    tables = data.pop("code_tables", {})
    tool = ToolConfig.model_validate(
        {"description": "example", "backend": "b", "operation": "op", **data},
        context={"base_dir": DOC.parent, "code_tables": tables},
    )
    return InputMapper(tool.input, tool.request), OutputMapper(tool.output)


def _legacy(language: str, body: str, outputs: OutputMapper) -> Any:
    if language == "json":
        return orjson.loads(body)
    if language == "xml":
        # As the SOAP adapter hands it over: the body's content element, or its values.
        root = etree.fromstring(body.encode())
        if outputs.wants_xml:
            return root
        if outputs.reads_attributes:
            return element_to_value_with_attributes(root)
        return element_to_value(root)
    return body.strip()


def _plain(value: Any) -> Any:
    def default(item: Any) -> Any:
        if isinstance(item, Decimal):
            return format(item, "f")
        raise TypeError(type(item))

    return orjson.loads(orjson.dumps(value, default=default))


def _canonical_xml(element: Any) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True)
    if isinstance(element, str):
        element = etree.fromstring(element.encode(), parser)
    else:
        element = etree.fromstring(etree.tostring(element), parser)
    return bytes(etree.tostring(element, method="c14n"))


def test_the_page_has_examples_and_each_is_checked() -> None:
    assert len(EXAMPLES) >= 20
    for name, roles in EXAMPLES.items():
        if "mapping" in roles or "config-error" in roles:
            checks = set(roles) - {"mapping", "config-error"}
            assert checks, f"example {name} shows no result"
        else:
            assert {"args", "error"} <= set(roles) or {"legacy", "error"} <= set(roles), name


@pytest.mark.parametrize("name", sorted(n for n, r in EXAMPLES.items() if "mapping" in r))
def test_mapping_example(name: str) -> None:
    roles = EXAMPLES[name]
    inputs, outputs = _tool(roles["mapping"][1])
    if "legacy" in roles:
        language, body = roles["legacy"]
        answer = _legacy(language, body, outputs)
        if "agent" in roles:
            assert outputs(answer) == orjson.loads(roles["agent"][1])
        else:
            with pytest.raises(MappingFailed) as failure:
                outputs(answer)
            _assert_error(roles["error"], failure.value.message, failure.value.details)
    if "args" in roles:
        arguments = orjson.loads(roles["args"][1])
        if "params" in roles:
            assert _plain(inputs(arguments)) == orjson.loads(roles["params"][1])
        elif "request" in roles:
            assert _canonical_xml(inputs(arguments)) == _canonical_xml(roles["request"][1])
        else:
            with pytest.raises(InvalidArguments) as refusal:
                inputs(arguments)
            _assert_error(roles["error"], refusal.value.message, refusal.value.details)


def _assert_error(expected: tuple[str, str], message: str, details: dict[str, Any]) -> None:
    """A json error block is the error's details; a text block is part of its message."""
    language, body = expected
    if language == "json":
        assert details == orjson.loads(body)
    else:
        assert body.strip() in message


@pytest.mark.parametrize(
    "name", sorted(n for n, r in EXAMPLES.items() if "args" in r and "mapping" not in r)
)
def test_argument_error_examples_reuse_a_mapping(name: str) -> None:
    # "decimal-too-precise" uses the mapping of "decimal": same name up to the first dash.
    base = EXAMPLES[name.split("-", maxsplit=1)[0]]["mapping"][1]
    inputs, _ = _tool(base)
    with pytest.raises(InvalidArguments) as refusal:
        inputs(orjson.loads(EXAMPLES[name]["args"][1]))
    _assert_error(EXAMPLES[name]["error"], refusal.value.message, refusal.value.details)


@pytest.mark.parametrize("name", sorted(n for n, r in EXAMPLES.items() if "config-error" in r))
def test_config_error_example(name: str) -> None:
    roles = EXAMPLES[name]
    with pytest.raises(ValidationError) as refusal:
        _tool(roles["config-error"][1])
    assert roles["error"][1].strip() in str(refusal.value)
