"""Mixed single- and double-byte text in alphanumeric (PIC X) fields, as EBCDIC hosts write
Japanese, Chinese or Korean: double-byte runs between shift-out (0x0E) and shift-in (0x0F),
decoded with the DBCS code page, the rest with the record's single-byte page."""

from __future__ import annotations

from gateway.mapping.copybook.errors import RecordError, hex_of

SHIFT_OUT, SHIFT_IN = 0x0E, 0x0F


def decode_mixed(raw: bytes, sbcs: str, dbcs: str) -> str:
    parts: list[str] = []
    at = 0
    while at < len(raw):
        start = raw.find(SHIFT_OUT, at)
        if start < 0:
            parts.append(raw[at:].decode(sbcs))
            break
        end = raw.find(SHIFT_IN, start + 1)
        if end < 0 or (end - start - 1) % 2:
            raise RecordError(
                f"shift-out at position {start + 1} has no shift-in after an even number of bytes",
                "",
                hex_of(raw),
            )
        parts.append(raw[at:start].decode(sbcs))
        try:
            parts.append(raw[start + 1 : end].decode(dbcs))
        except UnicodeDecodeError:
            raise RecordError(
                f"bytes at position {start + 2} are no {dbcs} characters", "", hex_of(raw)
            ) from None
        at = end + 1
    return "".join(parts)


def encode_mixed(text: str, sbcs: str, dbcs: str) -> bytes:
    """Single-byte characters as they are, runs of the others between shift-out and -in."""
    out = bytearray()
    wide: list[str] = []
    for char in text:
        try:
            narrow = char.encode(sbcs)
        except UnicodeEncodeError:
            wide.append(char)
            continue
        if wide:
            out += bytes([SHIFT_OUT]) + "".join(wide).encode(dbcs) + bytes([SHIFT_IN])
            wide = []
        out += narrow
    if wide:
        out += bytes([SHIFT_OUT]) + "".join(wide).encode(dbcs) + bytes([SHIFT_IN])
    return bytes(out)
