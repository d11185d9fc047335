"""Strings (padding, code tables, patterns, case) and boolean flags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.mapping.converters.common import Converter, Unmappable
from gateway.mapping.patterns import EcmaPattern, control_character, ecma_pattern
from gateway.mapping.spec import ValueSpec

TRUE_WORDS = frozenset({"Y", "YES", "T", "TRUE", "1", "J"})
FALSE_WORDS = frozenset({"N", "NO", "F", "FALSE", "0"})


# ---------------------------------------------------------------- legacy -> agent


def string_to_agent(spec: ValueSpec) -> Converter:
    strip: Callable[[str], str] | None = None
    if spec.trim:
        strip = str.strip
    elif spec.width is not None:
        pad = spec.pad
        # Strip only the padding the width added, on the side it was added.
        strip = (lambda s: s.lstrip(pad)) if spec.align == "right" else (lambda s: s.rstrip(pad))
    codes = spec.code_table
    unknown = spec.unknown_code
    if codes is None:
        if strip is None:
            return lambda raw: raw
        return strip
    known = ", ".join(sorted(codes))

    def coded(raw: str) -> Any:
        key = raw.strip()
        value = codes.get(key)
        if value is not None:
            return value
        if unknown == "pass":
            return key
        if unknown == "null":
            return None
        raise Unmappable(f"unknown code (known: {known})")

    return coded


def boolean_to_agent(spec: ValueSpec) -> Converter:
    if spec.flags is not None:
        true_words = frozenset({spec.flags[0].upper(), spec.flags[0]})
        false_words = frozenset({spec.flags[1].upper(), spec.flags[1]})
    else:
        true_words, false_words = TRUE_WORDS, FALSE_WORDS

    def convert(raw: Any) -> Any:
        if isinstance(raw, bool):
            return raw
        word = str(raw).upper()
        if word in true_words:
            return True
        if word in false_words:
            return False
        expected = "/".join(spec.flags) if spec.flags else "Y/N, T/F, 1/0"
        raise Unmappable(f"not a known true/false flag ({expected})")

    return convert


# ---------------------------------------------------------------- agent -> legacy


def string_to_legacy(spec: ValueSpec) -> Converter:
    pattern_text: str | None = getattr(spec, "pattern", None)
    pattern = ecma_pattern(pattern_text) if pattern_text else None
    min_len: int | None = getattr(spec, "min_length", None)
    max_len, truncate = spec.max_length, spec.overflow == "truncate"
    codes = spec.code_table
    reverse = {agent: legacy for legacy, agent in codes.items()} if codes else None
    case = spec.case
    width, fill, right = spec.width, spec.pad, spec.align == "right"

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            value = _digits_sent_as_number(value, pattern)
        control = control_character(value)
        if control is not None:
            raise Unmappable(f"contains the control character {control}")
        if reverse is not None:
            if value not in reverse:
                raise Unmappable(f"must be one of: {', '.join(reverse)}")
            value = reverse[value]
        else:
            if pattern is not None and not pattern.matches(value):
                raise Unmappable(f"does not match pattern {pattern.source}")
            if min_len is not None and len(value) < min_len:
                raise Unmappable(f"shorter than {min_len} characters")
            if max_len is not None and len(value) > max_len:
                if not truncate:
                    raise Unmappable(f"longer than {max_len} characters")
                value = value[:max_len]
            if case == "upper":
                value = value.upper()
            elif case == "lower":
                value = value.lower()
        if width is not None:
            if len(value) > width:
                if not truncate:
                    raise Unmappable(f"longer than the legacy width of {width} characters")
                value = value[:width]
            value = value.rjust(width, fill) if right else value.ljust(width, fill)
        return value

    return convert


def _digits_sent_as_number(value: Any, pattern: EcmaPattern | None) -> str:
    """Agents often send 10000001 for a digit string: its decimal form is taken when it
    satisfies the pattern. A float never is: 12.50 would arrive as 12.5, meaning changed."""
    if isinstance(value, int) and not isinstance(value, bool) and pattern is not None:
        text = str(value)
        if pattern.matches(text):
            return text
        raise Unmappable(
            f'expected a string: send the value in quotes, as "..." matching {pattern.source}'
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise Unmappable('expected a string: send the value in quotes, as "..."')
    raise Unmappable("expected a string")


def boolean_to_legacy(spec: ValueSpec) -> Converter:
    flags = spec.flags

    def convert(value: Any) -> Any:
        if not isinstance(value, bool):
            raise Unmappable("expected true or false")
        if flags is None:
            return value
        return flags[0] if value else flags[1]

    return convert
