"""The importers' YAML writer: whatever it writes, YAML reads back as the same values."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gateway.importers.yaml_text import dump

KEYS = st.text(min_size=1, max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["A\n", "yes", "no", "null", "~", "@id", "#text", "a: b", "x #y", "ns0:Name",
                       "^(?:[A-Z]{2})$", "- item", "'q'", '"d"', "1e3", "0x1F", "", " lead"])
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, VALUES, min_size=1, max_size=5))
def test_dump_reads_back_as_the_same_values(value: dict[str, Any]) -> None:
    text = dump(value)
    assert YAML(typ="safe", pure=True).load(text) == value


def test_leaf_fields_are_one_line_and_fields_stay_blocks() -> None:
    text = dump({"input": {"name": {"to": "ns0:Name", "required": False},
                           "id": {"to": "@id", "type": "integer"}}})  # fmt: skip
    assert text == (
        'input:\n  name: {to: ns0:Name, required: false}\n  id: {to: "@id", type: integer}\n'
    )
