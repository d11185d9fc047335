"""COBOL copybooks, compiled into decoders and encoders of fixed-length mainframe records.

A copybook describes a record byte by byte::

    01  ORDER-REC.
        05  ORD-NO        PIC 9(6).                  zoned decimal, 6 bytes
        05  ORD-STATUS    PIC X.                     text, 1 byte
            88  SHIPPED   VALUE 'S'.                 condition name: ignored
        05  ORD-AMOUNT    PIC S9(5)V99 COMP-3.       packed decimal, 4 bytes
        05  ORD-QTY       PIC S9(4) COMP.            big-endian binary, 2 bytes
        05  ORD-LINE      OCCURS 3 TIMES.            a group repeated: a list of dicts
            10  LINE-SKU  PIC X(8).
        05  ORD-ALT       REDEFINES ORD-LINE PIC X(24).
        05  FILLER        PIC X(5).                  space, never mapped

``parse_copybook`` reads fixed-format (sequence numbers in columns 1-6, indicator in column
7) and free-format text, lays the items out, and compiles one small function per field,
so that decoding or encoding a record runs a precomputed list. Decoded text is exactly as
stored (the mapping trims it); numbers are ``int``, or ``Decimal`` with the picture's scale
when it has a ``V``: money never goes through a float. A numeric field that holds only
spaces or only low-values (0x00), as uninitialised mainframe fields do, decodes to None.

Zoned decimals keep their sign in the zone of the last (or first, with SIGN LEADING) digit.
Every EBCDIC code page puts the signed digits at the bytes that decode to ``{A..I`` (plus)
and ``}J..R`` (minus), which is also the ASCII "overpunch" convention, so one table serves
both families once the bytes are decoded with the record's code page.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import ebcdic  # type: ignore[import-untyped]  # noqa: F401  (registers cp1047 and friends)

SUPPORTED_ENCODINGS = ("cp037", "cp500", "cp1047", "cp1140", "ascii", "latin-1", "utf-8")
_EBCDIC = frozenset({"cp037", "cp500", "cp1047", "cp1140"})
_POSITIVE = "{ABCDEFGHI"
_NEGATIVE = "}JKLMNOPQR"
_OVERPUNCH = {c: (i, 1) for i, c in enumerate(_POSITIVE)} | {
    c: (i, -1) for i, c in enumerate(_NEGATIVE)
}
_USAGES = {
    "DISPLAY": "display",
    "COMP": "comp",
    "COMPUTATIONAL": "comp",
    "COMP-4": "comp",
    "COMPUTATIONAL-4": "comp",
    "BINARY": "comp",
    "COMP-5": "comp-5",
    "COMPUTATIONAL-5": "comp-5",
    "COMP-3": "comp-3",
    "COMPUTATIONAL-3": "comp-3",
    "PACKED-DECIMAL": "comp-3",
}
_UNSUPPORTED_USAGES = {"COMP-1", "COMP-2", "COMPUTATIONAL-1", "COMPUTATIONAL-2", "POINTER", "INDEX"}


class CopybookError(ValueError):
    """A copybook that cannot be compiled; ``line`` is its 1-based line, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class RecordError(ValueError):
    """A record that cannot be decoded, or values that cannot be encoded.

    ``field`` is the dotted path of the field (``LINES[2].QTY``); ``raw`` the raw bytes in
    hex (decoding) or the offending value (encoding).
    """

    def __init__(self, message: str, field: str = "", raw: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.raw = raw


def check_encoding(name: str) -> str:
    """The normalised codec name of a supported code page; ValueError otherwise."""
    try:
        normal = codecs.lookup(name).name
    except LookupError:
        normal = ""
    aliases = {"iso8859-1": "latin-1", "latin_1": "latin-1", "us-ascii": "ascii"}
    normal = aliases.get(normal, normal)
    if normal not in SUPPORTED_ENCODINGS:
        supported = ", ".join(SUPPORTED_ENCODINGS)
        raise ValueError(f"unknown or unsupported encoding '{name}' (supported: {supported})")
    return normal


def is_ebcdic(encoding: str) -> bool:
    return check_encoding(encoding) in _EBCDIC


@dataclass(frozen=True)
class FieldInfo:
    """One named item of a record, for documentation and schemas."""

    path: str
    offset: int
    length: int
    picture: str | None
    usage: str
    occurs: int | None
    redefines: str | None
    kind: str  # text, integer, decimal, group
    scale: int
    digits: int


# ---------------------------------------------------------------- parsing


@dataclass
class _Item:
    level: int
    name: str | None  # None for FILLER
    line: int
    picture: str | None = None
    usage: str = "display"
    occurs: int | None = None
    redefines: str | None = None
    sign_leading: bool = False
    sign_separate: bool = False
    children: list[_Item] = field(default_factory=list)
    # computed by the layout
    kind: str = "group"
    digits: int = 0
    scale: int = 0
    signed: bool = False
    size: int = 0  # bytes of one occurrence
    offset: int = 0


def _source_lines(text: str) -> list[tuple[int, str]]:
    """(line number, code) of each line that holds code, comments and sequence areas gone."""
    lines = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.rstrip()
        if not line.strip():
            continue
        head = line[:6]
        if len(line) > 6 and (head.isdigit() or not head.strip()):
            # Fixed format: sequence area 1-6, indicator 7, code 8-72, identification 73-80.
            indicator, code = line[6], line[7:72]
            if indicator in "*/":
                continue
        else:
            code = line
        code = code.split("*>", 1)[0]  # free-format inline comment
        if code.strip().startswith("*"):
            continue
        lines.append((number, code))
    return lines


_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|[^\s]+")


def _statements(text: str) -> list[tuple[int, list[str]]]:
    """Each period-terminated entry: (line of its first token, tokens)."""
    statements: list[tuple[int, list[str]]] = []
    tokens: list[str] = []
    start = 0
    for number, code in _source_lines(text):
        for token in _TOKEN.findall(code):
            if not tokens:
                start = number
            if token.endswith(".") and not token.startswith(("'", '"')):
                if token[:-1]:
                    tokens.append(token[:-1])
                statements.append((start, tokens))
                tokens = []
            else:
                tokens.append(token)
    if tokens:
        statements.append((start, tokens))
    return statements


def _entry(line: int, tokens: list[str]) -> _Item | None:
    """One data description entry, or None for an 88-level condition name."""
    try:
        level = int(tokens[0])
    except ValueError:
        raise CopybookError(f"expected a level number, found '{tokens[0]}'", line) from None
    if level == 88:
        return None
    if level == 66:
        raise CopybookError("RENAMES (level 66) is not supported", line)
    if not (1 <= level <= 49 or level == 77):
        raise CopybookError(f"level {level} is not a data level (01-49, 77, 88)", line)
    rest = tokens[1:]
    name: str | None = None
    if rest and rest[0].upper() not in _CLAUSE_WORDS:
        name = None if rest[0].upper() == "FILLER" else rest[0].upper()
        rest = rest[1:]
    item = _Item(level=level, name=name, line=line)
    _clauses(item, [token.upper() if token[0] not in "'\"" else token for token in rest])
    return item


_CLAUSE_WORDS = frozenset(
    {"PIC", "PICTURE", "USAGE", "OCCURS", "REDEFINES", "VALUE", "VALUES", "SIGN", "SYNC",
     "SYNCHRONIZED", "JUST", "JUSTIFIED", "BLANK", "GLOBAL", "EXTERNAL", "INDEXED",
     "LEADING", "TRAILING"} | set(_USAGES) | _UNSUPPORTED_USAGES
)  # fmt: skip


class _Words:
    """A cursor over the words of one entry."""

    def __init__(self, words: list[str], line: int) -> None:
        self.words, self.at, self.line = words, 0, line

    def more(self) -> bool:
        return self.at < len(self.words)

    def next(self, what: str) -> str:
        if not self.more():
            raise CopybookError(f"{what} is missing", self.line)
        word = self.words[self.at]
        self.at += 1
        return word

    def skip(self, *optional: str) -> None:
        while self.more() and self.words[self.at] in optional:
            self.at += 1


def _clauses(item: _Item, words: list[str]) -> None:
    cursor = _Words(words, item.line)
    while cursor.more():
        word = cursor.next("a clause")
        if word in ("PIC", "PICTURE"):
            cursor.skip("IS")
            item.picture = cursor.next("the picture string after PIC")
        elif word in _USAGES:
            item.usage = _USAGES[word]
        elif word in _UNSUPPORTED_USAGES:
            raise CopybookError(f"USAGE {word} is not supported", item.line)
        elif word == "OCCURS":
            item.occurs = _occurs(cursor)
        elif word == "REDEFINES":
            item.redefines = cursor.next("the name after REDEFINES")
        elif word in ("LEADING", "TRAILING"):
            item.sign_leading = word == "LEADING"
            if cursor.more() and cursor.words[cursor.at] == "SEPARATE":
                item.sign_separate = True
                cursor.skip("SEPARATE", "CHARACTER")
        elif word in _IGNORED:
            cursor.skip(*_IGNORED[word])
            if word in ("VALUE", "VALUES"):
                while cursor.more() and cursor.words[cursor.at] not in _CLAUSE_WORDS:
                    cursor.at += 1  # the literals of a VALUE clause do not affect the layout
            elif word == "INDEXED":
                cursor.next("the index name after INDEXED BY")
        else:
            raise CopybookError(f"unexpected word '{word}'", item.line)


# Clauses that do not change the layout, with the optional words that may follow them.
# SYNC adds no slack bytes here: records are read as laid out, unaligned.
_IGNORED: dict[str, tuple[str, ...]] = {
    "USAGE": ("IS",),
    "SIGN": ("IS",),
    "VALUE": ("IS", "ARE"),
    "VALUES": ("IS", "ARE"),
    "SYNC": ("LEFT", "RIGHT"),
    "SYNCHRONIZED": ("LEFT", "RIGHT"),
    "JUST": ("RIGHT",),
    "JUSTIFIED": ("RIGHT",),
    "BLANK": ("WHEN", "ZERO", "ZEROS", "ZEROES"),
    "GLOBAL": (),
    "EXTERNAL": (),
    "INDEXED": ("BY",),
}


def _occurs(cursor: _Words) -> int:
    count = cursor.next("the number of times after OCCURS")
    if not (count.isascii() and count.isdigit()):
        raise CopybookError("OCCURS needs a number of times", cursor.line)
    rest = cursor.words[cursor.at :]
    if (rest and rest[0] == "TO") or "DEPENDING" in rest:
        raise CopybookError(
            "OCCURS DEPENDING ON is not supported; declare the maximum with OCCURS n",
            cursor.line,
        )
    cursor.skip("TIMES")
    return int(count)


_PICTURE = re.compile(r"([SXA9VPZ$*+\-.,/B0CRD])(?:\((\d+)\))?", re.IGNORECASE)


def _picture(item: _Item) -> None:
    text = (item.picture or "").upper()
    symbols: list[str] = []
    position = 0
    for match in _PICTURE.finditer(text):
        if match.start() != position:
            break
        position = match.end()
        symbols.extend(match.group(1) * int(match.group(2) or 1))
    if position != len(text) or not symbols:
        raise CopybookError(f"cannot read picture '{item.picture}'", item.line)
    if "P" in symbols:
        raise CopybookError("P (scaling position) is not supported", item.line)
    unknown = set(symbols) - set("SXA9V")
    if unknown:
        raise CopybookError(
            f"edited picture '{item.picture}' is not supported (use X, A, 9, S, V)", item.line
        )
    if "X" in symbols or "A" in symbols:
        if set(symbols) - set("XA9"):
            raise CopybookError(f"picture '{item.picture}' mixes text and sign/V", item.line)
        if item.usage != "display":
            raise CopybookError("text pictures are USAGE DISPLAY", item.line)
        item.kind, item.size = "text", len(symbols)
        return
    if symbols.count("S") > 1 or ("S" in symbols and symbols[0] != "S"):
        raise CopybookError(f"S must lead picture '{item.picture}'", item.line)
    if symbols.count("V") > 1:
        raise CopybookError(f"picture '{item.picture}' has more than one V", item.line)
    item.signed = symbols[0] == "S"
    digits = [s for s in symbols if s == "9"]
    item.digits = len(digits)
    item.scale = len(symbols) - symbols.index("V") - 1 if "V" in symbols else 0
    item.kind = "decimal" if item.scale else "integer"
    if item.digits > 18:
        raise CopybookError(f"more than 18 digits in '{item.picture}'", item.line)
    if item.usage == "display":
        item.size = item.digits + (1 if item.sign_separate else 0)
    elif item.usage == "comp-3":
        item.size = item.digits // 2 + 1
    else:
        item.size = 2 if item.digits <= 4 else 4 if item.digits <= 9 else 8


def _tree(statements: list[tuple[int, list[str]]]) -> list[_Item]:
    root = _Item(level=0, name=None, line=0)
    stack = [root]
    for line, tokens in statements:
        item = _entry(line, tokens)
        if item is None:
            continue
        level = 1 if item.level == 77 else item.level
        while stack[-1] is not root and stack[-1].level >= level:
            stack.pop()
        parent = stack[-1]
        if parent.picture is not None:
            raise CopybookError(f"{parent.name} has a PIC, so it cannot hold items", line)
        parent.children.append(item)
        item.level = level
        stack.append(item)
    if not root.children:
        raise CopybookError("the copybook declares no data items")
    records = [item for item in root.children if item.level == 1]
    if len(records) == 1 and not records[0].picture and len(root.children) == 1:
        return records[0].children  # names are relative to the single 01 record
    extra = [item for item in records[1:] if item.redefines is None]
    if records and extra:
        raise CopybookError(
            "more than one 01 record; keep one per copybook (or make the others REDEFINES)",
            extra[0].line,
        )
    return root.children


def _lay_out(items: list[_Item], start: int, path: str) -> int:
    """Give each item its offset and size; return the end offset of the group."""
    position = start
    placed: dict[str, _Item] = {}
    for item in items:
        if item.redefines is not None:
            target = placed.get(item.redefines)
            if target is None:
                raise CopybookError(
                    f"REDEFINES {item.redefines}: no earlier item of that name at this level",
                    item.line,
                )
            item.offset = target.offset
        else:
            item.offset = position
        if item.children:
            if item.picture is not None:
                raise CopybookError(f"{item.name} has both a PIC and items", item.line)
            inner = _lay_out(item.children, item.offset, _join(path, item.name))
            item.size, item.kind = inner - item.offset, "group"
        elif item.picture is not None:
            _picture(item)
        else:
            raise CopybookError(f"{item.name or 'FILLER'} has neither PIC nor items", item.line)
        total = item.size * (item.occurs or 1)
        if item.redefines is not None:
            target = placed[item.redefines]
            if total > target.size * (target.occurs or 1):
                raise CopybookError(
                    f"{item.name} is longer than {item.redefines}, which it redefines", item.line
                )
        else:
            position = item.offset + total
        if item.name is not None:
            if item.name in placed:
                raise CopybookError(f"{item.name} is declared twice in one group", item.line)
            placed[item.name] = item
    return position


def _join(path: str, name: str | None) -> str:
    return f"{path}.{name}" if path and name else (name or path)


# ---------------------------------------------------------------- compiled codecs

Decoder = Callable[[bytes, int], Any]  # (record, offset) -> value
Encoder = Callable[[bytearray, int, Any, str], None]  # (buffer, base, value, path)


def _hex(data: bytes) -> str:
    return data.hex().upper()


class _Codecs:
    """Per-item decoders and encoders for one code page."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.space = " ".encode(encoding)

    def elementary(self, item: _Item, offset: int) -> tuple[Decoder, Encoder, bytes]:
        """(decode, encode, default bytes) of one occurrence of an elementary item.

        The decoder reads at ``offset`` past the base it is given; the encoder writes at the
        position it is given.
        """
        if item.kind == "text":
            return self._text(item, offset)
        if item.usage == "display":
            return self._zoned(item, offset)
        if item.usage == "comp-3":
            return self._packed(item, offset)
        return self._binary(item, offset)

    def _text(self, item: _Item, offset: int) -> tuple[Decoder, Encoder, bytes]:
        size, encoding, space = item.size, self.encoding, self.space

        def decode(data: bytes, base: int) -> Any:
            raw = data[base + offset : base + offset + size]
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                raise RecordError(f"not {encoding} text", "", _hex(raw)) from None

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

    def _number(self, item: _Item) -> Callable[[Any, str], int]:
        """Agent value -> the integer of its digits, with every range check."""
        scale, limit, signed = item.scale, 10**item.digits, item.signed
        picture = item.picture

        def digits(value: Any, path: str) -> int:
            if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
                raise RecordError("expected a number", path, repr(value))
            try:
                number = Decimal(value) if not isinstance(value, Decimal) else value
            except InvalidOperation:
                raise RecordError("not a number", path, repr(value)) from None
            if not number.is_finite():
                raise RecordError("not a finite number", path, repr(value))
            shifted = number.scaleb(scale)
            if shifted != shifted.to_integral_value():
                raise RecordError(
                    f"more than {scale} decimal places for PIC {picture}", path, repr(value)
                )
            whole = int(shifted)
            if whole < 0 and not signed:
                raise RecordError(f"negative value for unsigned PIC {picture}", path, repr(value))
            if abs(whole) >= limit:
                raise RecordError(f"too many digits for PIC {picture}", path, repr(value))
            return whole

        return digits

    def _value(self, item: _Item) -> Callable[[int], Any]:
        scale = item.scale
        if not scale:
            return lambda whole: whole
        return lambda whole: Decimal(whole).scaleb(-scale)

    def _zoned(self, item: _Item, offset: int) -> tuple[Decoder, Encoder, bytes]:
        size, encoding, digits_of = item.size, self.encoding, self._number(item)
        width, signed = item.digits, item.signed
        leading, separate = item.sign_leading, item.sign_separate
        make = self._value(item)
        blank = (self.space * size, b"\x00" * size)

        def decode(data: bytes, base: int) -> Any:
            raw = data[base + offset : base + offset + size]
            if raw in blank:
                return None
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                raise RecordError("not a zoned decimal", "", _hex(raw)) from None
            sign = 1
            if separate:
                mark, text = (text[0], text[1:]) if leading else (text[-1], text[:-1])
                if mark not in "+-":
                    raise RecordError("missing sign character", "", _hex(raw))
                sign = -1 if mark == "-" else 1
            elif signed:
                index = 0 if leading else -1
                punched = _OVERPUNCH.get(text[index])
                if punched is not None:
                    digit, sign = punched
                    text = (
                        str(digit) + text[1:] if leading else text[:-1] + str(digit)
                    )  # fmt: skip
            if not (text.isascii() and text.isdigit()):
                raise RecordError("not a zoned decimal", "", _hex(raw))
            return make(sign * int(text))

        def encode(buffer: bytearray, at: int, value: Any, path: str) -> None:
            whole = digits_of(value, path)
            text = str(abs(whole)).zfill(width)
            if separate:
                mark = "-" if whole < 0 else "+"
                text = mark + text if leading else text + mark
            elif signed:
                table = _NEGATIVE if whole < 0 else _POSITIVE
                if leading:
                    text = table[int(text[0])] + text[1:]
                else:
                    text = text[:-1] + table[int(text[-1])]
            buffer[at : at + size] = text.encode(encoding)

        default = bytearray(size)
        encode(default, 0, 0, "")  # zeros, in this code page and sign convention
        return decode, encode, bytes(default)

    def _packed(self, item: _Item, offset: int) -> tuple[Decoder, Encoder, bytes]:
        size, digits_of, signed = item.size, self._number(item), item.signed
        make = self._value(item)
        nibbles = size * 2 - 1
        blank = (self.space * size, b"\x00" * size)

        def decode(data: bytes, base: int) -> Any:
            raw = data[base + offset : base + offset + size]
            text = raw.hex()
            sign = text[-1]
            digits = text[:-1]
            if not digits.isdigit() or sign not in "abcdef":
                if raw in blank:
                    return None
                raise RecordError("not a packed decimal", "", _hex(raw))
            whole = int(digits)
            return make(-whole if sign in "bd" else whole)

        def encode(buffer: bytearray, at: int, value: Any, path: str) -> None:
            whole = digits_of(value, path)
            sign = "d" if whole < 0 else ("c" if signed else "f")
            buffer[at : at + size] = bytes.fromhex(str(abs(whole)).zfill(nibbles) + sign)

        return decode, encode, bytes.fromhex("0" * nibbles + ("c" if signed else "f"))

    def _binary(self, item: _Item, offset: int) -> tuple[Decoder, Encoder, bytes]:
        size, digits_of, signed = item.size, self._number(item), item.signed
        make = self._value(item)

        def decode(data: bytes, base: int) -> Any:
            at = base + offset
            return make(int.from_bytes(data[at : at + size], "big", signed=signed))

        def encode(buffer: bytearray, at: int, value: Any, path: str) -> None:
            whole = digits_of(value, path)
            buffer[at : at + size] = whole.to_bytes(size, "big", signed=signed)

        return decode, encode, bytes(size)


def _lenient(decode: Decoder) -> Decoder:
    # Storage shared by REDEFINES holds one meaningful view per record; the others may
    # not decode, and are None rather than an error.
    def view(data: bytes, base: int) -> Any:
        try:
            return decode(data, base)
        except RecordError:
            return None

    return view


def _compile(
    items: list[_Item],
    codecs_: _Codecs,
    infos: list[FieldInfo],
    path: str,
    shared: bool,
    start: int = 0,
    offset: int = 0,
) -> tuple[Decoder, Encoder, list[tuple[int, bytes]]]:
    """A group's decoder and encoder, and the default bytes of its elementary items.

    Each decoder is called with the start of the group occurrence around it and adds its own
    offset (``offset`` for this group, relative to ``start`` for its items). An item that
    repeats (OCCURS) is compiled at offset 0 and read by a loop that adds each occurrence's.
    """
    shared_names = {item.redefines for item in items if item.redefines}
    parts: list[tuple[str, Decoder, Encoder, bool]] = []
    defaults: list[tuple[int, bytes]] = []
    for item in items:
        in_view = shared or item.redefines is not None or item.name in shared_names
        name_path = _join(path, item.name)
        count = item.occurs
        relative = item.offset - start
        at = 0 if count else relative
        if item.children:
            decode_one, encode_one, one_defaults = _compile(
                item.children, codecs_, infos, name_path, in_view, item.offset, at
            )
        else:
            decode_one, encode_one, default = codecs_.elementary(item, at)
            if in_view:
                decode_one = _lenient(decode_one)
            one_defaults = [(0, default)]
        # An empty record holds the originals' defaults; a REDEFINES view must not
        # overwrite them with its own.
        for index in range(count or 1 if item.redefines is None else 0):
            base = relative + index * item.size
            defaults.extend((base + offset, data) for offset, data in one_defaults)
        if item.name is None:
            continue  # FILLER: only its default bytes
        infos.append(
            FieldInfo(
                path=name_path,
                offset=item.offset,
                length=item.size,
                picture=item.picture,
                usage="group" if item.children else item.usage,
                occurs=count,
                redefines=item.redefines,
                kind=item.kind,
                scale=item.scale,
                digits=item.digits,
            )
        )
        parts.append(
            (
                item.name,
                decode_one
                if count is None
                else _occurrences(decode_one, relative, item.size, count),
                _repeated_encode(encode_one, relative, item.size, count),
                item.redefines is not None,
            )
        )
    return _group_decoder(parts, offset), _group_encoder(parts), defaults


def _within(exc: RecordError, name: str) -> RecordError:
    """The error of a part, with the field's name put in front of its path."""
    inner = exc.field
    exc.field = name + ("" if not inner else inner if inner.startswith("[") else "." + inner)
    return exc


def _occurrences(decode: Decoder, offset: int, size: int, count: int) -> Decoder:
    def many(data: bytes, base: int) -> Any:
        at = base + offset
        values = []
        for index in range(count):
            try:
                values.append(decode(data, at + index * size))
            except RecordError as exc:
                raise _within(exc, f"[{index}]") from None
        return values

    return many


def _repeated_encode(encode: Encoder, offset: int, size: int, count: int | None) -> Encoder:
    if count is None:
        return lambda buffer, base, value, path: encode(buffer, base + offset, value, path)

    def many(buffer: bytearray, base: int, value: Any, path: str) -> None:
        if not isinstance(value, list | tuple):
            raise RecordError(f"expected a list of up to {count}", path, repr(value))
        if len(value) > count:
            raise RecordError(f"{len(value)} items for OCCURS {count}", path, repr(value))
        for index, item in enumerate(value):
            if item is not None:
                encode(buffer, base + offset + index * size, item, f"{path}[{index}]")

    return many


def _group_decoder(parts: list[tuple[str, Decoder, Encoder, bool]], offset: int) -> Decoder:
    readers = [(name, decode) for name, decode, _, _ in parts]

    def group(data: bytes, base: int) -> Any:
        at = base + offset
        try:
            return {name: decode(data, at) for name, decode in readers}
        except RecordError:
            pass
        # Paths are built only when something fails: a good record costs no strings.
        for name, decode in readers:
            try:
                decode(data, at)
            except RecordError as exc:
                raise _within(exc, name) from None
        raise AssertionError("a field failed once and not twice")  # pragma: no cover

    return group


def _group_encoder(parts: list[tuple[str, Decoder, Encoder, bool]]) -> Encoder:
    # Originals first, then each REDEFINES view that was given, over the shared bytes.
    writers = [(n, e) for n, _, e, alt in parts if not alt] + [
        (n, e) for n, _, e, alt in parts if alt
    ]

    def group(buffer: bytearray, base: int, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise RecordError("expected a group of fields", path, repr(value))
        prefix = f"{path}." if path else ""
        for name, encode in writers:
            item = value.get(name)
            if item is not None:
                encode(buffer, base, item, prefix + name)

    return group


class RecordLayout:
    """A compiled record: ``decode(bytes) -> dict`` and ``encode(dict) -> bytes``."""

    def __init__(self, items: list[_Item], encoding: str) -> None:
        self.encoding = encoding
        codecs_ = _Codecs(encoding)
        self.length = _lay_out(items, 0, "")
        infos: list[FieldInfo] = []
        self._decode, self._encode, defaults = _compile(items, codecs_, infos, "", False)
        self.fields = tuple(sorted(infos, key=lambda info: (info.offset, info.path)))
        blank = bytearray(codecs_.space * self.length)
        for offset, data in defaults:
            blank[offset : offset + len(data)] = data
        self._blank = bytes(blank)
        self.names = frozenset(info.path.split(".")[0] for info in self.fields)

    def decode(self, data: bytes) -> dict[str, Any]:
        if len(data) != self.length:
            raise RecordError(
                f"the record is {len(data)} bytes; the layout needs {self.length}",
                "",
                _hex(data[:64]),
            )
        value: dict[str, Any] = self._decode(data, 0)
        return value

    def encode(self, values: Mapping[str, Any]) -> bytes:
        unknown = [name for name in values if name not in self.names]
        if unknown:
            raise RecordError(f"the record has no field {unknown[0]}", unknown[0])
        buffer = bytearray(self._blank)
        self._encode(buffer, 0, values, "")
        return bytes(buffer)


def parse_copybook(text: str, encoding: str = "cp037") -> RecordLayout:
    """Compile a copybook; raise ``CopybookError`` naming the line of any problem."""
    try:
        normal = check_encoding(encoding)
    except ValueError as exc:
        raise CopybookError(str(exc)) from None
    return RecordLayout(_tree(_statements(text)), normal)


def fixed_width_layout(widths: Mapping[str, int], encoding: str = "latin-1") -> RecordLayout:
    """A record of consecutive text fields of the given widths, in order."""
    items = [
        _Item(level=5, name=name, line=0, picture=f"X({width})") for name, width in widths.items()
    ]
    return RecordLayout(items, check_encoding(encoding))
