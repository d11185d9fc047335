"""Answer stage: the adapter's answer mapped out to the tool's result, within its budget.

A whole answer is cut to the tool's ``max_rows``/``max_bytes`` (and says so); a page of a
larger one says whether more follows and how to ask for it. Replies of submitted calls
(``gateway.completions``) are mapped here too.
"""

from __future__ import annotations

from typing import Any

from adapters.base import Page
from gateway.policy.budget import within_budget
from gateway.tools import Tool


def result_of(tool: Tool, answer: Any) -> Any:
    """The mapped answer; a page of a larger one says how to ask for the next."""
    if not isinstance(answer, Page):
        return within_budget(tool.output(answer), tool.config.max_rows, tool.config.max_bytes)
    result = tool.output(answer.records)
    if not isinstance(result, dict):
        result = {"items": result}
    result["truncated"] = answer.next_cursor is not None
    result["next_cursor"] = answer.next_cursor
    if answer.next_cursor is not None:
        result["notice"] = (
            f"{answer.reason}; call again with the same arguments and "
            '"cursor": next_cursor for the next page'
        )
    return result
