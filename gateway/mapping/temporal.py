"""Legacy dates, times and datetimes: compiled parsers and renderers, both ways.

A format is a strftime pattern (``%Y%m%d``, ``%y%m%d``, ``%H%M%S``, ``%Y-%m-%d %H.%M.%S``) or
one of the layouts strftime cannot express: Julian ``CYYDDD`` (C is the century after 1900,
as on IBM i and in many COBOL files), ``YYDDD``, ``YYYYDDD``, and IBM i ``CYYMMDD``.

Fixed-width digit formats are parsed by slicing, not strptime: strptime costs ~20 us a value,
slicing ~1 us, which matters when every row of a large answer carries dates. Two-digit years
fall in the declared hundred-year window (``century_window: 1950`` reads 49 as 2049 and 50
as 1950), and a year outside the window cannot be written back.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# (component, width) of the strftime directives that are fixed-width digits.
_DIGITS = {
    "%Y": ("year", 4),
    "%y": ("year2", 2),
    "%m": ("month", 2),
    "%d": ("day", 2),
    "%j": ("yday", 3),
    "%H": ("hour", 2),
    "%M": ("minute", 2),
    "%S": ("second", 2),
    "%f": ("micro", 6),
}
_NAMED = {
    "CYYDDD": ("%C", "%y", "%j"),
    "YYDDD": ("%y", "%j"),
    "YYYYDDD": ("%Y", "%j"),
    "CYYMMDD": ("%C", "%y", "%m", "%d"),
}
_SAMPLE = dt.datetime(2024, 6, 11, 14, 30, 5)


class BadTemporal(ValueError):
    """A legacy value that does not match its declared format, or a value it cannot carry."""


@dataclass(frozen=True)
class _Slot:
    name: str
    start: int
    end: int


@dataclass(frozen=True)
class Layout:
    """A compiled fixed-width layout: where each component sits, and the literals between."""

    fmt: str
    slots: tuple[_Slot, ...]
    literals: tuple[tuple[int, str], ...]
    length: int
    window: int

    def parse(self, text: str) -> dict[str, int]:
        if len(text) != self.length:
            raise BadTemporal(f"expected {self.length} characters")
        for at, literal in self.literals:
            if text[at : at + len(literal)] != literal:
                raise BadTemporal(f"expected '{literal}' at position {at + 1}")
        parts: dict[str, int] = {}
        for slot in self.slots:
            digits = text[slot.start : slot.end]
            if not (digits.isascii() and digits.isdigit()):
                raise BadTemporal(f"'{digits}' is not digits")
            parts[slot.name] = int(digits)
        if "year2" in parts:
            century = parts.pop("century", None)
            year2 = parts.pop("year2")
            if century is not None:
                parts["year"] = 1900 + century * 100 + year2
            else:
                start = self.window
                parts["year"] = start + (year2 - start % 100) % 100
        return parts

    def render(self, parts: dict[str, int]) -> str:
        year = parts.get("year", 0)
        out: list[str] = []
        position = 0
        literals = dict(self.literals)
        for slot in self.slots:
            while position in literals:
                out.append(literals[position])
                position += len(literals[position])
            width = slot.end - slot.start
            if slot.name == "century":
                value = (year - 1900) // 100
                if not 0 <= value <= 9:
                    raise BadTemporal(f"year {year} has no century digit (1900-2899)")
            elif slot.name == "year2":
                value = year % 100
                if "century" not in {s.name for s in self.slots} and not (
                    self.window <= year < self.window + 100
                ):
                    raise BadTemporal(
                        f"year {year} is outside the two-digit window "
                        f"{self.window}-{self.window + 99}"
                    )
            else:
                value = parts[slot.name]
            text = str(value).zfill(width)
            if len(text) > width:
                raise BadTemporal(f"{slot.name} {value} does not fit in {width} digits")
            out.append(text)
            position += width
        while position in literals:
            out.append(literals[position])
            position += len(literals[position])
        return "".join(out)


def compile_layout(fmt: str, window: int) -> Layout | None:
    """A slicing layout for formats made of fixed-width digit directives and literals."""
    if fmt in _NAMED:
        tokens: list[str] = list(_NAMED[fmt])
    else:
        tokens = re.findall(r"%.|[^%]+", fmt)
    slots: list[_Slot] = []
    literals: list[tuple[int, str]] = []
    position = 0
    for token in tokens:
        if token == "%C":
            slots.append(_Slot("century", position, position + 1))
            position += 1
        elif token in _DIGITS:
            name, width = _DIGITS[token]
            if any(slot.name == name for slot in slots):
                return None
            slots.append(_Slot(name, position, position + width))
            position += width
        elif token.startswith("%"):
            return None  # month names, weekdays...: strptime handles those
        else:
            literals.append((position, token))
            position += len(token)
    return Layout(fmt, tuple(slots), tuple(literals), position, window)


def _month_days() -> frozenset[str]:
    # Every valid MMDD of a leap year; 0229 is checked against the year separately.
    first = dt.date(2024, 1, 1)
    return frozenset((first + dt.timedelta(days=n)).strftime("%m%d") for n in range(366))


_VALID_MMDD = _month_days()


def iso_date_slicer(fmt: str) -> Callable[[str], str | None] | None:
    """For digit-only year-month-day layouts (%Y%m%d, %d%m%Y...): legacy text -> ISO text.

    Returns None for a value it cannot vouch for (the caller then parses it properly and
    reports why it is wrong); builds no date objects, which halves the cost of a date in a
    large answer.
    """
    layout = compile_layout(fmt, 1950)
    if (
        layout is None
        or layout.literals
        or {s.name for s in layout.slots}
        != {
            "year",
            "month",
            "day",
        }
    ):
        return None
    where = {slot.name: (slot.start, slot.end) for slot in layout.slots}
    (y0, y1), (m0, m1), (d0, d1) = where["year"], where["month"], where["day"]
    length = layout.length

    def iso(text: str) -> str | None:
        if len(text) != length or not (text.isascii() and text.isdigit()):
            return None
        year, month, day = text[y0:y1], text[m0:m1], text[d0:d1]
        monthday = month + day
        if monthday not in _VALID_MMDD or year == "0000":
            return None
        if monthday == "0229" and not calendar.isleap(int(year)):
            return None
        return f"{year}-{month}-{day}"

    return iso


_DATETIME_SLOTS = ("year", "month", "day", "hour", "minute", "second")


def iso_datetime_slicer(fmt: str, zone: dt.tzinfo | None) -> Callable[[str], str | None] | None:
    """For digit-only timestamps (%Y%m%d%H%M%S and reorderings): legacy text -> ISO 8601,
    with the UTC offset of ``zone`` when one is given.

    Gives the same text as ``datetime.isoformat`` of the parsed value, at half the cost;
    returns None for anything it cannot vouch for (the caller then parses properly).
    """
    layout = compile_layout(fmt, 1950)
    if layout is None or layout.literals:
        return None
    where = {slot.name: (slot.start, slot.end) for slot in layout.slots}
    if sorted(where) != sorted(_DATETIME_SLOTS):
        return None
    cuts = [where[name] for name in _DATETIME_SLOTS]
    length = layout.length
    offsets: dict[dt.timedelta | None, str] = {}

    def iso(text: str) -> str | None:
        if len(text) != length or not (text.isascii() and text.isdigit()):
            return None
        y, mo, d, h, mi, s = (text[a:b] for a, b in cuts)
        try:
            naive = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
        except ValueError:
            return None
        stamp = f"{y}-{mo}-{d}T{h}:{mi}:{s}"
        if zone is None:
            return stamp
        offset = zone.utcoffset(naive)
        suffix = offsets.get(offset)
        if suffix is None:
            suffix = offsets[offset] = naive.replace(tzinfo=zone).isoformat()[19:]
        return stamp + suffix

    return iso


def _date_of(parts: dict[str, int]) -> dt.date:
    try:
        if "yday" in parts:
            day = parts["yday"]
            if not 1 <= day <= 366:
                raise BadTemporal(f"day of year {day} is not 1-366")
            value = dt.date(parts["year"], 1, 1) + dt.timedelta(days=day - 1)
            if value.year != parts["year"]:
                raise BadTemporal(f"day of year {day} is past the end of {parts['year']}")
            return value
        return dt.date(parts["year"], parts["month"], parts["day"])
    except ValueError as exc:
        raise BadTemporal(str(exc)) from None


def _date_parts(value: dt.date) -> dict[str, int]:
    return {
        "year": value.year,
        "month": value.month,
        "day": value.day,
        "yday": value.timetuple().tm_yday,
    }


def _time_of(parts: dict[str, int]) -> dt.time:
    try:
        return dt.time(
            parts.get("hour", 0), parts.get("minute", 0), parts.get("second", 0),
            parts.get("micro", 0),
        )  # fmt: skip
    except ValueError as exc:
        raise BadTemporal(str(exc)) from None


def _time_parts(value: dt.time | dt.datetime) -> dict[str, int]:
    return {
        "hour": value.hour,
        "minute": value.minute,
        "second": value.second,
        "micro": value.microsecond,
    }


DateCodec = tuple[Callable[[str], dt.date], Callable[[dt.date], str]]
TimeCodec = tuple[Callable[[str], dt.time], Callable[[dt.time], str]]
DatetimeCodec = tuple[Callable[[str], dt.datetime], Callable[[dt.datetime], str]]


def date_codec(fmt: str | None, window: int = 1950) -> DateCodec:
    """(parse legacy text -> date, render date -> legacy text) for one format."""
    if fmt is None:
        return _iso(dt.date.fromisoformat), dt.date.isoformat
    layout = compile_layout(fmt, window)
    if layout is not None:
        return (lambda text: _date_of(layout.parse(text))), (
            lambda value: layout.render(_date_parts(value))
        )
    return _strptime(fmt, lambda v: v.date()), lambda value: value.strftime(fmt)


def time_codec(fmt: str | None) -> TimeCodec:
    if fmt is None:
        return _iso(dt.time.fromisoformat), dt.time.isoformat
    layout = compile_layout(fmt, 1950)
    if layout is not None:
        return (lambda text: _time_of(layout.parse(text))), (
            lambda value: layout.render(_time_parts(value))
        )
    return _strptime(fmt, lambda v: v.time()), lambda value: value.strftime(fmt)


def datetime_codec(fmt: str | None, window: int = 1950) -> DatetimeCodec:
    if fmt is None:
        return _iso(dt.datetime.fromisoformat), dt.datetime.isoformat
    layout = compile_layout(fmt, window)
    if layout is not None:

        def parse(text: str) -> dt.datetime:
            parts = layout.parse(text)
            return dt.datetime.combine(_date_of(parts), _time_of(parts))

        def render(value: dt.datetime) -> str:
            return layout.render({**_date_parts(value), **_time_parts(value)})

        return parse, render
    return _strptime(fmt, lambda v: v), lambda value: value.strftime(fmt)


def _iso(parse: Callable[[str], T]) -> Callable[[str], T]:
    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise BadTemporal(str(exc)) from None

    return convert


def _strptime(fmt: str, pick: Callable[[dt.datetime], T]) -> Callable[[str], T]:
    def convert(text: str) -> T:
        try:
            return pick(dt.datetime.strptime(text, fmt))
        except ValueError as exc:
            raise BadTemporal(str(exc)) from None

    return convert


_NEEDS = {
    "date": ("year", "month", "day"),
    "time": ("hour", "minute"),
    "datetime": ("year", "month", "day", "hour", "minute"),
}


def check_format(kind: str, fmt: str) -> None:
    """Raise ValueError when ``fmt`` cannot carry a value of ``kind`` there and back."""
    if fmt in _NAMED and kind != "date":
        raise ValueError(f"{fmt} is a date layout; it cannot carry a {kind}")
    if fmt not in _NAMED and "%" not in fmt:
        named = ", ".join(_NAMED)
        raise ValueError(f"format '{fmt}' is neither a strftime pattern nor one of {named}")
    try:
        if kind == "date":
            parse_d, render_d = date_codec(fmt)
            back: object = parse_d(render_d(_SAMPLE.date()))
            expected: object = _SAMPLE.date()
        elif kind == "time":
            parse_t, render_t = time_codec(fmt)
            back = parse_t(render_t(_SAMPLE.time()))
            expected = _SAMPLE.time()
            if fmt.find("%S") < 0:
                expected = _SAMPLE.time().replace(second=0)
        else:
            parse_dt, render_dt = datetime_codec(fmt)
            back = parse_dt(render_dt(_SAMPLE))
            expected = _SAMPLE if "%S" in fmt else _SAMPLE.replace(second=0)
    except KeyError:
        back = None  # a component the value needs has no place in the format
        expected = kind
    except (BadTemporal, ValueError) as exc:
        raise ValueError(f"format '{fmt}' cannot carry a {kind}: {exc}") from None
    if back != expected:
        missing = ", ".join(_NEEDS[kind])
        raise ValueError(f"format '{fmt}' loses part of a {kind} (it needs {missing})")
