"""Values that carry a whole record (a copybook or fixed widths), and how that record travels."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from gateway.mapping.converters.common import Converter, Unmappable
from gateway.mapping.spec import RecordSpec


def record_codec(spec: RecordSpec) -> tuple[Converter, Converter]:
    """(legacy value -> dict of the record's fields, dict -> legacy value) for a record."""
    from gateway.mapping.copybook import RecordError

    layout = spec.compiled
    transport, encoding = spec.transport, layout.encoding

    def unwrap(raw: Any) -> bytes:
        if isinstance(raw, bytes | bytearray | memoryview):
            return bytes(raw)
        if not isinstance(raw, str):
            raise Unmappable(f"expected an encoded record, found {type(raw).__name__}")
        try:
            if transport == "base64":
                return base64.b64decode(raw.strip(), validate=True)
            if transport == "hex":
                return bytes.fromhex(raw.strip())
            return raw.encode(encoding)
        except (binascii.Error, ValueError, UnicodeError) as exc:
            raise Unmappable(f"not a {transport} record: {exc}") from None

    def decode(raw: Any) -> Any:
        try:
            return layout.decode(unwrap(raw))
        except RecordError as exc:
            where = f" at {exc.field}" if exc.field else ""
            raise Unmappable(f"record{where}: {exc}") from None

    def encode(values: Any) -> Any:
        try:
            data: bytes = layout.encode(values)
        except RecordError as exc:
            where = f" at {exc.field}" if exc.field else ""
            raise Unmappable(f"record{where}: {exc}") from None
        if transport == "base64":
            return base64.b64encode(data).decode("ascii")
        if transport == "hex":
            return data.hex().upper()
        if transport == "text":
            return data.decode(encoding)
        return data

    return decode, encode
