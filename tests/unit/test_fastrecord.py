"""The generated fast path maps every record exactly as the general path does.

The fast path is an optimisation: for any legacy record (well-formed or not) it must give
the general path's result, or give way to it so that the error is the general path's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import MappingFailed
from gateway.mapping.fastrecord import MEMO_LIMIT, compile_fast_record
from gateway.mapping.records import OutputMapper, RecordMapper, _Mode
from gateway.mapping.spec import OutputField, OutputSpec

FIELDS = {
    "number": {"from": "ACCT_NO", "trim": True},
    "name": {"from": "NAME"},
    "address_line2": {"from": "ADDR2", "trim": True, "blank_is_null": True},
    "balance_eur": {"from": "BAL_CENTS", "scale": -2},
    "opened_on": {"from": "OPEN_DT", "type": "date", "format": "%Y%m%d"},
    "height_cm": {"from": "HEIGHT_IN", "unit": {"from": "inch", "to": "cm", "round": 1}},
    "status": {"from": "STAT_CD", "codes": {"A": "active", "C": "closed"}},
    "vip": {"from": "VIP_FLG", "type": "boolean", "flags": ["Y", "N"]},
    "hits": {"from": "HIT-CNT", "type": "integer", "null_values": ["0"]},
    "nested": {"from": "REC.INNER", "type": "integer"},
    "fixed": {"const": "x"},
    "currency": {"from": "CCY", "default": "EUR"},
}

legacy_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**16), max_value=10**16),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("0"), Decimal("0.0"), Decimal("1E+5"), Decimal("124163"), 0.0, False]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "   ", "0", "A", "C", "Z", "Y", "N", "19870315", "20231399", "66.5"]),
    st.text(max_size=12),
    st.from_regex(r"-?[0-9]{1,12}", fullmatch=True),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
records = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "ACCT_NO": legacy_values,
            "NAME": legacy_values,
            "ADDR2": legacy_values,
            "BAL_CENTS": legacy_values,
            "OPEN_DT": legacy_values,
            "HEIGHT_IN": legacy_values,
            "STAT_CD": legacy_values,
            "VIP_FLG": legacy_values,
            "HIT-CNT": legacy_values,
            "REC": st.one_of(legacy_values, st.fixed_dictionaries({"INNER": legacy_values})),
            "CCY": legacy_values,
        },
    ),
    legacy_values,
)


def _mapper() -> RecordMapper:
    fields = {name: OutputField.model_validate(spec) for name, spec in FIELDS.items()}
    return RecordMapper(fields, _Mode(False, {}), ("output", "fields"))


MAPPER = _mapper()


def _outcome(run: Any, record: Any) -> Any:
    try:
        return ("ok", run(record))
    except MappingFailed as exc:
        return ("error", exc.details)


def test_the_mapping_has_a_fast_path() -> None:
    assert MAPPER.fast is not None


@settings(max_examples=400)
@given(records)
def test_fast_and_general_paths_agree_on_any_record(record: Any) -> None:
    general = _outcome(lambda r: MAPPER.general(r, ""), record)
    chosen = _outcome(lambda r: MAPPER(r, ""), record)
    assert chosen == general


@settings(max_examples=100)
@given(st.lists(records, max_size=6))
def test_lists_agree_and_errors_name_the_item(items: list[Any]) -> None:
    general = _outcome(
        lambda rs: [MAPPER.general(r, f"items[{i}].") for i, r in enumerate(rs)], items
    )
    assert _outcome(lambda rs: MAPPER.each(rs, "items"), items) == general


def test_memoised_values_stay_bounded() -> None:
    spec = OutputSpec.model_validate(
        {"list": True, "fields": {"on": {"from": "D", "type": "date", "format": "%Y%m%d"}}}
    )
    mapper = OutputMapper(spec)
    rows = [{"D": f"{1900 + n // 365:04d}{1 + n % 12:02d}{1 + n % 28:02d}"} for n in range(60_000)]
    mapper(rows)
    assert mapper.record.fast is not None
    memo = next(
        value
        for value in mapper.record.fast.__globals__.values()
        if isinstance(value, dict) and value and "19000101" in value
    )
    assert len(memo) <= MEMO_LIMIT


def test_fields_with_nothing_to_gain_get_no_generated_code() -> None:
    nested = {"n": OutputField.model_validate({"from": "length(A)", "type": "integer"})}
    assert compile_fast_record(nested, {"n": lambda raw, where: None}) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(123456, 1234.56), ("123456", 1234.56), (500000, 5000), (-150, -1.5), ("-150", -1.5)],
)
def test_integer_cents_take_the_exact_shortcut(raw: Any, expected: Any) -> None:
    result = MAPPER({"BAL_CENTS": raw}, "")["balance_eur"]
    assert result == expected
    assert type(result) is type(expected)


def test_remembered_values_never_leak_between_equal_numbers_of_other_types() -> None:
    # 0.0 is an integer 0 for "hits", but 0 is in its null_values: equal as dict keys,
    # different results. Only texts may be remembered.
    mapper = _mapper()
    for raw in (0.0, 0, False, "0", Decimal("0.0"), 0):
        assert _outcome(lambda r: mapper(r, ""), {"HIT-CNT": raw}) == _outcome(
            lambda r: mapper.general(r, ""), {"HIT-CNT": raw}
        )
