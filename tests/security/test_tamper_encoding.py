"""Property tests for how verification reads a record: one value, one accepted encoding.

For any record, its RFC 8785 bytes (bundles) and the bytes the store writes are accepted; the
same value under any other encoding (a space, keys reordered, a duplicated key whose last
value wins in lenient parsers) is refused, so no two readers can see two records behind one
leaf hash.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.records import RecordError, StoredRecord, canonical, decode_strict, encode

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                  max_size=3),
    max_leaves=10,
)  # fmt: skip
bodies = st.dictionaries(st.text(min_size=1, max_size=5), json_values, min_size=1, max_size=4)


def stored(body: dict[str, Any], index: int = 7) -> bytes:
    return encode(StoredRecord(index, "2026-01-01T00:00:00+00:00", "call.intent", "c", body))


@given(bodies)
def test_the_two_written_forms_are_accepted(body: dict[str, Any]) -> None:
    data = stored(body)
    assert decode_strict(data, "stored").body == orjson.loads(data)["body"]
    assert decode_strict(canonical(data), "canonical").index == 7


@given(bodies, st.sampled_from([b" ", b"\n", b"\t"]))
def test_whitespace_anywhere_between_tokens_is_refused(body: dict[str, Any], space: bytes) -> None:
    data = canonical(stored(body))
    spaced = data.replace(b'"body":', b'"body":' + space, 1)
    with pytest.raises(RecordError, match="not encoded as RFC 8785"):
        decode_strict(spaced, "canonical")
    with pytest.raises(RecordError, match="not encoded as the form the log writes"):
        decode_strict(stored(body).replace(b'"body":', b'"body":' + space, 1), "stored")


@given(bodies, json_values)
def test_a_duplicated_key_is_refused_whatever_its_values(body: dict[str, Any], decoy: Any) -> None:
    key = next(iter(body))
    data = canonical(stored(body))
    prefix = rfc8785.dumps(key) + b":" + rfc8785.dumps(decoy) + b","
    doubled = data.replace(b'"body":{', b'"body":{' + prefix, 1)
    assert orjson.loads(doubled)["body"] == orjson.loads(data)["body"]  # lenient: same value
    for form in ("canonical", "stored"):
        with pytest.raises(RecordError, match="duplicate key"):
            decode_strict(doubled, form)  # type: ignore[arg-type]


@given(bodies)
def test_keys_out_of_order_are_refused(body: dict[str, Any]) -> None:
    value = orjson.loads(stored(body))
    reordered = orjson.dumps(dict(reversed(list(value.items()))))
    with pytest.raises(RecordError, match="not encoded as RFC 8785"):
        decode_strict(reordered, "canonical")


@pytest.mark.parametrize(
    "data",
    [b"NaN", b'{"index": Infinity}', b"\xff", b"[1]", b"[" * 100_000],
    ids=["NaN", "Infinity", "not UTF-8", "not an object", "deeply nested"],
)
def test_what_is_not_plain_json_is_refused(data: bytes) -> None:
    with pytest.raises(RecordError):
        decode_strict(data, "canonical")
