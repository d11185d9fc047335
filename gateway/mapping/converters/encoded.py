"""Values that carry a whole record (a copybook or fixed widths), and how that record travels."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from gateway.mapping.converters.common import Converter, Unmappable
from gateway.mapping.spec import RecordSpec


def record_codec(spec: RecordSpec) -> tuple[Converter, Converter]:
    """(legacy value -> dict of the record's fields, dict -> legacy value) for a record."""
    from gateway.mapping.copybook import DescriptorWords, RecordError, framed, unframed

    layout = spec.compiled
    transport, encoding, framing = spec.transport, layout.encoding, spec.framing
    words = DescriptorWords(
        rdw_counts_header=spec.rdw_counts_header,
        rdw_little_endian=spec.rdw_byte_order == "little",
        bdw_counts_header=spec.bdw_counts_header,
        bdw_little_endian=spec.bdw_byte_order == "little",
    )

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

    def decode_one(data: bytes, index: int | None) -> Any:
        try:
            return layout.decode(data)
        except RecordError as exc:
            where = f" at {exc.field}" if exc.field else ""
            number = "" if index is None else f" {index}"
            raise Unmappable(f"record{number}{where}: {exc}") from None

    def decode(raw: Any) -> Any:
        data = unwrap(raw)
        if framing == "none":
            return decode_one(data, None)
        try:
            records = list(unframed(data, framing, words))
        except RecordError as exc:
            raise Unmappable(f"{framing} framing: {exc}") from None
        return [decode_one(record, index) for index, record in enumerate(records)]

    def encode_one(values: Any, index: int | None) -> bytes:
        try:
            data: bytes = layout.encode(values)
        except RecordError as exc:
            where = f" at {exc.field}" if exc.field else ""
            number = "" if index is None else f" {index}"
            raise Unmappable(f"record{number}{where}: {exc}") from None
        return data

    def encode(values: Any) -> Any:
        if framing == "none":
            data = encode_one(values, None)
        else:
            # A framed value holds records: a list of them, or one record on its own.
            many = values if isinstance(values, list) else [values]
            try:
                records = [encode_one(v, i) for i, v in enumerate(many)]
                data = framed(records, framing, words=words)
            except RecordError as exc:
                raise Unmappable(f"{framing} framing: {exc}") from None
        if transport == "base64":
            return base64.b64encode(data).decode("ascii")
        if transport == "hex":
            return data.hex().upper()
        if transport == "text":
            return data.decode(encoding)
        return data

    return decode, encode
