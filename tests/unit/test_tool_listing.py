"""Tool listings: tag scopes, filters, and pages that walk every tool exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import InvalidArguments
from gateway.listing import ToolQuery, page_of
from gateway.policy.auth import Principal, check_scopes
from gateway.tools import Tool


@dataclass
class ListedTool:
    """The part of a registry Tool a listing reads."""

    name: str
    tags: tuple[str, ...] = ()
    description: str = ""

    def matches(self, tag: str | None, words: list[str]) -> bool:
        if tag is not None and tag not in self.tags:
            return False
        text = " ".join([self.name, self.description, *self.tags]).lower()
        return all(word in text for word in words)


def tools(*specs: tuple[str, tuple[str, ...]]) -> list[Tool]:
    return cast(list[Tool], [ListedTool(name, tags) for name, tags in specs])


CATALOGUE = tools(
    ("get_invoice", ("billing",)),
    ("list_invoices", ("billing", "reports")),
    ("get_customer", ("crm",)),
    ("cancel_invoice", ("billing",)),
    ("ping", ()),
)


def names(listed: list[Tool]) -> list[str]:
    return [tool.name for tool in listed]


def test_a_tag_scope_grants_every_tool_carrying_the_tag() -> None:
    billing = Principal("key:billing-bot", ("tag:billing",))
    assert billing.may_call("get_invoice", ["billing"])
    assert billing.may_call("anything", ["crm", "billing"])
    assert not billing.may_call("get_customer", ["crm"])
    assert not billing.may_call("get_invoice")  # a tool's tags must be given to match
    assert not billing.may_call("tag:billing", ["crm"])  # the scope is not a tool name


def test_tag_scopes_take_globs_and_mix_with_tool_scopes() -> None:
    mixed = Principal("key:desk", ("tag:bill*", "get_customer", "approve"))
    assert mixed.may_call("cancel_invoice", ["billing_eu"])
    assert mixed.may_call("get_customer", ["crm"])
    assert not mixed.may_call("ping", [])
    assert not mixed.may_call("approve", [])
    with pytest.raises(Exception, match="no scope for tool 'ping'"):
        mixed.require_tool("ping", ["ops"])


@pytest.mark.parametrize("scope", ["tag:billing", "tag:order_service", "tag:v1.2", "tag:bill*"])
def test_tag_scopes_are_accepted(scope: str) -> None:
    assert check_scopes([scope]) == (scope,)


@pytest.mark.parametrize("scope", ["tag:", "tag:a b", "tags:billing", "tag:bill/ing", "x:y"])
def test_malformed_tag_scopes_are_refused_by_name(scope: str) -> None:
    with pytest.raises(InvalidArguments) as caught:
        check_scopes([scope])
    assert f"'{scope}' is not a tool name, glob, tag:NAME or scope" in str(caught.value)


def test_pages_walk_the_filtered_tools_in_name_order() -> None:
    query = ToolQuery(tag="billing")
    first = page_of(CATALOGUE, query, limit=2)
    assert names(first.tools) == ["cancel_invoice", "get_invoice"]
    assert first.next_cursor is not None
    second = page_of(CATALOGUE, query, limit=2, cursor=first.next_cursor)
    assert names(second.tools) == ["list_invoices"] and second.next_cursor is None
    assert names(page_of(CATALOGUE, ToolQuery(q="INVOICE reports")).tools) == ["list_invoices"]
    assert page_of(CATALOGUE, ToolQuery()).next_cursor is None


def test_a_page_boundary_survives_tools_added_and_removed() -> None:
    first = page_of(CATALOGUE, ToolQuery(), limit=2)
    assert names(first.tools) == ["cancel_invoice", "get_customer"]
    reloaded = tools(("aaa_new", ()), ("get_invoice", ()), ("zzz_new", ()), ("ping", ()))
    rest = page_of(reloaded, ToolQuery(), cursor=first.next_cursor)
    assert names(rest.tools) == ["get_invoice", "ping", "zzz_new"]


def test_a_cursor_is_refused_with_another_tag_or_other_words() -> None:
    cursor = page_of(CATALOGUE, ToolQuery(tag="billing"), limit=1).next_cursor
    for other in (ToolQuery(), ToolQuery(tag="crm"), ToolQuery(tag="billing", q="get")):
        with pytest.raises(InvalidArguments, match="another tag or other words"):
            page_of(CATALOGUE, other, limit=1, cursor=cursor)
    # The same words, spelled with other case and spacing, are the same listing.
    cursor = page_of(CATALOGUE, ToolQuery(q="Invoice  "), limit=1).next_cursor
    assert names(page_of(CATALOGUE, ToolQuery(q="invoice"), cursor=cursor).tools) == [
        "get_invoice",
        "list_invoices",
    ]


@settings(max_examples=300, deadline=None)
@given(cursor=st.text(max_size=80) | st.binary(max_size=60).map(lambda b: b.hex()))
def test_any_cursor_text_is_either_a_page_or_invalid_arguments(cursor: str) -> None:
    try:
        page = page_of(CATALOGUE, ToolQuery(), limit=2, cursor=cursor)
    except InvalidArguments as exc:
        assert exc.details["errors"][0]["field"] == "cursor"
    else:
        assert len(page.tools) <= 2


def test_an_overlong_cursor_is_refused() -> None:
    with pytest.raises(InvalidArguments, match="longer than 1024 characters"):
        page_of(CATALOGUE, ToolQuery(), cursor="A" * 2000)


@settings(max_examples=200, deadline=None)
@given(
    catalogue=st.lists(
        st.tuples(
            st.text(alphabet="abcxyz_", min_size=1, max_size=6),
            st.lists(st.sampled_from(["billing", "crm", "ops"]), max_size=2).map(tuple),
        ),
        max_size=30,
        unique_by=lambda spec: spec[0],
    ),
    limit=st.integers(1, 7),
    tag=st.sampled_from([None, "billing", "crm"]),
)
def test_paging_lists_every_chosen_tool_once_in_order(
    catalogue: list[tuple[str, tuple[str, ...]]], limit: int, tag: str | None
) -> None:
    listed = tools(*catalogue)
    query = ToolQuery(tag=tag)
    walked: list[str] = []
    cursor: str | None = None
    for _ in range(len(listed) + 2):
        page = page_of(listed, query, limit, cursor)
        assert len(page.tools) <= limit
        walked += names(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert cursor is None
    expected = sorted(name for name, tags in catalogue if tag is None or tag in tags)
    assert walked == expected


def test_the_mcp_page_size_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.api.mcp_endpoint import PAGE_SIZE_ENV, page_size

    monkeypatch.delenv(PAGE_SIZE_ENV, raising=False)
    assert page_size() == 100
    monkeypatch.setenv(PAGE_SIZE_ENV, "25")
    assert page_size() == 25
    for bad in ("0", "501", "ten", "-3"):
        monkeypatch.setenv(PAGE_SIZE_ENV, bad)
        with pytest.raises(ValueError, match="must be a number from 1 to 500"):
            page_size()
