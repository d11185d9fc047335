"""A stored record's canonical bytes are RFC 8785's, whichever way they are made."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.records import _orjson_is_canonical, canonical

RECORD: dict[str, Any] = {
    "index": 41,
    "at": "2026-11-29T12:00:00.123456+00:00",
    "kind": "call.outcome",
    "call_id": "c-0123",
    "principal": None,
    "body": {
        "zeta": [1, -2, True, False, None, {"b": "x", "a": 'quote " and back\\slash'}],
        "name": "MÜLLER, ANNA ✓",
        "limit": 2**53 - 1,
        "Upper": "",
    },
}


@pytest.mark.parametrize(
    ("value", "fast"),
    [
        (RECORD, True),
        ({"rate": 1.085, "duration_ms": 3.217, "tiny": 0.00001234, "neg": -12345.5}, True),
        ({"whole": 5.0}, False),  # orjson writes 5.0, RFC 8785 5
        ({"small": 3.4e-6}, False),  # orjson writes an exponent, RFC 8785 does not
        ({"big": 1e16}, False),
        ({"key": 2**53 + 10}, False),  # past a double: a decimal string (RFC 8785's domain)
        ({"text": "tab\there\n, control \x01 and \x7f, line sep \u2028, \ufeff"}, True),
        ({"envelope": '<?xml version="1.0"?>\n<soap:Envelope/>'}, True),
        ({"\ue000": 1, "\U0001f600": 2, "a": 3}, False),  # UTF-16 and code point orders differ
        ({"nested": [{"y": 1, "x": [{"d": 4, "c": 3}]}]}, True),
    ],
)
def test_canonical_bytes_are_rfc8785s(value: dict[str, Any], fast: bool) -> None:
    assert _orjson_is_canonical(value) is fast
    expected = rfc8785.dumps(
        {k: str(v) if isinstance(v, int) and v > 2**53 else v for k, v in value.items()}
    )
    assert canonical(orjson.dumps(value)) == expected


def test_floats_either_way_match_rfc8785() -> None:
    for text in ("0.1", "2.5", "123456.789", "0.000015", "99999999999999.9", "-0.3333333333333333"):
        value = {"x": float(text)}
        assert _orjson_is_canonical(value)
        assert canonical(orjson.dumps(value)) == rfc8785.dumps(value)


def test_nan_and_infinity_are_left_to_rfc8785_to_refuse() -> None:
    for text in ("nan", "inf", "-inf"):
        assert not _orjson_is_canonical({"x": float(text)})


def test_keys_are_sorted_at_every_depth() -> None:
    data = canonical(orjson.dumps({"b": {"z": 1, "a": [{"y": 2, "x": 3}]}, "a": 0}))
    assert data == b'{"a":0,"b":{"a":[{"x":3,"y":2}],"z":1}}'


def test_every_character_is_written_as_rfc8785_writes_it() -> None:
    """Why strings need no check: orjson and RFC 8785 agree on every scalar value."""
    differ = [
        hex(point)
        for point in range(0x110000)
        if not 0xD800 <= point <= 0xDFFF
        and orjson.dumps(f"a{chr(point)}b") != rfc8785.dumps(f"a{chr(point)}b")
    ]
    assert differ == []


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )
)
def test_any_record_of_text_and_integers_is_rfc8785s(body: Any) -> None:
    assert canonical(orjson.dumps({"body": body})) == rfc8785.dumps({"body": body})
