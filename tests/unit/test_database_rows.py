"""Database rows into records: the same dicts and the same cut at the caps as row by row."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gateway.mapping.rows import records_builder, rows_within, size_of


def _row_by_row(
    batches: list[list[tuple[Any, ...]]], max_rows: int, max_bytes: int
) -> tuple[int, bool]:
    """The caps applied one row at a time: one row in 16 sized, standing for the next 15."""
    kept, size = 0, 0
    for batch in batches:
        unit = 0
        for index, row in enumerate(batch):
            if not index & 15:
                unit = size_of(row)
            size += unit
            if kept >= max_rows or (kept and size > max_bytes):
                return kept, True
            kept += 1
    return kept, False


def _by_batch(
    batches: list[list[tuple[Any, ...]]], max_rows: int, max_bytes: int
) -> tuple[int, bool]:
    kept, size = 0, 0
    for batch in batches:
        fits, size = rows_within(batch, kept, size, max_rows, max_bytes)
        kept += fits
        if fits < len(batch):
            return kept, True
    return kept, False


rows = st.tuples(st.text(max_size=40), st.integers(min_value=0, max_value=10**9))


@given(
    st.lists(st.lists(rows, min_size=1, max_size=70), max_size=5),
    st.integers(min_value=1, max_value=200),
    st.integers(min_value=1, max_value=6000),
)
def test_batches_are_cut_where_rows_one_by_one_would_be(
    batches: list[list[tuple[Any, ...]]], max_rows: int, max_bytes: int
) -> None:
    assert _by_batch(batches, max_rows, max_bytes) == _row_by_row(batches, max_rows, max_bytes)


def test_the_first_row_is_kept_whatever_its_size_and_the_row_cap_is_exact() -> None:
    wide = [("x" * 500,)] * 40
    assert rows_within(wide, 0, 0, 100, 10) == (1, 2 * size_of(wide[0]))
    fits, _ = rows_within([("a",)] * 40, 25, 0, 30, 10**9)
    assert fits == 5


def test_records_are_dicts_by_column_and_a_repeated_column_keeps_its_last_value() -> None:
    build = records_builder(["ACCT_NO", "NAME", "ACCT_NO"])
    assert build([("1", "A", "2"), ("3", "B", "4")]) == [
        {"ACCT_NO": "2", "NAME": "A"},
        {"ACCT_NO": "4", "NAME": "B"},
    ]
    assert records_builder(["ACCT_NO", "NAME", "ACCT_NO"]) is build  # compiled once
    assert records_builder([])([(), ()]) == [{}, {}]


def test_column_names_are_never_source_text() -> None:
    hostile = "x'] or __import__('os').system('false') or ['"
    assert records_builder([hostile])([(1,)]) == [{hostile: 1}]
