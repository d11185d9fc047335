"""Output budgets: no tool floods an agent's context, whatever the legacy system answers.

A tool's ``max_rows`` and ``max_bytes`` cap the list of a result (``items``, or its one
top-level list field, such as a page of customers) for every adapter; ODBC reads also page
at the database with a cursor. A cut answer keeps the first items that fit and says so:
``"truncated": true`` and a ``notice`` that tells the agent how to see the rest (narrower
arguments, or the tool's own paging).
"""

from __future__ import annotations

from typing import Any

import orjson


def _size(value: Any) -> int:
    return len(orjson.dumps(value, default=str))


def within_budget(result: Any, max_rows: int | None, max_bytes: int | None) -> Any:
    if (max_rows is None and max_bytes is None) or not isinstance(result, dict):
        return result
    lists = [key for key, value in result.items() if isinstance(value, list)]
    field = "items" if "items" in lists else lists[0] if len(lists) == 1 else None
    if field is None:
        return result
    items = result[field]
    total = len(items)
    kept = items[:max_rows] if max_rows is not None else items
    if max_bytes is not None and _size(kept) > max_bytes:
        low, high = 0, len(kept)  # the most leading items that fit: sizes only grow
        while low < high:
            middle = (low + high + 1) // 2
            if _size(kept[:middle]) <= max_bytes:
                low = middle
            else:
                high = middle - 1
        kept = kept[:low]
    if len(kept) == total:
        return result
    caps = ", ".join(
        f"{name} {value}" for name, value in (("max_rows", max_rows), ("max_bytes", max_bytes))
        if value is not None
    )  # fmt: skip
    return {
        **result,
        field: kept,
        "truncated": True,
        "notice": (
            f"{len(kept)} of {total} items shown ({caps}); ask with narrower arguments, or "
            "for the next page if the tool has paging arguments, to see the rest"
        ),
    }
