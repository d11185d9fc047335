"""Comparing two configurations key by key."""

from __future__ import annotations

from gateway.config.history import diff


def test_additions_removals_and_changes_are_listed_by_path() -> None:
    before = {"tools": {"a": {"timeout_s": 5, "input": {"x": {"to": "X"}}}, "b": {}}}
    after = {"tools": {"a": {"timeout_s": 10, "input": {"x": {"to": "X"}}}, "c": {"x": 1}}}
    assert [str(change) for change in diff(before, after)] == [
        "~ tools.a.timeout_s: 5 -> 10",
        "- tools.b: {}",
        "+ tools.c: {'x': 1}",
    ]
    assert diff(before, before) == []
