"""Regular expressions with the meaning JSON Schema gives them: ECMA-262, unicode mode.

A published ``pattern`` is checked by agents' validators (ajv, jsonschema) as an ECMA-262
regular expression, so the gateway checks it the same way, with the ``regress`` engine rather
than Python's ``re``: in ECMA ``$`` matches only at the very end (Python's also before a final
newline, so ``"10000001\\n"`` would pass ``^[0-9]{8}$``), ``\\d`` is ASCII-only, and Python
syntax such as ``(?P<name>...)`` is not a JSON Schema pattern at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regress

#: C0 control characters other than tab, line feed and carriage return: no legacy text field
#: carries them, and a NUL ends a C string on the far side.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
NO_CONTROL_PATTERN = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F]*$"


@dataclass(frozen=True)
class EcmaPattern:
    """A compiled JSON Schema pattern; ``matches`` has JSON Schema's (unanchored) semantics."""

    source: str
    _compiled: regress.Regex

    def matches(self, text: str) -> bool:
        return self._compiled.find(text) is not None


def ecma_pattern(source: str) -> EcmaPattern:
    """Compile ``source`` as ECMA-262 in unicode mode; ValueError names what is wrong."""
    try:
        return EcmaPattern(source, regress.Regex(source, "u"))
    except regress.RegressError as exc:
        raise ValueError(f"invalid regular expression (ECMA-262, as JSON Schema): {exc}") from None


def control_character(text: str) -> str | None:
    """The first C0 control character (not tab, CR, LF) in ``text``, as U+XXXX, or None."""
    found = _CONTROL.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"
