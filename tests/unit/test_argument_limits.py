"""Argument values judged as JSON Schema judges them: patterns, digits, ranges, control chars."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from gateway.mapping.coercion import coerced_fields
from gateway.mapping.copybook import parse_copybook
from gateway.mapping.limits import (
    INT64_MAX,
    decimal_pattern,
    integer_range,
    record_integer_ranges,
    recordable,
    wide_integers,
    within_legacy_types,
)
from gateway.mapping.patterns import control_character, ecma_pattern
from gateway.mapping.schema import input_schema
from gateway.mapping.spec import InputField
from gateway.mapping.values import Unmappable, agent_to_legacy


def field(**declared: Any) -> InputField:
    return InputField.model_validate(declared)


def converted(spec: InputField, value: Any) -> Any:
    return agent_to_legacy(spec)(value)


# ---------------------------------------------------------------- patterns (ECMA-262)


def test_a_dollar_is_the_very_end_so_a_trailing_newline_does_not_match() -> None:
    digits = ecma_pattern("^[0-9]{8}$")
    assert digits.matches("10000001")
    assert not digits.matches("10000001\n")
    assert not digits.matches("\n10000001")
    with pytest.raises(Unmappable, match="does not match pattern"):
        converted(field(pattern="^[0-9]{8}$"), "10000001\n")


def test_backslash_d_is_ascii_digits_only() -> None:
    assert ecma_pattern("^\\d+$").matches("123")
    assert not ecma_pattern("^\\d+$").matches("\u0661\u0662\u0663")  # Arabic-Indic 123
    assert not ecma_pattern("^\\w+$").matches("\u00e9")  # ECMA \w is [A-Za-z0-9_]


def test_a_pattern_matches_anywhere_unless_anchored_as_in_json_schema() -> None:
    assert ecma_pattern("[0-9]").matches("abc1")


def test_a_python_only_pattern_is_a_config_error() -> None:
    with pytest.raises(ValueError, match=r"ECMA-262"):
        field(pattern="^(?P<n>[0-9])$")
    with pytest.raises(ValueError, match=r"ECMA-262"):
        field(pattern="^[0-9]+\\Z")


# ---------------------------------------------------------------- control characters


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1f"])
def test_c0_control_characters_are_refused_naming_the_character(char: str) -> None:
    assert control_character(f"a{char}b") == f"U+{ord(char):04X}"
    with pytest.raises(Unmappable, match=f"control character U\\+{ord(char):04X}"):
        converted(field(max_length=30), f"TAILORING{char}")


@pytest.mark.parametrize("text", ["tab\there", "line\nfeed", "carriage\rreturn", "\x7f", "é"])
def test_tab_cr_lf_and_other_text_pass(text: str) -> None:
    assert control_character(text) is None
    assert converted(field(), text) == text


def test_a_free_text_field_publishes_that_it_takes_no_control_characters() -> None:
    schema = input_schema({"note": field(max_length=30)}, [])
    pattern = ecma_pattern(schema["properties"]["note"]["pattern"])
    assert pattern.matches("ok\ttext\r\n")
    assert not pattern.matches("nul\x00")


# ---------------------------------------------------------------- digits and numbers


@pytest.mark.parametrize(
    "text", ["\u0668\u0669.\u0669\u0660", "\uff18\uff19.90", "\u0968\u0966", "8\u0669.90"]
)
def test_digits_of_other_scripts_are_never_amounts(text: str) -> None:
    with pytest.raises(Unmappable):
        converted(field(type="decimal", scale=-2), text)
    with pytest.raises(Unmappable):
        converted(field(type="decimal"), text)


def test_a_decimal_string_has_the_published_shape() -> None:
    spec = field(type="decimal", scale=-2)
    assert decimal_pattern(spec) == "^-?[0-9]{1,13}(\\.[0-9]{1,2})?$"
    assert converted(spec, "89.90") == 8990
    for bad in ("1e5", " 12", "12.", ".5", "+5", "NaN", "89.901", "12345678901234"):
        with pytest.raises(Unmappable):
            converted(spec, bad)


def test_integers_are_bounded_by_64_bits_the_width_and_the_declaration() -> None:
    assert integer_range(field(type="integer")) == (-(2**63), INT64_MAX)
    assert integer_range(field(type="integer", width=4)) == (-999, 9999)
    assert integer_range(field(type="integer", minimum=1, maximum=200)) == (1, 200)
    spec = field(type="integer", minimum=1)
    assert converted(spec, INT64_MAX) == INT64_MAX
    for big in (2**63, 10**20, 1e20):
        with pytest.raises(Unmappable, match="maximum"):
            converted(spec, big)
    schema = input_schema({"page": spec}, [])["properties"]["page"]
    assert (schema["minimum"], schema["maximum"]) == (1, INT64_MAX)


def test_a_decimal_has_at_most_15_significant_digits_published() -> None:
    schema = input_schema({"amount": field(type="decimal", scale=-2)}, [])
    amount = schema["properties"]["amount"]
    assert amount["maximum"] == 9999999999999.99
    assert amount["minimum"] == -9999999999999.99
    with pytest.raises(Unmappable, match="maximum"):
        converted(field(type="decimal", scale=-2), 1e20)


def test_integers_past_64_bits_are_found_anywhere_and_kept_as_digits_for_the_record() -> None:
    value = {"a": [1, 2**64], "b": {"c": -(2**63) - 1}, "d": True, "e": 2**63 - 1}
    assert wide_integers(value, "") == [
        {"field": "a[1]", "message": "integer outside 64 bits"},
        {"field": "b.c", "message": "integer outside 64 bits"},
    ]
    assert recordable(value) == {
        "a": [1, str(2**64)], "b": {"c": str(-(2**63) - 1)}, "d": True, "e": 2**63 - 1,
    }  # fmt: skip


# ---------------------------------------------------------------- numbers for digit strings


def test_a_number_for_a_digit_string_is_taken_by_its_decimal_form() -> None:
    spec = field(pattern="^[0-9]{8}$")
    assert converted(spec, 10000001) == "10000001"
    assert coerced_fields({"customer_number": 10000001}, {"customer_number": spec}) == [
        {"field": "customer_number", "from": "number", "to": "string", "value": "10000001"}
    ]
    assert coerced_fields({"customer_number": "10000001"}, {"customer_number": spec}) == []


@pytest.mark.parametrize(
    ("declared", "sent"),
    [
        ({"pattern": "^[0-9]{8}$"}, 1234567),  # "01234567" lost its leading zero
        ({"pattern": "^[0-9]+(\\.[0-9]{2})$"}, 12.5),  # 12.50 lost its scale
        ({"pattern": "^[0-9]+$"}, 1.0),  # a float is never a digit string
        ({"pattern": "^[0-9]+$"}, True),
        ({}, 42),  # free text: no pattern says digits are meant
    ],
)
def test_a_number_that_would_change_meaning_is_refused_asking_for_a_string(
    declared: dict[str, Any], sent: Any
) -> None:
    with pytest.raises(Unmappable, match="expected a string"):
        converted(field(**declared), sent)


def test_the_refusal_says_to_send_a_string() -> None:
    with pytest.raises(Unmappable, match=re.escape('send the value in quotes, as "..." matching')):
        converted(field(pattern="^[0-9]{8}$"), 1234567)


def test_decimal_range_keeps_declared_bounds() -> None:
    spec = field(type="decimal", scale=-2, minimum=0.01, maximum=1000000)
    assert converted(spec, "0.01") == 1
    with pytest.raises(Unmappable, match="minimum"):
        converted(spec, Decimal("0"))


def test_an_integer_argument_narrows_to_its_legacy_parameters_type() -> None:
    fields = {
        "page": field(type="integer", to="PAGE_NO", minimum=1),
        "size": field(type="integer", to="PAGE_SIZE", minimum=1, maximum=1000),
        "name": field(to="NAME"),
    }
    ranges = {"PAGE_NO": (-(2**31), 2**31 - 1), "PAGE_SIZE": (-(2**31), 2**31 - 1)}
    narrowed = within_legacy_types(fields, ranges)
    assert integer_range(narrowed["page"]) == (1, 2**31 - 1)  # declared minimum kept
    assert integer_range(narrowed["size"]) == (1, 1000)  # the declaration was narrower
    assert narrowed["name"] is fields["name"]
    assert within_legacy_types(fields, {}) is fields


def test_a_copybook_items_picture_bounds_its_integer() -> None:
    layout = parse_copybook(
        """
       01  REQ.
           05  REQ-QTY      PIC 9(3).
           05  REQ-DELTA    PIC S9(4) COMP.
           05  REQ-AMOUNT   PIC 9(5)V99.
           05  REQ-TEXT     PIC X(4).
        """,
        "cp037",
    )
    assert record_integer_ranges(layout) == {"REQ-QTY": (0, 999), "REQ-DELTA": (-9999, 9999)}
    narrowed = within_legacy_types(
        {"quantity": field(type="integer", to="REQ-QTY")}, record_integer_ranges(layout)
    )
    schema = input_schema(narrowed, [])["properties"]["quantity"]
    assert (schema["minimum"], schema["maximum"]) == (0, 999)
