"""Pictures to kinds and sizes, and items to offsets.

Sizes follow IBM Enterprise COBOL: zoned decimal one byte a digit (plus one for a separate
sign), packed decimal ``digits // 2 + 1``, binary 2, 4 or 8 bytes for up to 4, 9 or 18
digits, COMP-1 4 and COMP-2 8 bytes, national (UTF-16) and DBCS two bytes a character.
Numbers may hold up to 38 digits (``ARITH(EXTEND)``), binary ones up to 18.

``SYNCHRONIZED`` items start on their natural boundary counted from the start of the
record, with slack bytes before them, as IBM Enterprise COBOL places them: binary of up to
4 digits on a halfword, binary of 5 to 18 digits and COMP-1 on a fullword, COMP-2 on a
doubleword. A repeated group holding such items gets slack bytes at the end of each
occurrence, up to a multiple of its largest boundary, so that every occurrence keeps them
aligned. (GnuCOBOL ``-std=ibm`` agrees on halfword and fullword items outside tables; it
puts 8-byte binary on a doubleword and a table's end slack before its last item.)
"""

from __future__ import annotations

import re

from gateway.mapping.copybook.edited import edited_picture
from gateway.mapping.copybook.errors import CopybookError
from gateway.mapping.copybook.items import Item

MAX_DIGITS = 38
MAX_BINARY_DIGITS = 18
_PICTURE = re.compile(r"(CR|DB|[SXA9VPZ$*+\-.,/B0NGE])(?:\((\d+)\))?", re.IGNORECASE)
_FLOATS = {"comp-1": 4, "comp-2": 8, "float-short": 4, "float-long": 8}


def _symbols(item: Item) -> list[str]:
    text = (item.picture or "").upper()
    symbols: list[str] = []
    position = 0
    for match in _PICTURE.finditer(text):
        if match.start() != position:
            break
        position = match.end()
        symbols.extend([match.group(1).upper()] * int(match.group(2) or 1))
    if position != len(text) or not symbols:
        raise CopybookError(f"cannot read picture '{item.picture}'", item.line)
    return symbols


def elementary(item: Item) -> None:
    """Kind, digits, scale, sign and size of an elementary item."""
    usage = item.usage = item.usage or "display"
    if usage in _FLOATS:
        if item.picture is not None:
            raise CopybookError(f"USAGE {usage.upper()} takes no PICTURE", item.line)
        item.kind, item.size, item.signed = "float", _FLOATS[usage], True
        item.align = item.size if item.sync else 1
        return
    if item.picture is None:
        raise CopybookError(f"{item.name or 'FILLER'} has neither PIC nor items", item.line)
    symbols = _symbols(item)
    kinds = set(symbols)
    if kinds & {"N", "G"}:
        _national(item, symbols, usage)
    elif kinds & {"X", "A"}:
        if kinds - set("XA9B0/"):
            raise CopybookError(f"picture '{item.picture}' mixes text and sign/V", item.line)
        if usage != "display":
            raise CopybookError("text pictures are USAGE DISPLAY", item.line)
        item.kind, item.size = "text", len(symbols)
    elif kinds <= set("S9VP"):
        _numeric(item, symbols, usage)
    else:
        if usage != "display":
            raise CopybookError("edited pictures are USAGE DISPLAY", item.line)
        item.edit = edited_picture(item.picture, item.blank_when_zero, item.line)
        item.kind = "decimal" if item.edit.scale else "integer"
        item.digits, item.scale, item.signed = item.edit.digits, item.edit.scale, item.edit.signed
        item.size = item.edit.size
        if item.digits > MAX_DIGITS:
            raise CopybookError(f"more than {MAX_DIGITS} digits in '{item.picture}'", item.line)


def _national(item: Item, symbols: list[str], usage: str) -> None:
    if set(symbols) - set("NGB0/"):
        raise CopybookError(f"picture '{item.picture}' mixes N or G with others", item.line)
    dbcs = "G" in symbols or usage == "display-1"
    if usage not in ("display", "national", "display-1"):
        raise CopybookError(f"PIC N and G are USAGE NATIONAL or DISPLAY-1, not {usage}", item.line)
    item.usage = "display-1" if dbcs else "national"
    item.kind, item.size = ("dbcs" if dbcs else "national"), 2 * len(symbols)


def _numeric(item: Item, symbols: list[str], usage: str) -> None:
    picture = item.picture
    if symbols.count("S") > 1 or ("S" in symbols and symbols[0] != "S"):
        raise CopybookError(f"S must lead picture '{picture}'", item.line)
    if symbols.count("V") > 1:
        raise CopybookError(f"picture '{picture}' has more than one V", item.line)
    if usage in ("national", "display-1"):
        raise CopybookError(f"numeric USAGE {usage.upper()} is not supported", item.line)
    item.signed = symbols[0] == "S"
    body = [s for s in symbols if s != "S"]
    item.digits = body.count("9")
    if item.digits == 0:
        raise CopybookError(f"picture '{picture}' has no digit 9", item.line)
    item.scale = _scale(body, picture, item.line)
    item.kind = "decimal" if item.scale > 0 else "integer"
    if item.digits > MAX_DIGITS:
        raise CopybookError(f"more than {MAX_DIGITS} digits in '{picture}'", item.line)
    if usage == "display":
        item.size = item.digits + (1 if item.sign_separate else 0)
        # A SIGN clause without S in the picture (which IBM refuses) still says where the
        # sign is: read it rather than call the data invalid.
        item.signed = item.signed or item.sign_separate or item.sign_leading
    elif usage == "comp-3":
        item.size = item.digits // 2 + 1
    else:
        if item.digits > MAX_BINARY_DIGITS:
            raise CopybookError(
                f"binary field '{picture}' has more than {MAX_BINARY_DIGITS} digits", item.line
            )
        item.size = 2 if item.digits <= 4 else 4 if item.digits <= 9 else 8
        item.align = min(item.size, 4) if item.sync else 1


def _scale(body: list[str], picture: str | None, line: int) -> int:
    """Digits after the decimal point; P positions scale by powers of ten."""
    text = "".join(body)
    if "P" not in text:
        return len(text) - text.index("V") - 1 if "V" in text else 0
    match = re.fullmatch(r"(V?)(P+)(9+)|(9+)(P+)(V?)", text)
    if match is None:
        raise CopybookError(f"P must be at one end of picture '{picture}'", line)
    if match.group(2):  # PP999: the point is left of the Ps
        return len(match.group(2)) + len(match.group(3))
    return -len(match.group(5))  # 999PP: hundreds


def lay_out(items: list[Item], start: int) -> int:
    """Give each item its offset and size; return the end offset of the group."""
    position = end = start
    placed: dict[str, Item] = {}
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
            inner = lay_out(item.children, item.offset)
            item.kind = "group"
            item.align = max(child.align for child in item.children)
            item.size = inner - item.offset
            if (item.occurs or 1) > 1 and item.align > 1:
                item.size += -item.size % item.align
        else:
            elementary(item)
            if item.align > 1 and item.redefines is None:
                item.offset += -item.offset % item.align
        total = item.size * (item.occurs or 1)
        end = max(end, item.offset + total)
        if item.redefines is not None:
            target = placed[item.redefines]
            if total > target.size * (target.occurs or 1) and item.level != 1:
                raise CopybookError(
                    f"{item.name} is longer than {item.redefines}, which it redefines", item.line
                )
        else:
            position = item.offset + total
        if item.name is not None:
            if item.name in placed:
                raise CopybookError(f"{item.name} is declared twice in one group", item.line)
            placed[item.name] = item
    return max(position, end)
