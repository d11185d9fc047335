"""What one audit record is, and its canonical bytes.

A record is one event: a call's intent, a legacy interaction, an outcome, a configuration
loaded, a feedback... Every record has the same top-level fields, so any record names its
place in the log, its time, its call, trace and span, who asked and under which config::

    {"index": 41, "at": "2026-11-29T12:00:00.123456+00:00", "kind": "call.intent",
     "call_id": "...", "trace_id": "...", "span_id": "...", "principal": "...",
     "config_version": "sha256:...", "body": {...}}

A record is written as it comes (JSON) and hashed in its canonical form (RFC 8785, JSON
Canonicalization Scheme): the Merkle leaf is SHA-256(0x00 || canonical bytes). Canonical
bytes are made when the record joins the tree, off the call's path; the verifier makes them
the same way from the record as stored or exported, so any change to any field changes the
leaf. RFC 8785 admits only integers a double carries exactly; larger ones (a legacy key of
19 digits) are canonicalized as decimal strings, by the verifier too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import rfc8785

from gateway.audit.merkle import leaf_hash

FIELDS = (
    "index",
    "at",
    "kind",
    "call_id",
    "trace_id",
    "span_id",
    "principal",
    "config_version",
    "body",
)
_FIELD_SET = frozenset(FIELDS)
_MAX_EXACT = 2**53 - 1


class RecordError(ValueError):
    """A stored or exported record that is not a well-formed audit record."""


@dataclass(frozen=True)
class RecordContext:
    """Who and what a record belongs to, beyond its call id: shared by a call's records."""

    trace_id: str | None = None
    span_id: str | None = None
    principal: str | None = None
    config_version: str | None = None


@dataclass(frozen=True)
class StoredRecord:
    index: int
    at: str
    kind: str
    call_id: str | None
    body: dict[str, Any]
    context: RecordContext = RecordContext()

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "at": self.at,
            "kind": self.kind,
            "call_id": self.call_id,
            "trace_id": self.context.trace_id,
            "span_id": self.context.span_id,
            "principal": self.context.principal,
            "config_version": self.context.config_version,
            "body": self.body,
        }

    def summary(self) -> dict[str, Any]:
        return {"index": self.index, "at": self.at, "kind": self.kind}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredRecord:
        if data.keys() != _FIELD_SET:  # one comparison for the well-formed (every follower's)
            missing = [name for name in FIELDS if name not in data]
            if missing:
                raise RecordError(f"missing field(s): {', '.join(missing)}")
            raise RecordError(f"unknown field(s): {', '.join(sorted(set(data) - _FIELD_SET))}")
        if not isinstance(data["index"], int) or isinstance(data["index"], bool):
            raise RecordError("index is not an integer")
        if not isinstance(data["body"], dict):
            raise RecordError("body is not an object")
        for name in ("at", "kind"):
            if not isinstance(data[name], str):
                raise RecordError(f"{name} is not a string")
        context = RecordContext(
            data["trace_id"], data["span_id"], data["principal"], data["config_version"]
        )
        return cls(data["index"], data["at"], data["kind"], data["call_id"], data["body"], context)


def encode(record: StoredRecord) -> bytes:
    """The record as stored: fast JSON (the canonical form is made when it is hashed).

    Copied out of orjson's buffer: orjson (3.12 on) hands back bytes in an allocation of up
    to 16x their length (a 5 KB record holds 64 KB), and these bytes outlive the call in
    the buffer of records just written (``written.Written``), which counts them by length:
    16 MB of records held 128 MB of memory before the copy."""
    data = orjson.dumps(record.as_dict(), option=orjson.OPT_NON_STR_KEYS, default=_plain)
    return bytes(memoryview(data))


def decode(data: bytes) -> StoredRecord:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise RecordError("not a JSON object")
    return StoredRecord.from_dict(parsed)


Form = Literal["stored", "canonical"]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise RecordError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise RecordError(f"{name} is not JSON")


def _double_if_inexact(text: str) -> int | float:
    # In RFC 8785 bytes every number is a double: a bare integer past 2**53 came from one.
    number = int(text)
    return number if abs(number) <= _MAX_EXACT else float(text)


def strict_json(data: bytes, *, doubles: bool = False) -> Any:
    """JSON parsed without forgiveness: a duplicate key, NaN or a byte that is not UTF-8 is
    an error, where lenient parsers keep one of two values and readers disagree which.
    ``doubles``: read integers as RFC 8785 does, as doubles."""
    try:
        return json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_int=_double_if_inexact if doubles else None,
        )
    except UnicodeDecodeError as exc:
        raise RecordError(f"not UTF-8: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from None
    except RecursionError:
        raise RecordError("nested too deeply") from None


def decode_strict(data: bytes, form: Form) -> StoredRecord:
    """A record as verification reads it: strict JSON, every field known, and the exact bytes
    of its form: ``stored`` as the store wrote it, ``canonical`` as RFC 8785 (bundles).

    Two encodings of one value hash alike; demanding the one encoding means bytes that
    another reader could see differently (escapes, spacing, duplicate keys) are refused.
    """
    value = strict_json(data, doubles=form == "canonical")
    if not isinstance(value, dict):
        raise RecordError("not a JSON object")
    record = StoredRecord.from_dict(value)
    try:
        if form == "canonical":
            expected = rfc8785.dumps(value)
        else:
            expected = orjson.dumps(orjson.loads(data), option=orjson.OPT_NON_STR_KEYS)
    except (orjson.JSONDecodeError, rfc8785.CanonicalizationError, ValueError) as exc:
        raise RecordError(f"cannot be put in canonical form: {exc}") from None
    if expected != data:
        what = "RFC 8785 canonical JSON" if form == "canonical" else "the form the log writes"
        raise RecordError(f"not encoded as {what} (the bytes differ from it)")
    return record


def canonical(data: bytes) -> bytes:
    """RFC 8785 bytes of a stored record."""
    value = orjson.loads(data)
    if _orjson_is_canonical(value):
        # The same bytes as rfc8785.dumps, about twenty times faster: every record the
        # gateway writes is hashed, and the pure-Python canonicalizer was a tenth of its CPU.
        # orjson.loads refuses lone surrogates, the one kind of text neither writes.
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    try:
        return rfc8785.dumps(value)
    except rfc8785.IntegerDomainError:
        return rfc8785.dumps(_exact(value))


def record_leaf(data: bytes) -> bytes:
    """The Merkle leaf hash of a stored record."""
    return leaf_hash(canonical(data))


def _orjson_is_canonical(value: Any) -> bool:
    """Whether orjson's sorted output of ``value`` is its RFC 8785 form: integers a double
    carries, floats both write alike (not whole, at least 1e-5: orjson writes exponents below
    that, and ``5.0`` where RFC 8785 writes ``5``), any string (both escape quotes, backslashes
    and control characters alike, ``\\n`` short and ``\\u001f`` in lower case, and write every
    other character as it is: checked for every code point in the tests), and ASCII keys
    (sorted alike by code point and UTF-16).

    A loop over a stack, not a recursion: every record joining the tree is walked, and
    this is about twice as fast."""
    stack = [value]
    push = stack.append
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                if type(key) is not str or not key.isascii():
                    return False
                if type(child) is not str:
                    push(child)
        elif kind is list:
            stack.extend(item)
        elif kind is int:
            if not -_MAX_EXACT <= item <= _MAX_EXACT:
                return False
        elif kind is float:
            if not (1e-5 <= abs(item) < 1e15 and not item.is_integer()):
                return False
        elif item is not None and kind is not bool and kind is not str:
            return False
    return True


def _exact(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_exact(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_EXACT:
        return str(value)
    return value


def _plain(value: Any) -> Any:
    # Legacy answers may hold exact decimals and raw bytes; record them faithfully as text.
    from decimal import Decimal

    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex().upper()
    raise TypeError(f"{type(value).__name__} cannot be recorded")
