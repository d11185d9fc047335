"""Copybook source text to period-terminated entries.

Fixed format (the IBM reference format): columns 1-6 are a sequence area (digits or any
text), column 7 the indicator (``*`` or ``/`` a comment, ``D`` a debugging line, which is
not part of the data description, ``-`` a continuation), columns 8-72 the code, 73-80 an
identification area. A continuation line carries on the previous line's last word (or
literal) from its first non-blank character, so a word may be split across lines.

Free format (``>>SOURCE FORMAT FREE``, or text whose lines cannot be fixed format) has no
areas; ``*>`` starts a comment in both formats.

``COPY member [REPLACING ==a== BY ==b== ...]`` is replaced by the member's entries, looked
up in the search path as ``member``, ``member.cpy``, ``member.cob`` or ``member.cbl`` (any
case).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from gateway.mapping.copybook.errors import CopybookError

_INDICATORS = frozenset(" *-/Dd$")
_FREE_DIRECTIVE = re.compile(r">>\s*SOURCE\s+(FORMAT\s+)?(IS\s+)?FREE", re.IGNORECASE)
_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|==.*?==|[^\s]+")
_MEMBER_SUFFIXES = ("", ".cpy", ".cob", ".cbl", ".CPY", ".COB", ".CBL")
_MAX_COPY_DEPTH = 16

Statement = tuple[int, list[str]]


def _sequence_area(head: str) -> bool:
    """Whether columns 1-6 can be a sequence area: blank, digits, or one label (AB0010)."""
    return not head.strip() or head.strip().isdigit() or (len(head) == 6 and " " not in head)


def _is_fixed(lines: list[str]) -> bool:
    for line in lines:
        if not line.strip():
            continue
        if not _sequence_area(line[:6]) or (len(line) > 6 and line[6] not in _INDICATORS):
            return False
    return True


def source_lines(text: str) -> list[tuple[int, str]]:
    """(line number, code) of each line that holds code: comments, debugging lines and
    sequence areas gone, continuation lines joined to the line they continue."""
    raw = [line.expandtabs(8).rstrip() for line in text.splitlines()]
    free = bool(_FREE_DIRECTIVE.search(text)) or not _is_fixed(raw)
    lines: list[tuple[int, str]] = []
    for number, line in enumerate(raw, start=1):
        if not line.strip() or line.lstrip().startswith(">>"):
            continue
        if free:
            code = line
            if code.lstrip().startswith("*") and not code.lstrip().startswith("*>"):
                continue  # a comment line written at the margin
        else:
            indicator, code = (line[6], line[7:72]) if len(line) > 6 else (" ", "")
            if indicator in "*/Dd$":
                continue
            if indicator == "-":
                if not lines:
                    raise CopybookError("a continuation line continues nothing", number)
                lines[-1] = (lines[-1][0], _continue(lines[-1][1], code, number))
                continue
        code = _strip_comment(code)
        if code.strip():
            lines.append((number, code))
    return lines


def _strip_comment(code: str) -> str:
    """The code before a ``*>`` comment that is not inside a literal."""
    quote = ""
    for index, char in enumerate(code):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif code.startswith("*>", index):
            return code[:index]
    return code


def _open_literal(code: str) -> str:
    """The quote of a literal left open at the end of ``code``, or ''."""
    quote = ""
    for char in code:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
    return quote


def _continue(previous: str, code: str, line: int) -> str:
    rest = code.lstrip()
    if not rest:
        return previous
    quote = _open_literal(previous)
    if quote:
        # An open literal runs to column 72; the continuation starts again after a quote.
        if rest[0] != quote:
            raise CopybookError("a continued literal must start again with a quote", line)
        return previous.ljust(65) + rest[1:]
    return previous.rstrip() + rest


def statements(text: str, search_path: Sequence[Path] = (), depth: int = 0) -> list[Statement]:
    """Each period-terminated entry: (line of its first token, tokens), COPY expanded."""
    found: list[Statement] = []
    tokens: list[str] = []
    start = 0
    for number, code in source_lines(text):
        for token in _TOKEN.findall(code):
            if not tokens:
                start = number
            if token.endswith(".") and not token.startswith(("'", '"', "==")):
                if token[:-1]:
                    tokens.append(token[:-1])
                found.extend(_expand(start, tokens, search_path, depth))
                tokens = []
            else:
                tokens.append(token)
    if tokens:
        found.extend(_expand(start, tokens, search_path, depth))
    return found


_SKIPPED = frozenset({"EJECT", "SKIP1", "SKIP2", "SKIP3"})


def _expand(
    line: int, tokens: list[str], search_path: Sequence[Path], depth: int
) -> list[Statement]:
    while tokens and tokens[0].upper() in _SKIPPED:
        tokens = tokens[1:]
    if not tokens:
        return []
    if tokens[0].upper() != "COPY":
        return [(line, tokens)]
    if len(tokens) < 2:
        raise CopybookError("COPY needs a member name", line)
    if depth >= _MAX_COPY_DEPTH:
        raise CopybookError(f"COPY {tokens[1]}: members copy each other too deeply", line)
    member = tokens[1].strip("'\"")
    rest = tokens[2:]
    if len(rest) >= 2 and rest[0].upper() in ("OF", "IN"):
        rest = rest[2:]
    replacing = _replacing(rest, line)
    text = _member_text(member, search_path, line)
    for old, new in replacing:
        text = text.replace(old, new)
    return statements(text, search_path, depth + 1)


def _replacing(words: list[str], line: int) -> list[tuple[str, str]]:
    if not words:
        return []
    if words[0].upper() != "REPLACING":
        raise CopybookError(f"unexpected word '{words[0]}' in COPY", line)
    pairs: list[tuple[str, str]] = []
    rest = words[1:]
    while rest:
        if len(rest) < 3 or rest[1].upper() != "BY":
            raise CopybookError("COPY REPLACING needs pairs of 'old BY new'", line)
        pairs.append((_pseudo(rest[0]), _pseudo(rest[2])))
        rest = rest[3:]
    return pairs


def _pseudo(word: str) -> str:
    return word[2:-2].strip() if word.startswith("==") and word.endswith("==") else word


def _member_text(member: str, search_path: Sequence[Path], line: int) -> str:
    for directory in search_path:
        for name in (member, member.lower(), member.upper()):
            for suffix in _MEMBER_SUFFIXES:
                path = Path(directory) / f"{name}{suffix}"
                if path.is_file():
                    return path.read_text(encoding="utf-8")
    where = ", ".join(str(d) for d in search_path) or "no search path given"
    raise CopybookError(f"COPY {member}: no such member ({where})", line)
