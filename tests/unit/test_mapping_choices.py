"""Choices published as oneOf are enforced by the input mapper, at any depth."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import InvalidArguments
from gateway.mapping.records import InputMapper
from gateway.mapping.spec import InputField

PAYMENT = {
    "oneOf": [
        {"required": ["card_token"]},
        {"required": ["iban", "holder"]},
        {"not": {"anyOf": [{"required": ["card_token"]}, {"required": ["iban"]}]}},
    ]
}
DELIVERY = {"oneOf": [{"required": ["pickup"]}, {"required": ["street"]}]}


def _optional(**extra: Any) -> dict[str, Any]:
    return {"required": False, **extra}


def mapper(rules: dict[str, Any] | None) -> InputMapper:
    fields = {
        name: InputField.model_validate(_optional())
        for name in ("card_token", "iban", "holder", "pickup", "street")
    }
    return InputMapper(fields, rules=rules)


def errors(call: Any, arguments: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(InvalidArguments) as raised:
        call(arguments)
    return raised.value.details["errors"]  # type: ignore[no-any-return]


def test_an_optional_choice_takes_one_branch_or_none() -> None:
    choose = mapper(PAYMENT)
    assert choose({}) == {}
    assert choose({"card_token": "t"}) == {"card_token": "t"}
    assert choose({"iban": "DE1", "holder": "A"}) == {"iban": "DE1", "holder": "A"}
    assert errors(choose, {"card_token": "t", "iban": "DE1", "holder": "A"}) == [
        {
            "field": "$",
            "message": "choice card_token | iban + holder: send one branch, not several "
            "(given: card_token, iban, holder)",
        }
    ]


def test_half_a_branch_names_what_it_still_needs() -> None:
    assert errors(mapper(PAYMENT), {"holder": "A"}) == [
        {"field": "$", "message": "choice card_token | iban + holder: branch iban + holder "
         "also needs iban"}
    ]  # fmt: skip


def test_every_choice_under_all_of_is_checked_and_null_is_not_given() -> None:
    both = mapper({"allOf": [PAYMENT, DELIVERY]})
    assert both({"pickup": "P1", "street": None, "card_token": None}) == {"pickup": "P1"}
    assert [
        e["message"] for e in errors(both, {"card_token": "t", "iban": "x", "holder": "h"})
    ] == [
        "choice card_token | iban + holder: send one branch, not several "
        "(given: card_token, iban, holder)",
        "choice pickup | street: send one branch (given: none)",
    ]


def test_a_choice_inside_a_nested_record_names_the_record() -> None:
    order = InputField.model_validate(
        {
            "fields": {"pickup": _optional(), "street": _optional(), "note": _optional()},
            "json_schema": DELIVERY,
        }
    )
    nested = InputMapper({"delivery": order, "lines": InputField.model_validate(
        {"list": True, "fields": {"pickup": _optional(), "street": _optional()},
         "json_schema": DELIVERY})})  # fmt: skip
    assert nested({"delivery": {"street": "Main"}, "lines": [{"pickup": "P"}]}) == {
        "delivery": {"street": "Main"},
        "lines": [{"pickup": "P"}],
    }
    assert errors(
        nested, {"delivery": {"note": "x"}, "lines": [{"pickup": "P", "street": "S"}]}
    ) == [
        {"field": "delivery", "message": "choice pickup | street: send one branch (given: none)"},
        {
            "field": "lines[0]",
            "message": "choice pickup | street: send one branch, not several "
            "(given: pickup, street)",
        },
    ]


@pytest.mark.parametrize(
    "rules",
    [
        {"oneOf": [{"required": ["pickup"], "properties": {"pickup": {"minLength": 3}}},
                   {"required": ["street"]}]},
        {"oneOf": [{"required": ["pickup"]}]},
        {"anyOf": [{"required": ["pickup"]}, {"required": ["street"]}]},
        {"minProperties": 1},
    ],
)  # fmt: skip
def test_rules_that_are_not_a_choice_between_fields_are_left_to_the_schema(
    rules: dict[str, Any],
) -> None:
    assert mapper(rules)({"pickup": "P", "street": "S"}) == {"pickup": "P", "street": "S"}


def test_branches_sharing_a_field_as_openapi_variants_do() -> None:
    fields = {name: InputField.model_validate(_optional()) for name in ("kind", "card", "iban")}
    variants = InputMapper(
        fields, rules={"oneOf": [{"required": ["kind", "card"]}, {"required": ["kind", "iban"]}]}
    )
    assert variants({"kind": "C", "card": "4111"}) == {"kind": "C", "card": "4111"}
    assert [e["message"] for e in errors(variants, {"card": "4111"})] == [
        "choice kind + card | kind + iban: branch kind + card also needs kind"
    ]
    assert [e["message"] for e in errors(variants, {"kind": "C", "card": "1", "iban": "D"})] == [
        "choice kind + card | kind + iban: send one branch, not several (given: kind, card, iban)"
    ]
    assert [e["message"] for e in errors(variants, {"card": "1", "iban": "D"})] == [
        "choice kind + card | kind + iban: send one branch, not several (given: card, iban)"
    ]
