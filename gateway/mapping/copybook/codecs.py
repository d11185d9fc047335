"""One decoder and one encoder per elementary item, for one code page.

A decoder reads the item at an absolute position in the record: ``decode(data, at)``; an
encoder writes a value there: ``encode(buffer, at, value, path)``. Both raise
``RecordError``; a decoder leaves the field's path to the group around it.

Invalid data is never a value: a zoned digit whose zone is not F (or a sign zone where a
sign may be), a packed decimal with a non-digit nibble, a minus sign in an unsigned field or
more digits than the picture holds, a binary number beyond its picture or a binary field of
spaces are errors. A numeric field of only spaces or only low-values (0x00), as
uninitialised host fields are, decodes to None.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from gateway.mapping.copybook.codepages import is_ebcdic
from gateway.mapping.copybook.errors import CopybookError, RecordError, hex_of
from gateway.mapping.copybook.floats import (
    float_to_ibm,
    float_to_ieee,
    ibm_to_float,
    ieee_to_float,
)
from gateway.mapping.copybook.items import Item
from gateway.mapping.copybook.mixed import decode_mixed, encode_mixed
from gateway.mapping.copybook.numbers import digits_of, value_maker

Decoder = Callable[[bytes, int], Any]
Encoder = Callable[[bytearray, int, Any, str], None]
Codec = tuple[Decoder, Encoder, bytes]

# ASCII-family zoned signs: the EBCDIC overpunch convention as characters ({A-I plus,
# }J-R minus), and GnuCOBOL's -fsign=ASCII (p-y minus).
_POSITIVE = "{ABCDEFGHI"
_NEGATIVE = "}JKLMNOPQR"
_ASCII_SIGNS: dict[int, tuple[int, int]] = (
    {ord(c): (i, 1) for i, c in enumerate(_POSITIVE)}
    | {ord(c): (i, -1) for i, c in enumerate(_NEGATIVE)}
    | {0x70 + i: (i, -1) for i in range(10)}
    | {0x30 + i: (i, 1) for i in range(10)}
)
# EBCDIC zones of a sign position: A, C, E, F positive; B, D negative.
_EBCDIC_SIGNS: dict[int, tuple[int, int]] = {
    zone << 4 | digit: (digit, -1 if zone in (0xB, 0xD) else 1)
    for zone in range(0xA, 0x10)
    for digit in range(10)
}
# Bytes of plain digits to ASCII digits; anything else to 'x', which int() refuses.
EBCDIC_DIGITS = bytes(0x30 + b - 0xF0 if 0xF0 <= b <= 0xF9 else 0x78 for b in range(256))
ASCII_DIGITS = bytes(b if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_PACKED_SIGNS = {"a": 1, "b": -1, "c": 1, "d": -1, "e": 1, "f": 1}
_UNSIGNED_PACKED_SIGNS = {"f": 1, "c": 1, "a": 1, "e": 1}


class Codecs:
    """Per-item decoders and encoders for one code page."""

    def __init__(self, encoding: str, floats: str = "ibm", dbcs: str | None = None) -> None:
        self.encoding = encoding
        self.ebcdic = is_ebcdic(encoding)
        self.space = " ".encode(encoding)
        self.floats = floats
        self.dbcs = dbcs
        self.digits = EBCDIC_DIGITS if self.ebcdic else ASCII_DIGITS

    def elementary(self, item: Item) -> Codec:
        """(decode, encode, default bytes) of one occurrence of an elementary item."""
        if item.kind == "text":
            return self._text(item)
        if item.kind == "national":
            return self._wide(item, "utf-16-be", " ".encode("utf-16-be"))
        if item.kind == "dbcs":
            if self.dbcs is None:
                raise CopybookError(
                    "DISPLAY-1 (DBCS) fields need the record's double-byte code page "
                    "(dbcs_encoding)",
                    item.line,
                )
            return self._wide(item, self.dbcs, "\u3000".encode(self.dbcs))
        if item.kind == "float":
            return self._float(item)
        if item.edit is not None:
            return self._edited(item)
        if item.usage == "display":
            return self._zoned(item)
        if item.usage == "comp-3":
            return self._packed(item)
        return self._binary(item)

    def _text(self, item: Item) -> Codec:
        if self.dbcs is not None and self.ebcdic:
            return self._mixed(item, self.dbcs)
        size, encoding, space = item.size, self.encoding, self.space

        def decode(data: bytes, at: int) -> Any:
            raw = data[at : at + size]
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as exc:
                bad = raw[exc.start]
                raise RecordError(
                    f"byte {bad:02X} at position {exc.start + 1} has no {encoding} character",
                    "",
                    hex_of(raw),
                ) from None

        def encode(buffer: bytearray, at: int, value: Any, path: str) -> None:
            if not isinstance(value, str):
                raise RecordError("expected text", path, repr(value))
            try:
                raw = value.encode(encoding)
            except UnicodeEncodeError as exc:
                bad = value[exc.start : exc.end]
                raise RecordError(f"'{bad}' has no {encoding} code", path, repr(value)) from None
            if len(raw) > size:
                raise RecordError(
                    f"{len(value)} characters do not fit PIC X({size})", path, repr(value)
                )
            buffer[at : at + size] = raw + space * (size - len(raw))

        return decode, encode, space * size

    def _mixed(self, item: Item, dbcs: str) -> Codec:
        size, encoding, space = item.size, self.encoding, self.space

        def decode(data: bytes, at: int) -> Any:
            return decode_mixed(data[at : at + size], encoding, dbcs)

        def encode(buffer: bytearray, at: int, value: Any, path: str) -> None:
            if not isinstance(value, str):
                raise RecordError("expected text", path, repr(value))
            try:
                raw = encode_mixed(value, encoding, dbcs)
            except UnicodeEncodeError as exc:
                bad = exc.object[exc.start : exc.end]
                raise RecordError(
                    f"'{bad}' has no {encoding} or {dbcs} code", path, repr(value)
                ) from None
            if len(raw) > size:
                raise RecordError(f"{len(raw)} bytes do not fit PIC X({size})", path, repr(value))
            buffer[at : at + size] = raw + space * (size - len(raw))

        return decode, encode, space * size

    def _wide(self, item: Item, encoding: str, space: bytes) -> Codec:
        size = item.size

        def decode(data: bytes, at: int) -> Any:
            raw = data[at : at + size]
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise RecordError(
                    f"bytes {hex_of(raw[exc.start : exc.end])} at position {exc.start + 1} "
                    f"are no {encoding} character",
                    "",
                    hex_of(raw),
                ) from None

        def encode(buffer: bytearray, at: int, value: Any, path: str) -> None:
            if not isinstance(value, str):
                raise RecordError("expected text", path, repr(value))
            try:
                raw = value.encode(encoding)
            except UnicodeError:
                raise RecordError(f"text has no {encoding} code", path, repr(value)) from None
            if len(raw) > size:
                raise RecordError(
                    f"{len(value)} characters do not fit {size // 2} double-byte positions",
                    path,
                    repr(value),
                )
            buffer[at : at + size] = raw + space * ((size - len(raw)) // len(space))

        return decode, encode, space * (size // len(space))

    def _blanks(self, size: int) -> tuple[bytes, bytes]:
        return self.space * size, b"\x00" * size

    def _zoned(self, item: Item) -> Codec:
        size, width, signed = item.size, item.digits, item.signed
        leading, separate, ebcdic = item.sign_leading, item.sign_separate, self.ebcdic
        make, number, table = value_maker(item), digits_of(item), self.digits
        blank = self._blanks(size)
        plus, minus = "+".encode(self.encoding), "-".encode(self.encoding)
        sign_table = self._sign_positions(signed)

        def decode(data: bytes, at: int) -> Any:
            raw = data[at : at + size]
            if raw in blank:
                return None
            sign = 1
            digits = raw
            if separate:
                mark, digits = (raw[:1], raw[1:]) if leading else (raw[-1:], raw[:-1])
                if mark not in (plus, minus):
                    raise RecordError("missing sign character", "", hex_of(raw))
                sign = -1 if mark == minus else 1
                text = digits.translate(table)
            else:
                punched = sign_table.get(raw[0] if leading else raw[-1])
                if punched is None:
                    raise RecordError("not a zoned decimal", "", hex_of(raw))
                digit, sign = punched
                body = (raw[1:] if leading else raw[:-1]).translate(table)
                text = (b"%d" % digit + body) if leading else (body + b"%d" % digit)
            if not text.isdigit():
                raise RecordError("not a zoned decimal", "", hex_of(raw))
            return make(sign * int(text))

        zone = 0xF0 if ebcdic else 0x30

        def encode(buffer: bytearray, at: int, value: Any, path: str) -> None:
            whole = number(value, path)
            text = bytearray(b"%0*d" % (width, abs(whole)))
            if ebcdic:
                for index, char in enumerate(text):
                    text[index] = zone | (char - 0x30)
            if separate:
                mark = minus if whole < 0 else plus
                text = bytearray(mark) + text if leading else text + mark
            elif signed:
                index = 0 if leading else len(text) - 1
                digit = text[index] & 0x0F
                if ebcdic:
                    text[index] = (0xD0 if whole < 0 else 0xC0) | digit
                else:
                    text[index] = ord((_NEGATIVE if whole < 0 else _POSITIVE)[digit])
            buffer[at : at + size] = text

        default = bytearray(size)
        encode(default, 0, 0, "")  # zeros, in this code page and sign convention
        return decode, encode, bytes(default)

    def _sign_positions(self, signed: bool) -> dict[int, tuple[int, int]]:
        """Byte of the sign position -> (digit, sign)."""
        if signed:
            return _EBCDIC_SIGNS if self.ebcdic else _ASCII_SIGNS
        # An unsigned field written with a C (plus) zone is read as plus.
        if self.ebcdic:
            return {z | d: (d, 1) for z in (0xF0, 0xC0) for d in range(10)}
        return {0x30 | d: (d, 1) for d in range(10)} | {
            ord(c): (d, 1) for d, c in enumerate(_POSITIVE)
        }

    def _packed(self, item: Item) -> Codec:
        size, signed, limit = item.size, item.signed, 10**item.digits
        make, number = value_maker(item), digits_of(item)
        nibbles = size * 2 - 1
        blank = self._blanks(size)
        signs = _PACKED_SIGNS if signed else _UNSIGNED_PACKED_SIGNS

        def decode(data: bytes, at: int) -> Any:
            raw = data[at : at + size]
            text = raw.hex()
            sign = signs.get(text[-1])
            digits = text[:-1]
            if sign is None or not digits.isdigit():
                if raw in blank:
                    return None
                if text[-1] in "bd" and digits.isdigit():
                    raise RecordError("a minus sign in an unsigned packed decimal", "", hex_of(raw))
                raise RecordError("not a packed decimal", "", hex_of(raw))
            whole = int(digits)
            if whole >= limit:
                raise RecordError(f"more digits than PIC {item.picture} holds", "", hex_of(raw))
            return make(sign * whole)

        def encode(buffer: bytearray, at: int, value: Any, path: str) -> None:
            whole = number(value, path)
            sign = "d" if whole < 0 else ("c" if signed else "f")
            buffer[at : at + size] = bytes.fromhex(str(abs(whole)).zfill(nibbles) + sign)

        return decode, encode, bytes.fromhex("0" * nibbles + ("c" if signed else "f"))

    def _binary(self, item: Item) -> Codec:
        size, signed = item.size, item.signed
        native = item.usage == "comp-5"  # holds the whole binary range, not the picture's
        make, number = value_maker(item), digits_of(item, unbounded=native)
        limit = 2 ** (size * 8) if native else 10**item.digits
        spaces = self.space * size

        def decode(data: bytes, at: int) -> Any:
            raw = data[at : at + size]
            whole = int.from_bytes(raw, "big", signed=signed)
            if not -limit < whole < limit:
                if raw == spaces:
                    raise RecordError("spaces in a binary field", "", hex_of(raw))
                raise RecordError(f"{whole} is beyond PIC {item.picture}", "", hex_of(raw))
            return make(whole)

        def encode(buffer: bytearray, at: int, value: Any, path: str) -> None:
            whole = number(value, path)
            try:
                buffer[at : at + size] = whole.to_bytes(size, "big", signed=signed)
            except OverflowError:
                raise RecordError(f"too large for {size} bytes", path, repr(value)) from None

        return decode, encode, bytes(size)

    def _float(self, item: Item) -> Codec:
        size = item.size
        ieee = item.usage in ("float-short", "float-long") or self.floats == "ieee"
        to_float = ieee_to_float if ieee else ibm_to_float
        to_bytes = float_to_ieee if ieee else float_to_ibm

        def decode(data: bytes, at: int) -> Any:
            raw = data[at : at + size]
            value = to_float(raw)
            if not math.isfinite(value):
                raise RecordError("not a finite number", "", hex_of(raw))
            return value

        def encode(buffer: bytearray, at: int, value: Any, path: str) -> None:
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
                raise RecordError("expected a number", path, repr(value))
            try:
                buffer[at : at + size] = to_bytes(float(value), size)
            except ValueError as exc:
                raise RecordError(str(exc), path, repr(value)) from None

        return decode, encode, bytes(size)

    def _edited(self, item: Item) -> Codec:
        size, encoding, edit = item.size, self.encoding, item.edit
        make, number = value_maker(item), digits_of(item)

        def decode(data: bytes, at: int) -> Any:
            raw = data[at : at + size]
            try:
                whole = edit.decode(raw.decode(encoding))
            except UnicodeDecodeError:
                whole = None
            if whole is None:
                raise RecordError(f"not a number edited as PIC {edit.picture}", "", hex_of(raw))
            return make(whole)

        def encode(buffer: bytearray, at: int, value: Any, path: str) -> None:
            buffer[at : at + size] = edit.encode(number(value, path)).encode(encoding)

        default = bytearray(size)
        encode(default, 0, 0, "")
        return decode, encode, bytes(default)
