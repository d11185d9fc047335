"""What a legacy system sends is its own to size: the record keeps it only up to a cap, cut
on a character boundary and marked with the size and SHA-256 of the whole."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from adapters.amqp import _properties
from gateway.limits import Limits, cap_field, cap_text, json_text, limits
from tests.unit.test_amqp_adapter import registry


@given(st.text(st.characters(exclude_categories=())), st.integers(min_value=1, max_value=64))
def test_a_cut_text_is_a_prefix_within_the_cap_and_names_the_whole(text: str, limit: int) -> None:
    head, marker = cap_text(text, limit)
    whole = text.encode("utf-8", "surrogatepass")
    assert text.startswith(head)
    if len(whole) <= limit:
        assert (head, marker) == (text, None)
        return
    assert marker is not None
    assert marker["bytes"] == len(whole)
    assert marker["kept_bytes"] == len(head.encode("utf-8", "surrogatepass")) <= limit
    assert limit - marker["kept_bytes"] < 4  # at most one character's bytes are given up
    assert marker["sha256"] == hashlib.sha256(whole).hexdigest()


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
@example("000000000\x1f\x1f\x1f\U00010000")  # fits as text, not as escaped JSON text
def test_a_capped_json_value_is_whole_or_its_json_text_cut_and_marked(value: object) -> None:
    record = cap_field({"detail": value}, "detail", 32)
    # Text is capped by its own bytes; any other value by its JSON text.
    text = value if isinstance(value, str) else json_text(value)
    whole = text.encode("utf-8", "surrogatepass")
    if len(whole) <= 32 or value is None:
        assert record == {"detail": value}
    else:
        assert whole.startswith(record["detail"].encode("utf-8", "surrogatepass"))
        assert record["detail_truncated"]["sha256"] == hashlib.sha256(whole).hexdigest()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LEGACY_GATEWAY_MAX_BODY_BYTES", "lots"), ("LEGACY_GATEWAY_MAX_FAULT_BYTES", "12")],
)
def test_a_cap_that_is_not_a_sensible_number_of_bytes_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        limits()


def test_the_caps_default_to_the_documented_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BODY", "HEADER", "FEEDBACK", "RECORDED", "FAULT"):
        monkeypatch.delenv(f"LEGACY_GATEWAY_MAX_{name}_BYTES", raising=False)
    assert limits() == Limits(2**20, 16 * 2**10, 64 * 2**10, 2**20, 16 * 2**10)


def test_a_reply_with_megabytes_of_headers_keeps_their_start_on_the_record() -> None:
    headers = {f"x-h{i}": "v" * 1000 for i in range(1000)}
    properties = SimpleNamespace(
        content_type="application/json",
        correlation_id="c-1",
        message_id=None,
        delivery_mode=2,
        timestamp=None,
        type=None,
        headers=headers,
    )

    shown = _properties(properties)

    assert len(shown["headers"].encode()) <= 16 * 1024
    whole = orjson.dumps(headers).decode()
    assert shown["headers_truncated"]["sha256"] == hashlib.sha256(whole.encode()).hexdigest()
    assert shown["correlation_id"] == "c-1"


def test_a_small_reply_keeps_its_headers_as_they_came() -> None:
    properties = SimpleNamespace(
        content_type=None,
        correlation_id=None,
        message_id=None,
        delivery_mode=None,
        timestamp=None,
        type=None,
        headers={"x-app": "host", "x-n": 3},
    )
    assert _properties(properties) == {"headers": {"x-app": "host", "x-n": 3}}


def test_a_huge_json_message_body_is_cut_on_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEGACY_GATEWAY_MAX_RECORDED_BYTES", "4096")
    tool = registry(tmp_path).tools["lookup"]
    body = orjson.dumps({"NAME": "n" * 100_000, "STATUS": "OK"})

    shown = tool.adapter.body_record(tool.prepared, body)

    assert shown["body_bytes"] == len(body)
    assert len(shown["body"].encode()) <= 4096
    assert shown["body_truncated"]["bytes"] == len(body)


def test_a_huge_binary_message_body_is_cut_on_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEGACY_GATEWAY_MAX_RECORDED_BYTES", "4096")
    adapter = registry(tmp_path).tools["order"].adapter
    body = bytes(range(256)) * 1000

    shown = adapter.body_record(None, body, "application/octet-stream")

    assert shown["body_bytes"] == len(body)
    assert len(shown["body_base64"]) <= 4096 + 4
    kept = shown["body_base64_truncated"]["kept_bytes"]
    assert body[:kept] == base64.b64decode(shown["body_base64"])
    assert shown["body_base64_truncated"]["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_small_binary_message_body_is_kept_whole(tmp_path: Path) -> None:
    adapter = registry(tmp_path).tools["order"].adapter
    shown = adapter.body_record(None, b"\x00\x01rc", "application/octet-stream")
    assert shown == {"body_bytes": 4, "body_base64": "AAFyYw=="}
