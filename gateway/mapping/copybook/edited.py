"""Numeric-edited pictures (``ZZ,ZZ9.99-``, ``$$$,$$9.99CR``, ``***9``, ``99/99/99``): numbers
written as a report would print them, decoded back to numbers and encoded as the compiler
edits them.

The picture is one symbol per printed position (``CR`` and ``DB`` take two):

- digit positions: ``9`` (always a digit), ``Z`` and ``*`` (a leading zero is a space or
  ``*``), and every symbol of a floating string (``++++9``, ``$$$9``) but its first;
- insertion: ``B`` (space), ``0``, ``/``, ``,`` (blanked, or starred, while zeros are
  suppressed), ``.`` (the decimal point);
- sign: a single ``+`` or ``-`` at either end, ``CR`` or ``DB`` at the right end, or a
  floating ``+``/``-`` string; ``$``: the currency sign, fixed or floating.

Decoding reads the digits and sign from their positions and then edits the number again:
text that is not exactly what the compiler would print for it is an error, never a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from gateway.mapping.copybook.errors import CopybookError

_SYMBOL = re.compile(r"(CR|DB|[9ZVP$*+\-.,/B0S])(?:\((\d+)\))?")
_INSERTION = frozenset("B0/,")


@dataclass(frozen=True)
class EditedPicture:
    picture: str
    symbols: tuple[str, ...]
    digits: int  # digit positions
    scale: int  # digit positions after the decimal point
    floating: tuple[int, int] | None  # first and last index of the floating string
    float_char: str
    signed: bool
    blank_when_zero: bool
    size: int

    def encode(self, whole: int) -> str:
        """The printed form of ``whole`` (the number times 10**scale, fits ``digits``)."""
        all_suppressed = "9" not in self.symbols and whole == 0
        if (self.blank_when_zero and whole == 0) or (all_suppressed and "*" not in self.symbols):
            return " " * self.size
        if all_suppressed:  # check protection: every position a star but the point
            return "".join("." if s == "." else "*" * _width(s) for s in self.symbols)
        printer = _Printer(str(abs(whole)).zfill(self.digits), whole < 0, self)
        first, last = self.floating or (-1, -1)
        for index, symbol in enumerate(self.symbols):
            if first <= index <= last:
                printer.floating(index, symbol, first, last)
            else:
                printer.fixed(symbol)
        return "".join(printer.out)

    def float_symbol(self, negative: bool) -> str:
        if self.float_char == "+":
            return "-" if negative else "+"
        if self.float_char == "-":
            return "-" if negative else " "
        return self.float_char

    def decode(self, text: str) -> int | None:
        """The number (times 10**scale) printed as ``text``, or None if it is not one."""
        if len(text) != self.size:
            return None
        if "-" in self.symbols and "+" in text and "+" not in self.symbols:
            # A plus written where the picture shows plus as a space: unambiguous, and what
            # hosts that do not edit with COBOL write.
            text = text.replace("+", " ")
        if not text.strip():
            return 0 if self.encode(0) == text else None
        digits: list[str] = []
        negative = False
        position = 0
        first, last = self.floating or (-1, -1)
        for index, symbol in enumerate(self.symbols):
            printed = text[position : position + _width(symbol)]
            position += _width(symbol)
            if first <= index <= last:
                # the floating sign may stand on any position left of the first digit
                negative = negative or printed == "-"
                if symbol == self.float_char and index != first:
                    digits.append(printed if printed.isdigit() else "0")
            elif symbol in "9Z*":
                digits.append(printed if printed.isdigit() else "0")
            elif symbol in ("+", "-", "CR", "DB"):
                negative = negative or printed in ("-", "CR", "DB")
        if not all(d.isascii() and d.isdigit() for d in digits):
            return None
        whole = int("".join(digits) or "0")
        whole = -whole if negative else whole
        return whole if self.encode(whole) == text else None


class _Printer:
    """The positions printed so far, left to right, and where the digits stand."""

    def __init__(self, digits: str, negative: bool, picture: EditedPicture) -> None:
        self.digits, self.negative, self.picture = digits, negative, picture
        self.out: list[str] = []
        self.at = 0  # next digit to print
        self.significant = False  # a non-zero digit or the point has been printed
        self.fill = "*" if "*" in picture.symbols else " "
        self.shown_from = 0  # first digit of the floating string that is printed

    def _start(self) -> None:
        # The floating symbol goes just left of the first printed position.
        if not self.significant:
            self.out[-1] = self.picture.float_symbol(self.negative)
            self.significant = True

    def floating(self, index: int, symbol: str, first: int, last: int) -> None:
        char = self.picture.float_char
        if index == first:
            count = sum(1 for s in self.picture.symbols[first + 1 : last + 1] if s == char)
            lead = self.digits[self.at : self.at + count]
            self.shown_from = self.at + len(lead) - len(lead.lstrip("0"))
            self.out.append(" ")
        elif symbol == char:
            if self.at >= self.shown_from:
                self._start()
                self.out.append(self.digits[self.at])
            else:
                self.out.append(" ")
            self.at += 1
        elif symbol in _INSERTION:
            self.out.append(symbol.replace("B", " ") if self.significant else " ")
        else:  # the decimal point inside the floating string
            self._start()
            self.out.append(symbol)
        if index == last:
            self._start()

    def fixed(self, symbol: str) -> None:
        if symbol == "9":
            self.significant = True
            self.out.append(self.digits[self.at])
            self.at += 1
        elif symbol in "Z*":
            digit = self.digits[self.at]
            self.at += 1
            if not self.significant and digit == "0":
                self.out.append(self.fill if symbol == "*" else " ")
            else:
                self.significant = True
                self.out.append(digit)
        elif symbol in ".V":
            self.significant = True
            self.out.append("." if symbol == "." else "")
        elif symbol in _INSERTION:
            if self.significant or self.at == 0:
                self.out.append(symbol.replace("B", " "))
            else:
                self.out.append(self.fill)
        else:
            self.out.append(self._sign(symbol))

    def _sign(self, symbol: str) -> str:
        negative = self.negative
        if symbol == "+":
            return "-" if negative else "+"
        if symbol == "-":
            return "-" if negative else " "
        if symbol in ("CR", "DB"):
            return symbol if negative else "  "
        return symbol  # the currency sign


def edited_picture(picture: str, blank_when_zero: bool, line: int) -> EditedPicture:
    """Read a numeric-edited picture; CopybookError when it is not one the compiler takes."""
    text = picture.upper()
    symbols: list[str] = []
    position = 0
    for match in _SYMBOL.finditer(text):
        if match.start() != position:
            break
        position = match.end()
        symbols.extend([match.group(1)] * int(match.group(2) or 1))
    if position != len(text) or not symbols:
        raise CopybookError(f"cannot read picture '{picture}'", line)
    if "P" in symbols or "S" in symbols:
        raise CopybookError(f"edited picture '{picture}' cannot hold P or S", line)
    floating: tuple[int, int] | None = None
    float_char = ""
    for char in "+-$":
        places = [i for i, s in enumerate(symbols) if s == char]
        if len(places) > 1:
            if floating is not None:
                raise CopybookError(f"picture '{picture}' has two floating strings", line)
            floating, float_char = (places[0], places[-1]), char
            between = symbols[places[0] : places[-1] + 1]
            if any(s not in (char, *_INSERTION, ".") for s in between):
                raise CopybookError(f"floating '{char}' of '{picture}' is interrupted", line)
    signs = [s for s in symbols if s in ("+", "-", "CR", "DB")]
    if float_char not in "+-" or not float_char:
        if len(signs) > 1:
            raise CopybookError(f"picture '{picture}' has more than one sign", line)
        if signs and symbols.index(signs[0]) not in (0, len(symbols) - 1):
            raise CopybookError(f"the sign of '{picture}' must be at one end", line)
    points = symbols.count(".") + symbols.count("V")
    if points > 1:
        raise CopybookError(f"picture '{picture}' has more than one decimal point", line)
    digit_positions: list[int] = []
    for index, symbol in enumerate(symbols):
        in_float = floating is not None and floating[0] < index <= floating[1]
        if symbol in "9Z*" or (in_float and symbol == float_char):
            digit_positions.append(index)
    if not digit_positions:
        raise CopybookError(f"picture '{picture}' has no digit positions", line)
    point = next((i for i, s in enumerate(symbols) if s in ".V"), len(symbols))
    scale = sum(1 for i in digit_positions if i > point)
    return EditedPicture(
        picture=picture,
        symbols=tuple(symbols),
        digits=len(digit_positions),
        scale=scale,
        floating=floating,
        float_char=float_char,
        signed=bool(signs) or float_char in ("+", "-"),
        blank_when_zero=blank_when_zero,
        size=sum(_width(s) for s in symbols),
    )


def _width(symbol: str) -> int:
    return 0 if symbol == "V" else len(symbol)


def value_of(whole: int, scale: int) -> int | Decimal:
    return Decimal(f"{whole}E-{scale}") if scale else whole
