"""The code pages a record may use, and the check that names a byte or character that the
code page cannot carry.

Python knows the classic EBCDIC pages (cp037, cp273, cp500, cp875, cp1140...); the
``ebcdic`` package adds cp1047 and the euro pages cp1141-cp1149. Every EBCDIC page maps
the 256 bytes, so decoding fails only for the ASCII family; encoding fails for a character
the page lacks, and the error names it.
"""

from __future__ import annotations

import codecs

import ebcdic  # type: ignore[import-untyped]  # noqa: F401  (registers cp1047 and friends)

EBCDIC_PAGES = (
    "cp037", "cp273", "cp277", "cp278", "cp280", "cp284", "cp285", "cp297", "cp500",
    "cp871", "cp875", "cp1047", "cp1140", "cp1141", "cp1142", "cp1143", "cp1144", "cp1145",
    "cp1146", "cp1147", "cp1148", "cp1149",
)  # fmt: skip
SUPPORTED_ENCODINGS = (*EBCDIC_PAGES, "ascii", "latin-1", "utf-8")
_EBCDIC = frozenset(EBCDIC_PAGES)
_ALIASES = {"iso8859-1": "latin-1", "latin_1": "latin-1", "us-ascii": "ascii"}


def check_encoding(name: str) -> str:
    """The normalised codec name of a supported code page; ValueError otherwise."""
    try:
        normal = codecs.lookup(name).name
    except LookupError:
        normal = ""
    normal = _ALIASES.get(normal, normal)
    if normal not in SUPPORTED_ENCODINGS:
        supported = ", ".join(SUPPORTED_ENCODINGS)
        raise ValueError(f"unknown or unsupported encoding '{name}' (supported: {supported})")
    return normal


def is_ebcdic(encoding: str) -> bool:
    return check_encoding(encoding) in _EBCDIC
