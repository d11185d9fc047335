"""Database rows mapped from their tuples give what mapping them as dicts gives.

The row path is compiled per column list; the reference is the general path over one dict
per row (column name -> value, the last of a repeated name). For any columns and any values
both give the same records, or the same error.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import MappingFailed
from gateway.mapping.records import OutputMapper
from gateway.mapping.rows import FetchedRows
from gateway.mapping.spec import OutputSpec
from tests.unit.test_fastrecord import FIELDS, legacy_values

# Every field but a dotted path and a default: each reads one column, or none (a const).
ROW_FIELDS = {name: spec for name, spec in FIELDS.items() if name not in ("nested", "currency")}
COLUMNS = ["ACCT_NO", "NAME", "ADDR2", "BAL_CENTS", "OPEN_DT", "HEIGHT_IN", "STAT_CD"]
COLUMNS += ["VIP_FLG", "HIT-CNT", "OTHER"]


def _mapper(fields: dict[str, Any]) -> OutputMapper:
    return OutputMapper(OutputSpec.model_validate({"list": True, "fields": fields}))


ROWS = _mapper(ROW_FIELDS)
MIXED = _mapper(FIELDS)


def _outcome(run: Any, argument: Any) -> Any:
    try:
        return ("ok", run(argument))
    except MappingFailed as exc:
        return ("error", exc.details)


def _reference(mapper: OutputMapper, fetched: FetchedRows) -> Any:
    dicts = [dict(zip(fetched.columns, row, strict=True)) for row in fetched.rows]
    return {"items": [mapper.record.general(d, f"items[{i}].") for i, d in enumerate(dicts)]}


@st.composite
def fetched_rows(draw: st.DrawFn) -> FetchedRows:
    columns = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=12))
    width = len(columns)
    rows = draw(st.lists(st.tuples(*[legacy_values] * width), max_size=5))
    return FetchedRows(columns, list(rows))


def test_plain_columns_are_mapped_from_the_tuples() -> None:
    row = ("  7 ", "Ada", "   ", 12345, "19870315", "66.5", "A", "Y", "3", "x")
    fetched = FetchedRows(COLUMNS, [row])
    assert ROWS(fetched) == {
        "items": [
            {
                "number": "7",
                "name": "Ada",
                "address_line2": None,
                "balance_eur": 123.45,
                "opened_on": "1987-03-15",
                "height_cm": 168.9,
                "status": "active",
                "vip": True,
                "hits": 3,
                "fixed": "x",
            }
        ]
    }
    assert ROWS.record.row_mappers[fetched.columns] is not None
    assert fetched._dicts is None  # no dict was built for the rows


def test_fields_reading_more_than_a_column_map_the_rows_as_dicts() -> None:
    fetched = FetchedRows(["CCY", "NAME"], [(None, "Bo")])
    result = MIXED(fetched)
    assert result["items"][0]["currency"] == "EUR"
    assert result["items"][0]["name"] == "Bo"
    assert MIXED.record.row_mappers[fetched.columns] is None


def test_fetched_rows_read_as_dicts_the_last_repeated_name_kept() -> None:
    fetched = FetchedRows(["A", "B", "A"], [(1, 2, 3), (4, 5, 6)])
    assert len(fetched) == 2
    assert fetched[0] == {"A": 3, "B": 2}
    assert [row["B"] for row in fetched] == [2, 5]
    assert fetched == [{"A": 3, "B": 2}, {"A": 6, "B": 5}]


@settings(max_examples=400)
@given(fetched_rows())
def test_the_row_path_and_the_reference_agree_on_any_rows(fetched: FetchedRows) -> None:
    expected = _outcome(lambda f: _reference(ROWS, f), fetched)
    assert _outcome(ROWS, fetched) == expected


@settings(max_examples=150)
@given(fetched_rows())
def test_mappings_that_need_dicts_agree_too(fetched: FetchedRows) -> None:
    expected = _outcome(lambda f: _reference(MIXED, f), fetched)
    assert _outcome(MIXED, fetched) == expected
