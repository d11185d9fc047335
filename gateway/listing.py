"""Tool listings for agents facing many tools: filtered by tag and words, a page at a time.

REST (``GET /v1/tools?tag=&q=&limit=&cursor=``) and MCP (``tools/list`` with its cursor)
share this. Tools are listed in name order, and a cursor holds the last name listed, so a
page boundary survives a config reload: tools added or removed meanwhile neither shift
the next page nor repeat one already seen. A cursor also holds the tag and words it was
given for; used with others, it is refused instead of listing a mixture.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from gateway.errors import InvalidArguments
from gateway.tools import Tool

MAX_PAGE = 500
MAX_CURSOR = 1024


@dataclass(frozen=True)
class ToolQuery:
    """Which tools a listing shows: those carrying ``tag`` and containing every word of ``q``."""

    tag: str | None = None
    q: str | None = None

    @property
    def words(self) -> list[str]:
        return (self.q or "").lower().split()

    def normalised(self) -> tuple[str | None, str]:
        return self.tag, " ".join(self.words)


@dataclass(frozen=True)
class Page:
    tools: list[Tool]
    next_cursor: str | None


def page_of(
    tools: Iterable[Tool], query: ToolQuery, limit: int | None = None, cursor: str | None = None
) -> Page:
    """The tools ``query`` selects, in name order, from ``cursor`` on, at most ``limit``."""
    chosen = sorted((t for t in tools if t.matches(query.tag, query.words)), key=_name)
    if cursor is not None:
        after = _read_cursor(cursor, query)
        chosen = [tool for tool in chosen if tool.name > after]
    if limit is None or len(chosen) <= limit:
        return Page(chosen, None)
    page = chosen[:limit]
    return Page(page, _make_cursor(page[-1].name, query))


def _name(tool: Tool) -> str:
    return tool.name


def _make_cursor(after: str, query: ToolQuery) -> str:
    tag, words = query.normalised()
    raw = orjson.dumps({"after": after, "tag": tag, "q": words})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str, query: ToolQuery) -> str:
    def refuse(message: str) -> InvalidArguments:
        return InvalidArguments([{"field": "cursor", "message": message}])

    if len(cursor) > MAX_CURSOR:
        raise refuse(f"longer than {MAX_CURSOR} characters; not a cursor a listing gave")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        state = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise refuse("not a cursor a listing gave; list again without one") from None
    if not (
        isinstance(state, dict)
        and isinstance(state.get("after"), str)
        and isinstance(state.get("tag"), str | None)
        and isinstance(state.get("q"), str)
    ):
        raise refuse("not a cursor a listing gave; list again without one")
    if (state["tag"], state["q"]) != query.normalised():
        raise refuse(
            "this cursor continues a listing with another tag or other words; "
            "give the same tag and q, or list again without a cursor"
        )
    return str(state["after"])
