"""Property: the published input schema and the gateway agree on every argument value.

For every tool of the demo and of the test configs, arguments are drawn from the tool's own
published JSON Schema (valid values) mixed with hostile ones (integers past 64 bits, control
characters, other scripts' digits, a newline after a pattern's last digit, wrong types), and
judged by a reference validator: JSON Schema 2020-12 with every format checked and patterns
as ECMA-262 (the ``regress`` engine, as JSON Schema defines them).

- A value the schema rejects is refused with 422 before the legacy system is touched: the
  call goes the real way, with every adapter's ``call`` replaced by a recorder.
- A value the schema accepts never causes a 5xx: the call is a dry run, which maps the
  arguments and renders the exact legacy request (SOAP envelope, SQL binds, EBCDIC record,
  XML body) with the legacy libraries, without sending it.

The one documented leniency: a number for a string field is judged by its decimal form
(agents send 10000001 for "10000001"; the gateway takes it where the pattern allows).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import regress
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from ruamel.yaml import YAML

from tests.integration.support import (
    AMQP_TEST_CONFIG,
    DEMO_CONFIG,
    SOAP_TEST_CONFIG,
    gateway_client,
    gateway_of,
)

CONFIGS = {"demo": DEMO_CONFIG, "soap_test": SOAP_TEST_CONFIG, "amqp_test": AMQP_TEST_CONFIG}


def _tool_names(directory: Path) -> list[str]:
    """Tool names read from the YAML alone: the configs' ${VAR}s are set only by fixtures."""
    names: list[str] = []
    for file in sorted(directory.glob("*.yaml")):
        names.extend((YAML(typ="safe").load(file.read_text()) or {}).get("tools", {}))
    return names


TOOLS = [(config, name) for config, path in CONFIGS.items() for name in _tool_names(path)]


def _ecma_pattern(
    validator: Any, pattern: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and regress.Regex(pattern, "u").find(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


#: JSON Schema 2020-12 as agents' validators apply it: formats asserted, ECMA-262 patterns.
Reference = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


class Touches:
    """Counts calls that reached an adapter; none may, in the rejecting half."""

    def __init__(self) -> None:
        self.count = 0

    def recorder(self) -> Callable[..., Any]:
        async def touched(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            raise AssertionError("the legacy system was touched")

        return touched


@pytest.fixture(scope="module")
def gateways(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[TestClient, Touches]]]:
    # The services every config's backends name: estates, the ledger, the order host, cards.
    for service in ("estate_env", "order_service", "card_service"):
        request.getfixturevalue(service)
    with ExitStack() as stack:
        running: dict[str, tuple[TestClient, Touches]] = {}
        for name, path in CONFIGS.items():
            audit_db = tmp_path_factory.mktemp(f"props-{name}") / "audit.sqlite"
            client = stack.enter_context(gateway_client(path, audit_db))
            touches = Touches()
            for adapter in gateway_of(client).registry.adapters.values():
                adapter.call = touches.recorder()  # type: ignore[method-assign]
            running[name] = (client, touches)
        yield running


# ------------------------------------------------------------------ values


HOSTILE_STRINGS = [
    "10000001\n", "DE00000001\n", "\n10000001", "12\x00", "\x00", "a\x1fb",
    "\u0668\u0669.\u0669\u0660", "\uff11\uff12\uff13",  # Arabic-Indic, full-width digits
    "\x7f", "1e5", "1E-2", " 12", "12.", ".5", "-0", "+5", "0x10", "NaN", "Infinity",
    "2024-02-30", "2024-06-11T14:30:05", "2024-06-11T14:30:05+02:00", "2024-06-11 14:30:05Z",
    "20240611", "09:30", "09:30:00", "09:30:00Z", "0930", "24:00:00",
    "\u0662\u0660\u0662\u0664-\u0660\u0666-\u0661\u0661",
    "12345678901234567890", "99999999999999999.99", "0.001", "-1", "", " ", "x" * 300,
]  # fmt: skip
HOSTILE_NUMBERS = [
    2**63, 2**63 - 1, -(2**63), -(2**63) - 1, 2**64, 10**20, 1e20, 1e300, -1e300, 0.5, -0.0,
    1.005, 10000001, 1234, 0, -1, 99, 100, 1001, 9999999999, 10000000000,
]  # fmt: skip

hostile = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from(HOSTILE_NUMBERS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _string(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from([v for v in schema["enum"] if v is not None])
    fmt = schema.get("format")
    if fmt == "date":
        return st.dates().map(dt.date.isoformat)
    if fmt == "date-time":
        return st.datetimes(timezones=st.just(dt.UTC)).map(lambda d: d.isoformat())
    low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
    if "pattern" in schema:
        text = st.from_regex(schema["pattern"], fullmatch=True)
    else:
        text = st.text(max_size=high)
    return text.filter(lambda s: low <= len(s) <= high)


def valid_value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value the schema (most likely) accepts; the reference validator has the last word."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    options: list[st.SearchStrategy[Any]] = []
    for each in kinds:
        if each == "object":
            options.append(valid_object(schema))
        elif each == "array":
            options.append(
                st.lists(
                    valid_value(schema["items"]),
                    min_size=schema.get("minItems", 0),
                    max_size=min(schema.get("maxItems", 3), 3),
                )
            )
        elif each == "string":
            options.append(_string(schema))
        elif each == "integer":
            low, high = schema.get("minimum"), schema.get("maximum")
            options.append(st.integers(min_value=low, max_value=high))
        elif each == "number":
            low, high = schema.get("minimum"), schema.get("maximum")
            options.append(st.floats(min_value=low, max_value=high, allow_nan=False))
            whole_low = None if low is None else math.ceil(low)
            whole_high = None if high is None else math.floor(high)
            options.append(st.integers(min_value=whole_low, max_value=whole_high))
        elif each == "boolean":
            options.append(st.booleans())
    return st.one_of(options) if options else hostile


def valid_object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {name: valid_value(sub) for name, sub in properties.items() if name in required},
        optional={
            name: valid_value(sub) for name, sub in properties.items() if name not in required
        },
    )


@st.composite
def arguments_for(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    """Valid arguments, often with one field made hostile, one dropped, or one unknown."""
    arguments = dict(draw(valid_object(schema)))
    names = list(schema.get("properties", {}))
    how = draw(st.sampled_from(["valid", "hostile", "hostile", "hostile", "drop", "unknown"]))
    if how == "hostile" and names:
        arguments[draw(st.sampled_from(names))] = draw(hostile)
    elif how == "drop" and arguments:
        del arguments[draw(st.sampled_from(sorted(arguments)))]
    elif how == "unknown":
        arguments[draw(st.sampled_from(["extra", "customer_numbr", "x"]))] = draw(hostile)
    return arguments


def judged_as_sent(value: Any, schema: dict[str, Any]) -> Any:
    """The value the way the gateway judges it: a number for a string field as its digits."""
    kind = schema.get("type")
    if kind == "string" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if kind == "object" and isinstance(value, dict):
        properties = schema.get("properties", {})
        return {k: judged_as_sent(v, properties.get(k, {})) for k, v in value.items()}
    if kind == "array" and isinstance(value, list):
        return [judged_as_sent(v, schema.get("items", {})) for v in value]
    return value


def published(client: TestClient, tool: str) -> dict[str, Any]:
    listing = client.get(f"/v1/tools/{tool}")
    assert listing.status_code == 200, listing.text
    schema: dict[str, Any] = listing.json()["input_schema"]
    return schema


# ------------------------------------------------------------------ the property


@pytest.mark.parametrize(("config", "tool"), TOOLS, ids=[f"{c}.{t}" for c, t in TOOLS])
def test_the_schema_and_the_gateway_agree_on_arguments(
    gateways: dict[str, tuple[TestClient, Touches]], config: str, tool: str
) -> None:
    client, touches = gateways[config]
    schema = published(client, tool)
    reference = Reference(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    @settings(
        max_examples=60,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,
    )
    @given(arguments_for(schema))
    def agree(arguments: dict[str, Any]) -> None:
        accepted = reference.is_valid(judged_as_sent(arguments, schema))
        before = touches.count
        body = {"arguments": arguments, "dry_run": accepted}
        response = client.post(f"/v1/tools/{tool}/call", json=body)
        if accepted:
            assert response.status_code < 500, (arguments, response.text)
        else:
            assert response.status_code == 422, (arguments, response.text)
            assert touches.count == before, arguments
            assert response.json()["error"]["code"] == "invalid_arguments"

    agree()


@pytest.mark.parametrize("where", ["arguments", "context"])
@given(big=st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63) - 1)))
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_an_integer_past_64_bits_is_a_422_in_arguments_and_context(
    gateways: dict[str, tuple[TestClient, Touches]], where: str, big: int
) -> None:
    client, touches = gateways["demo"]
    before = touches.count
    arguments: dict[str, Any] = {"page": 1, "page_size": 10}
    context: dict[str, Any] = {"session_id": "s-1"}
    if where == "arguments":
        arguments["page"] = big
    else:
        context["step"] = big
    response = client.post(
        "/v1/tools/list_customers/call", json={"arguments": arguments, "context": context}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_arguments"
    field = error["details"]["errors"][0]["field"]
    assert field == ("page" if where == "arguments" else "context.step")
    assert touches.count == before
    # The refusal is on the record, the integer kept as its digits.
    record = client.get(f"/v1/calls/{error['call_id']}").json()
    assert record["status"] == "rejected"
