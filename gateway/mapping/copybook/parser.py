"""Entries to items: the level, name and clauses of each data description, and the tree of
groups they form. Clauses that do not change the layout (VALUE, JUSTIFIED, 88 levels...)
are read and dropped."""

from __future__ import annotations

from gateway.mapping.copybook.errors import CopybookError
from gateway.mapping.copybook.items import Item
from gateway.mapping.copybook.source import Statement

USAGES = {
    "DISPLAY": "display",
    "COMP": "comp",
    "COMPUTATIONAL": "comp",
    "COMP-0": "comp",
    "COMPUTATIONAL-0": "comp",
    "COMP-4": "comp",
    "COMPUTATIONAL-4": "comp",
    "BINARY": "comp",
    "COMP-5": "comp-5",
    "COMPUTATIONAL-5": "comp-5",
    "COMP-3": "comp-3",
    "COMPUTATIONAL-3": "comp-3",
    "PACKED-DECIMAL": "comp-3",
    "COMP-1": "comp-1",
    "COMPUTATIONAL-1": "comp-1",
    "COMP-2": "comp-2",
    "COMPUTATIONAL-2": "comp-2",
    "FLOAT-SHORT": "float-short",
    "FLOAT-BINARY-32": "float-short",
    "FLOAT-LONG": "float-long",
    "FLOAT-BINARY-64": "float-long",
    "NATIONAL": "national",
    "DISPLAY-1": "display-1",
}
_UNSUPPORTED_USAGES = frozenset({"POINTER", "INDEX", "PROCEDURE-POINTER", "FUNCTION-POINTER"})
# Clauses that do not change the layout, with the optional words that may follow them.
_IGNORED: dict[str, tuple[str, ...]] = {
    "USAGE": ("IS",),
    "SIGN": ("IS",),
    "VALUE": ("IS", "ARE"),
    "VALUES": ("IS", "ARE"),
    "JUST": ("RIGHT",),
    "JUSTIFIED": ("RIGHT",),
    "GLOBAL": (),
    "EXTERNAL": (),
    "INDEXED": ("BY",),
    "ASCENDING": ("KEY", "IS"),
    "DESCENDING": ("KEY", "IS"),
}
CLAUSE_WORDS = frozenset(
    {"PIC", "PICTURE", "OCCURS", "REDEFINES", "SYNC", "SYNCHRONIZED", "BLANK", "LEADING",
     "TRAILING", "SEPARATE", "IS"} | set(USAGES) | set(_IGNORED) | _UNSUPPORTED_USAGES
)  # fmt: skip


def entry(line: int, tokens: list[str]) -> Item | None:
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
    if rest and rest[0].upper() not in CLAUSE_WORDS:
        name = None if rest[0].upper() == "FILLER" else rest[0].upper()
        rest = rest[1:]
    item = Item(level=level, name=name, line=line)
    _clauses(item, [token.upper() if token[0] not in "'\"=" else token for token in rest])
    return item


class _Words:
    """A cursor over the words of one entry."""

    def __init__(self, words: list[str], line: int) -> None:
        self.words, self.at, self.line = words, 0, line

    def more(self) -> bool:
        return self.at < len(self.words)

    def peek(self) -> str:
        return self.words[self.at] if self.more() else ""

    def next(self, what: str) -> str:
        if not self.more():
            raise CopybookError(f"{what} is missing", self.line)
        word = self.words[self.at]
        self.at += 1
        return word

    def skip(self, *optional: str) -> None:
        while self.more() and self.words[self.at] in optional:
            self.at += 1


def _clauses(item: Item, words: list[str]) -> None:
    cursor = _Words(words, item.line)
    while cursor.more():
        word = cursor.next("a clause")
        if word in ("PIC", "PICTURE"):
            cursor.skip("IS")
            item.picture = cursor.next("the picture string after PIC")
        elif word in USAGES:
            item.usage = USAGES[word]
        elif word in _UNSUPPORTED_USAGES:
            raise CopybookError(f"USAGE {word} is not supported", item.line)
        elif word == "OCCURS":
            _occurs(item, cursor)
        elif word == "REDEFINES":
            item.redefines = cursor.next("the name after REDEFINES")
        elif word in ("LEADING", "TRAILING"):
            item.sign_leading = word == "LEADING"
            if cursor.peek() == "SEPARATE":
                item.sign_separate = True
                cursor.skip("SEPARATE", "CHARACTER")
        elif word == "SEPARATE":  # SIGN SEPARATE without LEADING: trailing
            item.sign_separate = True
            cursor.skip("CHARACTER")
        elif word in ("SYNC", "SYNCHRONIZED"):
            item.sync = True
            cursor.skip("LEFT", "RIGHT")
        elif word == "BLANK":
            cursor.skip("WHEN")
            if cursor.next("ZERO after BLANK WHEN") not in ("ZERO", "ZEROS", "ZEROES"):
                raise CopybookError("BLANK WHEN needs ZERO", item.line)
            item.blank_when_zero = True
        elif word == "IS":
            continue
        elif word in _IGNORED:
            cursor.skip(*_IGNORED[word])
            if word in ("VALUE", "VALUES", "INDEXED", "ASCENDING", "DESCENDING"):
                while cursor.more() and cursor.peek() not in CLAUSE_WORDS:
                    cursor.at += 1  # literals, keys and index names: no bytes of their own
        else:
            raise CopybookError(f"unexpected word '{word}'", item.line)


def _number(word: str, what: str, line: int) -> int:
    if not (word.isascii() and word.isdigit()):
        raise CopybookError(f"{what} needs a number, found '{word}'", line)
    return int(word)


def _occurs(item: Item, cursor: _Words) -> None:
    first = _number(cursor.next("the number of times after OCCURS"), "OCCURS", cursor.line)
    if cursor.peek() == "TO":
        cursor.next("TO")
        item.occurs_min = first
        item.occurs = _number(cursor.next("the maximum after TO"), "OCCURS TO", cursor.line)
        if item.occurs < first:
            raise CopybookError(
                f"OCCURS {first} TO {item.occurs}: the maximum is lower", cursor.line
            )
    else:
        item.occurs = first
    cursor.skip("TIMES")
    if cursor.peek() == "DEPENDING":
        cursor.next("DEPENDING")
        cursor.skip("ON")
        item.depending_on = cursor.next("the counter after DEPENDING ON")
        if item.occurs_min is None:
            item.occurs_min = 0
    elif item.occurs_min is not None:
        raise CopybookError("OCCURS n TO m needs DEPENDING ON a counter", cursor.line)


def tree(found: list[Statement]) -> list[Item]:
    """The 01 records (or, for a copybook of bare fields, one unnamed group of them)."""
    root = Item(level=0, name=None, line=0)
    stack = [root]
    for line, tokens in found:
        item = entry(line, tokens)
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
    _inherit_usage(root.children, None)
    return root.children


def _inherit_usage(items: list[Item], usage: str | None) -> None:
    # USAGE on a group applies to every elementary item in it that declares none.
    for item in items:
        if item.usage is None:
            item.usage = usage
        _inherit_usage(item.children, item.usage)
