"""The config YAML loader: YAML 1.2 scalars as ruamel reads them, and a line for every key."""

from __future__ import annotations

import datetime as dt
import io
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from yaml import MarkedYAMLError

from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from gateway.config.source import parse_yaml, plain_scalar
from gateway.config.yaml_fast import LocatedList, LocatedMap, load_located
from tests.unit.test_config import BACKEND, TOOL, only_issue, write


def ruamel_plain(text: str) -> Any:
    """What the round-trip loader (the reference for YAML 1.2 rules) makes of ``text``."""

    def plain(node: Any) -> Any:
        if isinstance(node, dict):
            return {plain(k): plain(v) for k, v in node.items()}
        if isinstance(node, list):
            return [plain(v) for v in node]
        if isinstance(node, dt.datetime):
            return node.replace(tzinfo=None) if node.tzinfo is None else node
        return plain_scalar(node)

    return plain(YAML(typ="rt").load(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("N", "N"),
        ("true", True),
        ("True", True),
        ("FALSE", False),
        ("017", 17),
        ("0o17", 15),
        ("0x1F", 31),
        ("-0x1f", -31),
        ("0b101", 5),
        ("1_000", 1000),
        ("+12", 12),
        ("1:30", "1:30"),
        ("2.5", 2.5),
        ("1e3", 1000.0),
        ("-.INF", -math.inf),
        ("~", None),
        ("", None),
        ("Null", None),
        ("=", "="),
        ("2024-01-02", dt.date(2024, 1, 2)),
        ("'yes'", "yes"),
        ('"017"', "017"),
    ],
)
def test_scalars_follow_yaml_1_2_as_ruamel_does(text: str, expected: Any) -> None:
    value = load_located(f"a: {text}\n")["a"]
    assert value == expected and type(value) is type(expected)
    if text != "=":  # ruamel keeps a lone "=" as a tagged object no config could use
        assert ruamel_plain(f"a: {text}\n")["a"] == expected


def test_nan_is_a_float() -> None:
    assert math.isnan(load_located("a: .nan\n")["a"])


def test_yes_no_and_on_stay_words_in_a_loaded_config(tmp_path: Path) -> None:
    tool = TOOL.replace("description: Look up one customer.", "description: no")
    backend = BACKEND + "    verify_tls: on\n"
    config = load_config(write(tmp_path, **{"b.yaml": backend, "t.yaml": tool}), INSTALLED)
    assert config.tools["get_customer"].description == "no"
    assert config.canonical["tools"]["get_customer"]["description"] == "no"
    assert config.canonical["backends"]["crm"]["verify_tls"] == "on"
    assert config.backends["crm"].verify_tls is True


def test_every_key_and_item_has_its_line() -> None:
    tree = load_located("top:\n  a: 1\n  list:\n    - x: 1\n    - plain\n  flow: {k: [1, 2]}\n")
    assert isinstance(tree, LocatedMap) and tree.key_lines == {"top": 0}
    top = tree["top"]
    assert top.key_lines == {"a": 1, "list": 2, "flow": 5}
    assert isinstance(top["list"], LocatedList) and top["list"].item_lines == [3, 4]
    assert top["list"][0].key_lines == {"x": 3}
    assert top["flow"]["k"].item_lines == [5, 5]


def test_merge_keys_merge_and_own_keys_win() -> None:
    tree = load_located("base: &b\n  x: 1\n  y: 2\nm:\n  <<: *b\n  y: 3\n")
    assert tree["m"] == {"x": 1, "y": 3}
    assert tree["m"].key_lines["y"] == 5


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, 'found duplicate key "a"'),
        ("a:\n  b: {c: 1, c: 2}\n", 2, 'found duplicate key "c"'),
        ("a: 1\nb: !custom x\n", 2, "could not determine a constructor for the tag '!custom'"),
        ("? [1]\n: 2\n", 1, "found unhashable key"),
        ("a: 1\n---\nb: 2\n", 2, "expected a single document"),
    ],
)
def test_bad_documents_are_refused_with_their_line(text: str, line: int, words: str) -> None:
    with pytest.raises(MarkedYAMLError) as caught:
        load_located(text)
    assert words in str(caught.value)
    mark = caught.value.problem_mark
    assert mark is not None and mark.line + 1 == line


def test_a_duplicate_key_in_a_config_file_names_file_and_line(tmp_path: Path) -> None:
    text = BACKEND + "    timeout_s: 2\n    timeout_s: 3\n"
    issue = only_issue(write(tmp_path, **{"a.yaml": text}))
    assert issue.file.endswith("a.yaml") and issue.line == 7
    assert issue.message.startswith("invalid YAML:")
    assert 'found duplicate key "timeout_s"' in issue.message


def test_parse_yaml_refuses_a_list_at_the_top(tmp_path: Path) -> None:
    file = tmp_path / "l.yaml"
    file.write_text("- a\n- b\n")
    source, issues = parse_yaml(file, "l.yaml")
    assert source is None and [(i.line, i.message) for i in issues] == [
        (1, "a config file must be a mapping")
    ]


_words = st.text(alphabet="abcxyz_-019 .:", min_size=0, max_size=8)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, width=64),
    _words,
    st.sampled_from(["yes", "no", "on", "off", "017", "0o7", "0x1f", "1_0", "~", "TRUE", "1e3"]),
)
_trees = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(alphabet="abkz_", min_size=1, max_size=5), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(tree=st.dictionaries(st.text(alphabet="abkz_", min_size=1, max_size=5), _trees, min_size=1))
def test_any_document_loads_as_the_round_trip_loader_reads_it(tree: dict[str, Any]) -> None:
    out = io.StringIO()
    YAML(typ="rt").dump(tree, out)
    text = out.getvalue()
    for plain_words in ("yes", "017", "0x1f"):  # the same words unquoted, too
        text += f"extra_{plain_words.replace('0', 'z')}: {plain_words}\n"
    assert load_located(text) == ruamel_plain(text)
