"""A short string that a regular expression matches in full: examples for XSD patterns."""

from __future__ import annotations

import re
from typing import Any

# The stdlib's own regex parser (public as sre_parse until 3.11, which deprecated the name).
parser: Any = getattr(re, "_parser")  # noqa: B009

_CATEGORY_SAMPLES = {
    "CATEGORY_DIGIT": "1",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_WORD": "a",
    "CATEGORY_NOT_WORD": "-",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "a",
}


class NoSample(ValueError):
    """The expression uses a construct the sampler does not generate."""


def sample(pattern: str) -> str:
    """A string ``re.fullmatch(pattern, s)`` accepts; raises ``NoSample`` if none is found."""
    text = "".join(_walk(parser.parse(pattern)))
    if re.fullmatch(pattern, text) is None:
        raise NoSample(pattern)
    return text


def _walk(items: Any) -> list[str]:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(arg) != "a" else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_in(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, body = arg
            out.extend(_walk(body) * int(low))
        elif name == "SUBPATTERN":
            out.extend(_walk(arg[-1]))
        elif name == "BRANCH":
            out.extend(_walk(arg[1][0]))
        elif name in ("AT", "ASSERT_NOT"):
            continue
        elif name == "CATEGORY":
            out.append(_CATEGORY_SAMPLES.get(str(arg), "a"))
        else:
            raise NoSample(name)
    return out


def _in(arg: Any) -> str:
    negated = any(str(op) == "NEGATE" for op, _ in arg)
    if negated:
        excluded = {chr(value) for op, value in arg if str(op) == "LITERAL"}
        for candidate in "aA1-_x":
            if candidate not in excluded:
                return candidate
        raise NoSample("negated class")
    op, value = arg[0]
    name = str(op)
    if name == "LITERAL":
        return chr(value)
    if name == "RANGE":
        return chr(value[0])
    if name == "CATEGORY":
        return _CATEGORY_SAMPLES.get(str(value), "a")
    raise NoSample(name)
