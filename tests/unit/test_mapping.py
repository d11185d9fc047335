"""The first-cut mapping: legacy values to clean JSON and agent arguments to legacy values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gateway.errors import InvalidArguments, MappingFailed
from gateway.mapping.records import InputMapper, OutputMapper
from gateway.mapping.schema import input_schema, output_schema
from gateway.mapping.spec import InputField, OutputField, OutputSpec


def out(**fields: dict[str, Any]) -> OutputMapper:
    return OutputMapper(OutputSpec.model_validate({"fields": fields}))


def inp(**fields: dict[str, Any]) -> InputMapper:
    return InputMapper({k: InputField.model_validate(v) for k, v in fields.items()})


def test_legacy_record_becomes_clean_json() -> None:
    mapper = out(
        name={"from": "CUST_NAME", "trim": True},
        balance_eur={"from": "BAL_CENTS", "type": "decimal", "scale": -2},
        opened_on={"from": "OPEN_DT", "type": "date", "format": "%Y%m%d"},
        last_order_on={"from": "LAST_ORD_DT", "type": "date", "format": "%Y%m%d"},
        status={"from": "STAT_CD", "codes": {"A": "active", "C": "closed"}},
        vip={"from": "VIP_FLG", "type": "boolean", "flags": ["Y", "N"]},
        height_cm={
            "from": "HEIGHT_IN",
            "type": "decimal",
            "unit": {"from": "inch", "to": "cm", "round": 1},
        },
        visits={"from": "VISITS", "type": "integer"},
    )
    record = {
        "CUST_NAME": "MULLER, ANNA                  ",
        "BAL_CENTS": "-123456",
        "OPEN_DT": "19870315",
        "LAST_ORD_DT": "        ",
        "STAT_CD": "A",
        "VIP_FLG": "Y",
        "HEIGHT_IN": "66.5",
        "VISITS": " 0042 ",
    }
    assert mapper(record) == {
        "name": "MULLER, ANNA",
        "balance_eur": -1234.56,
        "opened_on": "1987-03-15",
        "last_order_on": None,
        "status": "active",
        "vip": True,
        "height_cm": 168.9,
        "visits": 42,
    }


def test_cents_to_euros_is_exact_decimal_arithmetic() -> None:
    mapper = out(v={"from": "V", "type": "decimal", "scale": -2})
    # 0.1 + 0.2 style float error would show here; Decimal scaling has none.
    assert mapper({"V": "30"}) == {"v": 0.3}
    assert mapper({"V": "123400"}) == {"v": 1234}
    with pytest.raises(MappingFailed, match="significant digits"):
        mapper({"V": "12345678901234567"})


@pytest.mark.parametrize(
    ("field", "raw", "reason"),
    [
        ({"from": "D", "type": "date", "format": "%Y%m%d"}, "20231399", "not a date"),
        ({"from": "D", "type": "decimal", "scale": -2}, "12X4", "not a number"),
        ({"from": "D", "codes": {"A": "active"}}, "Q", "unknown code"),
        ({"from": "D", "type": "boolean", "flags": ["Y", "N"]}, "X", "flag"),
        ({"from": "D", "type": "integer"}, "4.5", "not an integer"),
    ],
)
def test_unmappable_legacy_value_names_field_and_raw_value(
    field: dict[str, Any], raw: str, reason: str
) -> None:
    with pytest.raises(MappingFailed, match=reason) as caught:
        out(value=field)({"D": raw})
    assert caught.value.details["field"] == "value"
    assert caught.value.details["raw_value"] == raw
    assert caught.value.status == 502


def test_unknown_code_policies() -> None:
    codes = {"A": "active"}
    assert out(s={"from": "S", "codes": codes, "unknown_code": "pass"})({"S": "Q "}) == {"s": "Q"}
    assert out(s={"from": "S", "codes": codes, "unknown_code": "null"})({"S": "Q"}) == {"s": None}


def test_nested_lists_and_error_paths() -> None:
    spec = OutputSpec.model_validate(
        {
            "fields": {
                "count": {"from": "HIT_COUNT", "type": "integer"},
                "customers": {
                    "from": "CUSTOMER",
                    "list": True,
                    "fields": {"balance": {"from": "BAL", "type": "decimal", "scale": -2}},
                },
            }
        }
    )
    mapper = OutputMapper(spec)
    # A single repeated element arrives as a record, not a list of one.
    assert mapper({"HIT_COUNT": "1", "CUSTOMER": {"BAL": "100"}}) == {
        "count": 1,
        "customers": [{"balance": 1}],
    }
    assert mapper({"HIT_COUNT": "0"}) == {"count": 0, "customers": []}
    with pytest.raises(MappingFailed) as caught:
        mapper({"HIT_COUNT": "2", "CUSTOMER": [{"BAL": "1"}, {"BAL": "x"}]})
    assert caught.value.details["field"] == "customers[1].balance"


def test_arguments_are_validated_and_renamed() -> None:
    mapper = inp(
        customer_number={"to": "CUSTNO", "pattern": "^[0-9]{8}$"},
        amount_eur={"to": "AMT_CENTS", "type": "decimal", "scale": -2},
        status={"to": "STAT_CD", "required": False, "codes": {"A": "active", "C": "closed"}},
        since={"to": "FROM_DT", "type": "date", "format": "%Y%m%d", "required": False},
        vip={"to": "VIP_FLG", "type": "boolean", "flags": ["Y", "N"], "required": False},
        city={"to": "ADDR.CITY", "case": "upper", "required": False},
    )
    assert mapper(
        {
            "customer_number": "10000001",
            "amount_eur": "12.34",
            "status": "closed",
            "since": "2024-06-11",
            "vip": False,
            "city": "Berlin",
        }
    ) == {
        "CUSTNO": "10000001",
        "AMT_CENTS": 1234,
        "STAT_CD": "C",
        "FROM_DT": "20240611",
        "VIP_FLG": "N",
        "ADDR": {"CITY": "BERLIN"},
    }
    assert mapper({"customer_number": "10000001", "amount_eur": 0.1}) == {
        "CUSTNO": "10000001",
        "AMT_CENTS": 10,
    }


def test_bad_arguments_name_every_failing_field() -> None:
    mapper = inp(
        customer_number={"to": "CUSTNO", "pattern": "^[0-9]{8}$"},
        amount_eur={"to": "AMT", "type": "decimal", "scale": -2},
        count={"to": "N", "type": "integer", "minimum": 1, "required": False},
    )
    with pytest.raises(InvalidArguments) as caught:
        mapper({"customer_number": "12AB", "amount_eur": 1.234, "count": 0, "customer_numbr": "x"})
    errors = {e["field"]: e["message"] for e in caught.value.details["errors"]}
    assert errors["customer_number"].startswith("does not match pattern")
    assert errors["amount_eur"] == "has more than 2 decimal places"
    assert errors["count"].startswith("less than the minimum")
    assert "did you mean 'customer_number'" in errors["customer_numbr"]
    with pytest.raises(InvalidArguments, match="is required"):
        mapper({"amount_eur": 1})


def test_input_schema_is_json_schema_2020_12_with_examples() -> None:
    fields = {
        "customer_number": InputField.model_validate(
            {"to": "CUSTNO", "pattern": "^[0-9]{8}$", "description": "Customer number"}
        ),
        "status": InputField.model_validate(
            {"to": "STAT_CD", "required": False, "codes": {"A": "active", "C": "closed"}}
        ),
        "amount": InputField.model_validate({"to": "AMT", "type": "decimal", "scale": -2}),
    }
    schema = input_schema(fields, [{"customer_number": "10000001", "amount": 1}])
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["customer_number", "amount"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["customer_number"]["pattern"] == "^[0-9]{8}$"
    assert "Legacy parameter CUSTNO" in schema["properties"]["customer_number"]["description"]
    # Optional: null stands for "not given", as strict function calling sends it.
    assert schema["properties"]["status"]["enum"] == ["active", "closed", None]
    assert schema["properties"]["status"]["type"] == ["string", "null"]
    assert schema["properties"]["amount"]["type"] == ["number", "string"]
    assert schema["examples"] == [{"customer_number": "10000001", "amount": 1}]


def test_output_schema_describes_types_units_and_nullability() -> None:
    spec = OutputSpec.model_validate(
        {
            "from": "CUSTOMER",
            "fields": {
                "opened_on": {"from": "OPEN_DT", "type": "date", "format": "%Y%m%d"},
                "height_cm": {
                    "from": "HEIGHT_IN",
                    "type": "decimal",
                    "unit": {"from": "inch", "to": "cm"},
                },
                "status": {"from": "STAT_CD", "codes": {"A": "active"}},
            },
        }
    )
    props = output_schema(spec, [])["properties"]
    assert props["opened_on"] == {
        "type": ["string", "null"],
        "format": "date",
        "description": "Legacy field OPEN_DT.",
    }
    assert props["height_cm"]["description"] == "In cm (legacy inch). Legacy field HEIGHT_IN."
    assert props["status"]["enum"] == ["active", None]


def test_units_of_different_dimensions_are_rejected() -> None:
    with pytest.raises(ValueError, match="cannot convert inch"):
        OutputField.model_validate({"type": "decimal", "unit": {"from": "inch", "to": "kg"}})
    with pytest.raises(ValueError, match="unknown unit"):
        OutputField.model_validate({"type": "decimal", "unit": {"from": "furlongz", "to": "m"}})


def test_temperature_offset_units() -> None:
    mapper = out(
        t={"from": "T", "type": "number", "unit": {"from": "degF", "to": "degC", "round": 1}}
    )
    assert mapper({"T": "212"}) == {"t": 100.0}
    assert Decimal("100.0") == Decimal(str(mapper({"T": "212"})["t"]))


@pytest.mark.parametrize(
    ("fmt", "raw", "iso"),
    [
        ("%Y%m%d", "19870315", "1987-03-15"),
        ("%d.%m.%Y", "15.03.1987", "1987-03-15"),
        ("%m/%d/%Y", "03/15/1987", "1987-03-15"),
        ("%y%m%d", "870315", "1987-03-15"),  # not fixed-width digits only: strptime's path
        ("%Y%m%d", "00000000", None),  # legacy zeros mean "no date"
    ],
)
def test_legacy_date_formats(fmt: str, raw: str, iso: str | None) -> None:
    assert out(d={"from": "D", "type": "date", "format": fmt})({"D": raw}) == {"d": iso}


@pytest.mark.parametrize(("fmt", "raw"), [("%d.%m.%Y", "15-03-1987"), ("%Y%m%d", "1987031")])
def test_a_date_that_does_not_fit_its_format_is_unmappable(fmt: str, raw: str) -> None:
    with pytest.raises(MappingFailed, match="not a date"):
        out(d={"from": "D", "type": "date", "format": fmt})({"D": raw})
