"""Size caps on everything that reaches the call record or an answer from outside.

Anything an agent sends (request bodies, headers, feedback) over its cap is refused with a
clear error. Anything a legacy system sends (answers, fault strings and details, message
bodies and headers) is the legacy system's to choose, so it is kept on the record only up to
its cap: the text is cut, and a sibling field ``<name>_truncated`` says so, with the size and
SHA-256 of the whole, so the original can still be matched against the record.

Every cap can be changed from the environment (bytes):

======================================== ========= ==============================================
variable                                 default   what it caps
======================================== ========= ==============================================
``LEGACY_GATEWAY_MAX_BODY_BYTES``        1 MiB     any request body (REST, MCP): 413
``LEGACY_GATEWAY_MAX_HEADER_BYTES``      16 KiB    headers together (431); path+query (414)
``LEGACY_GATEWAY_MAX_FEEDBACK_BYTES``    64 KiB    one feedback (its JSON): 413
``LEGACY_GATEWAY_MAX_RECORDED_BYTES``    1 MiB     a legacy answer or message body on the record
``LEGACY_GATEWAY_MAX_FAULT_BYTES``       16 KiB    a SOAP faultstring, and a fault's detail
======================================== ========= ==============================================
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

import orjson

KIB = 1024
MIB = 1024 * KIB


def env_seconds(name: str, default: float) -> float:
    """A duration setting: seconds, 0 or more (``default`` when unset)."""
    raw = os.environ.get(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} takes seconds, not {raw!r}") from None
    if not value >= 0:  # NaN too
        raise ValueError(f"{name} takes seconds >= 0, not {raw!r}")
    return value


def _env_bytes(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of bytes, not {raw!r}") from None
    if value < 1024:
        raise ValueError(f"{name} must be at least 1024 bytes, not {value}")
    return value


@dataclass(frozen=True)
class Limits:
    body: int = MIB
    headers: int = 16 * KIB
    feedback: int = 64 * KIB
    recorded: int = MIB
    fault: int = 16 * KIB

    @classmethod
    def from_environment(cls) -> Limits:
        return cls(
            _env_bytes("LEGACY_GATEWAY_MAX_BODY_BYTES", cls.body),
            _env_bytes("LEGACY_GATEWAY_MAX_HEADER_BYTES", cls.headers),
            _env_bytes("LEGACY_GATEWAY_MAX_FEEDBACK_BYTES", cls.feedback),
            _env_bytes("LEGACY_GATEWAY_MAX_RECORDED_BYTES", cls.recorded),
            _env_bytes("LEGACY_GATEWAY_MAX_FAULT_BYTES", cls.fault),
        )


def limits() -> Limits:
    """The caps in force; read each time so a test or an operator can change them."""
    return Limits.from_environment()


def truncation(whole: bytes, kept: int) -> dict[str, Any]:
    """What the record says about a value it holds only the start of."""
    return {"bytes": len(whole), "kept_bytes": kept, "sha256": hashlib.sha256(whole).hexdigest()}


def cap_text(text: str, limit: int) -> tuple[str, dict[str, Any] | None]:
    """``text`` cut to at most ``limit`` UTF-8 bytes (on a character boundary), and the
    truncation marker; the marker is None when nothing was cut."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text, None
    cut = limit
    while True:  # back off to the last whole character: at most three bytes
        try:
            head = data[:cut].decode("utf-8", "surrogatepass")
            break
        except UnicodeDecodeError:
            cut -= 1
    return head, truncation(data, cut)


def json_text(value: Any) -> str:
    """A JSON-able value as compact JSON text; integers past 64 bits and odd types too."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def cap_field(record: dict[str, Any], key: str, limit: int) -> dict[str, Any]:
    """Caps ``record[key]`` (text, or any JSON value by its JSON text) in place; a cut value
    becomes the start of its text, next to ``<key>_truncated``."""
    value = record.get(key)
    if value is None:
        return record
    if isinstance(value, str):
        head, marker = cap_text(value, limit)
    else:
        text = json_text(value)
        if len(text.encode("utf-8", "surrogatepass")) <= limit:
            return record
        head, marker = cap_text(text, limit)
    if marker is not None:
        record[key] = head
        record[f"{key}_truncated"] = marker
    return record
