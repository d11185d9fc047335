"""One generated Python function per record layout: the whole record decoded by a single
dict display, each field an inlined expression over slices of the record.

The closures of ``fixed`` cost several Python calls a field (placing, group, codec,
value); a record of a few dozen fields spends most of its time in those calls. The
generated function reads each field with one slice and one C-level conversion:

- text: ``data[a:b].decode(page)``;
- zoned decimal: the digits through a 256-byte table that keeps only digits (anything else
  becomes ``x``, which ``int`` refuses), the sign byte through tables of its digit and sign;
- packed decimal: ``int`` of the hex digits, times a sign table of the last nibble (None for
  a nibble that is no sign, which makes the multiplication fail);
- binary: ``int.from_bytes`` with the picture's range checked;
- everything else (floats, edited pictures, national text, REDEFINES views) calls its codec.

The generated code is an optimisation only: anything unusual (a blank numeric field, a bad
digit, a view that does not decode) raises, and the caller decodes the record again with
the closures, which give the exact value (None for a blank field) or the error naming the
field. Only names bound in the function's namespace appear in its source (never copybook
text).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from gateway.mapping.copybook.codecs import ASCII_DIGITS, EBCDIC_DIGITS, Codecs
from gateway.mapping.copybook.fixed import lenient, shared_names
from gateway.mapping.copybook.items import Item

_MAX_EXACT_SCALEB = 28  # Decimal(int).scaleb() is exact up to the context's 28 digits
_SIGNED_PACKED = [None] * 10 + [1, -1, 1, -1, 1, 1]
_UNSIGNED_PACKED = [None] * 10 + [1, None, 1, None, 1, 1]


def _zoned_tables(codecs: Codecs, signed: bool) -> tuple[list[bytes | None], list[int | None]]:
    """(byte of a sign position -> its digit as ASCII, -> its sign); None where invalid."""
    digit: list[bytes | None] = [None] * 256
    sign: list[int | None] = [None] * 256
    if codecs.ebcdic:
        zones = {0xF: 1}
        if signed:
            zones = {0xA: 1, 0xB: -1, 0xC: 1, 0xD: -1, 0xE: 1, 0xF: 1}
        for zone, value in zones.items():
            for d in range(10):
                digit[zone << 4 | d], sign[zone << 4 | d] = b"%d" % d, value
        return digit, sign
    for d in range(10):
        digit[0x30 + d], sign[0x30 + d] = b"%d" % d, 1
    if signed:
        for d, char in enumerate("{ABCDEFGHI"):
            digit[ord(char)], sign[ord(char)] = b"%d" % d, 1
        for d, char in enumerate("}JKLMNOPQR"):
            digit[ord(char)], sign[ord(char)] = b"%d" % d, -1
    return digit, sign


class _Source:
    """The namespace of the generated function and the names bound in it."""

    def __init__(self, codecs: Codecs) -> None:
        self.codecs = codecs
        self.namespace: dict[str, Any] = {
            "Decimal": Decimal,
            "from_bytes": int.from_bytes,
            "DIGITS": EBCDIC_DIGITS if codecs.ebcdic else ASCII_DIGITS,
            "BAD": _bad,
        }
        self.count = 0

    def bind(self, value: Any) -> str:
        name = f"V{self.count}"
        self.count += 1
        self.namespace[name] = value
        return name

    def scaled(self, whole: str, item: Item) -> str:
        if item.scale == 0:
            return whole
        if item.scale < 0:
            return f"({whole} * {10**-item.scale})"
        if item.digits <= _MAX_EXACT_SCALEB:
            return f"Decimal({whole}).scaleb({-item.scale})"
        return f"Decimal(f'{{{whole}}}E{-item.scale}')"

    def elementary(self, item: Item, at: str, view: bool, remember: bool = True) -> str:
        start = f"{at} + {item.offset}" if at else str(item.offset)
        end = f"{at} + {item.offset + item.size}" if at else str(item.offset + item.size)
        if view or item.kind not in ("text", "integer", "decimal") or item.edit is not None:
            decode = self.codecs.elementary(item)[0]
            if view:
                decode = lenient(decode)
            return f"{self.bind(decode)}(data, {start})"
        if item.kind == "text" and self.codecs.dbcs is None:
            return f"data[{start}:{end}].decode({self.bind(self.codecs.encoding)})"
        if item.kind == "text":  # shift-out and shift-in may switch to double-byte text
            return f"{self.bind(self.codecs.elementary(item)[0])}(data, {start})"
        if remember and item.scale > 0 and item.usage in ("display", "comp-3"):
            return self._remembered(item, start, end)
        if item.usage == "display" and not item.sign_separate and not item.sign_leading:
            return self._zoned(item, start, end)
        if item.usage == "comp-3":
            return self._packed(item, start, end)
        if item.usage in ("comp", "comp-5"):
            return self._binary(item, start, end)
        decode = self.codecs.elementary(item)[0]
        return f"{self.bind(decode)}(data, {start})"

    def _remembered(self, item: Item, start: str, end: str) -> str:
        """A decimal by its bytes: amounts and measures repeat, and building a Decimal
        costs more than finding it again."""
        one = _Source(self.codecs)
        expression = one.elementary(replace(item, offset=0), "", False, remember=False)
        text = f"def value(data):\n    return {expression}\n"
        exec(compile(text, "<copybook field>", "exec"), one.namespace)
        known: dict[bytes, Any] = {}
        table, fill = self.bind(known), self.bind(_remembering(one.namespace["value"], known))
        return f"({table}[r] if (r := data[{start}:{end}]) in {table} else {fill}(r))"

    def _zoned(self, item: Item, start: str, end: str) -> str:
        if not item.signed and not self.codecs.ebcdic:
            return self.scaled(f"int(data[{start}:{end}].translate(DIGITS))", item)
        digit, sign = _zoned_tables(self.codecs, item.signed)
        last = f"data[{end} - 1]"
        digits, signs = self.bind(digit), self.bind(sign)
        body = f"data[{start}:{end} - 1].translate(DIGITS)"
        whole = f"(int({body} + {digits}[{last}]) * {signs}[{last}])"
        return self.scaled(whole, item)

    def _packed(self, item: Item, start: str, end: str) -> str:
        signs = self.bind(_SIGNED_PACKED if item.signed else _UNSIGNED_PACKED)
        whole = f"(int(data[{start}:{end}].hex()[:-1]) * {signs}[data[{end} - 1] & 15])"
        if item.size * 2 - 1 > item.digits:  # the first nibble is beyond the picture: 0
            whole = f"({whole} if data[{start}] < 16 else BAD())"
        return self.scaled(whole, item)

    def _binary(self, item: Item, start: str, end: str) -> str:
        limit = 2 ** (item.size * 8) if item.usage == "comp-5" else 10**item.digits
        signed = "True" if item.signed else "False"
        read = f"from_bytes(data[{start}:{end}], 'big', signed={signed})"
        whole = f"(w if -{limit} < (w := {read}) < {limit} else BAD())"
        return self.scaled(whole, item)

    def group(self, items: list[Item], at: str, view: bool, depth: int) -> str:
        views = shared_names(items)
        entries = []
        for item in items:
            if item.name is None:
                continue
            in_view = view or item.name in views
            key = self.bind(item.name)
            if item.occurs:
                index = f"o{depth}"
                base = f"{at} + {index}" if at else index
                offsets = self.bind(tuple(item.offset + i * item.size for i in range(item.occurs)))
                one = self._one(item, base, in_view, depth + 1, shifted=True)
                entries.append(f"{key}: [{one} for {index} in {offsets}]")
            else:
                entries.append(f"{key}: {self._one(item, at, in_view, depth + 1, shifted=False)}")
        return "{" + ", ".join(entries) + "}"

    def _one(self, item: Item, at: str, view: bool, depth: int, shifted: bool) -> str:
        # Inside a table, ``at`` already holds the occurrence's start: offsets of the
        # occurrence's items are relative to the item itself.
        if item.children:
            if shifted:
                return self.group(_relative(item.children, item.offset), at, view, depth)
            return self.group(item.children, at, view, depth)
        if shifted:
            return self.elementary(_moved(item, 0), at, view)
        return self.elementary(item, at, view)


def _moved(item: Item, offset: int) -> Item:
    return replace(item, offset=offset)


def _relative(items: list[Item], start: int) -> list[Item]:
    return [
        replace(item, offset=item.offset - start, children=_relative(item.children, start))
        for item in items
    ]


MEMO_LIMIT = 10_000  # distinct spellings remembered per field: memory stays flat


def _remembering(value: Callable[[bytes], Any], known: dict[bytes, Any]) -> Callable[[bytes], Any]:
    def remember(raw: bytes) -> Any:
        result = value(raw)
        if len(known) < MEMO_LIMIT:
            known[raw] = result
        return result

    return remember


def _bad() -> Any:
    raise ValueError("beyond the picture")


def compile_decoder(items: list[Item], codecs: Codecs) -> Callable[[bytes], dict[str, Any]]:
    """The generated decoder of a fixed-length record (offsets from the record's start)."""
    source = _Source(codecs)
    body = source.group(items, "", False, 0)
    text = f"def decode(data):\n    return {body}\n"
    exec(compile(text, "<copybook record>", "exec"), source.namespace)
    decode: Callable[[bytes], dict[str, Any]] = source.namespace["decode"]
    return decode
