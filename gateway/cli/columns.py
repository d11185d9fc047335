"""``validate --connect``: the columns an output mapping names, checked against the columns
the live statement answers (ODBC), so a typo is found before an agent gets a silent null."""

from __future__ import annotations

import difflib
import re
from typing import Any

# A plain column name; JMESPath expressions (nested paths, functions) are not checked.
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_$#]*")


async def missing_columns(name: str, tool: Any, config: Any) -> list[str]:
    """Problems (``file:line: tools.NAME.output.fields.FIELD.from: ...``) for every output
    field whose column the statement does not answer; none when the adapter cannot say."""
    columns = await tool.adapter.result_columns(tool.prepared)
    output = tool.config.output
    if columns is None or output.source is not None or output.record is not None:
        return []
    entry = config.entries[("tools", name)]
    problems: list[str] = []
    for field, spec in output.fields.items():
        column = spec.source or field
        if spec.const is not None or not _COLUMN.fullmatch(column) or column in columns:
            continue
        loc = ("tools", name, "output", "fields", field, "from")
        line = entry.source.line_of(loc)
        same_but_case = [c for c in columns if c.lower() == column.lower()]
        nearest = same_but_case or difflib.get_close_matches(column, columns, n=1, cutoff=0.6)
        hint = f"; nearest: {nearest[0]}" if nearest else ""
        problems.append(
            f"{entry.source.display}:{line}: tools.{name}.output.fields.{field}.from: "
            f"the statement answers no column {column} (it answers {', '.join(columns)}){hint}"
        )
    return problems
