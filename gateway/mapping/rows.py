"""Database rows into records: mapped from the tuples, or read as dicts when asked.

A database adapter hands the output mapping its rows as fetched, with their column names
(``FetchedRows``). An output mapping of plain columns maps them straight from the tuples by a
function compiled once per column list (``fastrecord.compile_row_mapper``); anything else
reads them as one dict per row, keyed by column name, built on first use. Building those
dicts with ``dict(zip(columns, row))`` costs about as much again as mapping them; a function
generated once per column list, whose body is one dict display indexing the row, costs a
third of that. The generated code only names variables bound in its namespace: column names
never become source text.

``rows_within`` applies a read's row and byte caps to a fetched batch sixteen rows at a time
instead of row by row, with the same estimate (one row in sixteen is sized and stands for the
fifteen after it) and so the same cut.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any, overload

RowsToRecords = Callable[[Sequence[Sequence[Any]]], list[dict[str, Any]]]
#: Rows sized per sample: one row's printed length stands for this many.
SAMPLE_EVERY = 16


@lru_cache(maxsize=256)
def _builder(columns: tuple[str, ...]) -> RowsToRecords:
    namespace: dict[str, Any] = {f"C{index}": name for index, name in enumerate(columns)}
    display = ", ".join(f"C{index}: row[{index}]" for index in range(len(columns)))
    source = f"def records(rows):\n    return [{{{display}}} for row in rows]\n"
    exec(compile(source, "<database rows>", "exec"), namespace)
    built: RowsToRecords = namespace["records"]
    return built


def records_builder(columns: Sequence[str]) -> RowsToRecords:
    """rows -> one dict per row, column name -> value (a repeated name keeps its last)."""
    return _builder(tuple(columns))


class FetchedRows(Sequence[dict[str, Any]]):
    """Rows as the database returned them, with their column names (folded as configured).

    Read as a sequence, it is one dict per row, column name -> value (a repeated name keeps
    its last), built on first use; an output mapping that can map the tuples never builds them.
    """

    __slots__ = ("_dicts", "columns", "rows")

    def __init__(self, columns: Sequence[str], rows: list[Sequence[Any]]) -> None:
        self.columns = tuple(columns)
        self.rows = rows
        self._dicts: list[dict[str, Any]] | None = None

    def dicts(self) -> list[dict[str, Any]]:
        if self._dicts is None:
            self._dicts = records_builder(self.columns)(self.rows)
        return self._dicts

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self.dicts()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.dicts())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FetchedRows):
            other = other.dicts()
        return isinstance(other, list) and self.dicts() == other

    __hash__ = None  # type: ignore[assignment]  # equal to a list, so unhashable as one

    def __repr__(self) -> str:
        return f"FetchedRows({list(self.columns)!r}, {len(self.rows)} rows)"


def size_of(row: Any) -> int:
    # The row's printed length: within a few bytes of its JSON, computed in C.
    return len(repr(row))


def rows_within(
    batch: Sequence[Any], kept: int, size: int, max_rows: int, max_bytes: int
) -> tuple[int, int]:
    """(how many rows of ``batch`` fit, the estimated size of all rows kept after them).

    ``kept`` rows of ``size`` estimated bytes are already taken. A row fits while fewer than
    ``max_rows`` are kept and the estimate stays within ``max_bytes`` (the first row of a
    read always fits).
    """
    count = len(batch)
    for start in range(0, count, SAMPLE_EVERY):
        unit = size_of(batch[start])
        chunk = min(SAMPLE_EVERY, count - start)
        if kept + start + chunk <= max_rows and size + unit * chunk <= max_bytes:
            size += unit * chunk
            continue
        for offset in range(chunk):
            taken = kept + start + offset
            size += unit
            if taken >= max_rows or (taken and size > max_bytes):
                return start + offset, size
    return count, size
