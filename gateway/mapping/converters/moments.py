"""Dates, times and datetimes: legacy layouts (strftime, Julian, century digits) <-> ISO 8601."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from gateway.mapping.converters.common import Converter, Unmappable
from gateway.mapping.limits import (
    DATE_PATTERN,
    LOCAL_DATETIME_PATTERN,
    OFFSET_DATETIME_PATTERN,
    TIME_PATTERN,
)
from gateway.mapping.spec import ValueSpec
from gateway.mapping.temporal import (
    BadTemporal,
    compile_layout,
    date_codec,
    datetime_codec,
    iso_date_slicer,
    iso_datetime_slicer,
    time_codec,
)

T = TypeVar("T")

# Legacy "no date" spellings beyond blanks: zeros.
NULL_DATES = frozenset({"0", "00000000", "000000", "0000000", "00000", "0000-00-00"})
# The published patterns, as Python sees them: the same language for these ASCII classes.
_ISO_DATE = re.compile(DATE_PATTERN[1:-1], re.ASCII)
_ISO_TIME = re.compile(TIME_PATTERN[1:-1], re.ASCII)
_LOCAL_DATETIME = re.compile(LOCAL_DATETIME_PATTERN[1:-1], re.ASCII)
_OFFSET_DATETIME = re.compile(OFFSET_DATETIME_PATTERN[1:-1], re.ASCII)


def _layout_width(fmt: str | None) -> int:
    layout = compile_layout(fmt, 1950) if fmt else None
    return layout.length if layout is not None else 0


def _digits(raw: Any, width: int) -> str:
    """Legacy text of a date or time; a number (a PIC 9 field, a numeric column) has lost
    its leading zeros, which the layout's width gives back: 95001 in CYYDDD is 095001."""
    if width and isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        return str(raw).zfill(width)
    return str(raw)


def _parsed(parse: Callable[[str], T], raw: Any, width: int, what: str, expected: str) -> T:
    try:
        return parse(_digits(raw, width))
    except BadTemporal as exc:
        raise Unmappable(f"not a {what} in format {expected}: {exc}") from None


def _rendered(render: Callable[[T], Any], value: T) -> Any:
    try:
        return render(value)
    except BadTemporal as exc:
        raise Unmappable(str(exc)) from None


# ---------------------------------------------------------------- legacy -> agent


def date_to_agent(spec: ValueSpec) -> Converter:
    parse, _ = date_codec(spec.format, spec.century_window)
    expected = spec.format or "YYYY-MM-DD"
    quick = iso_date_slicer(spec.format) if spec.format else None
    width = _layout_width(spec.format)

    def convert(raw: Any) -> Any:
        if quick is not None and raw.__class__ is str:
            iso = quick(raw)
            if iso is not None:
                return iso
        if isinstance(raw, dt.datetime):
            return raw.date().isoformat()
        if isinstance(raw, dt.date):
            return raw.isoformat()
        return _parsed(parse, raw, width, "date", expected).isoformat()

    return convert


def time_to_agent(spec: ValueSpec) -> Converter:
    parse, _ = time_codec(spec.format)
    expected = spec.format or "HH:MM:SS"
    width = _layout_width(spec.format) or 6

    def convert(raw: Any) -> Any:
        if isinstance(raw, dt.time):
            return raw.isoformat()
        return _parsed(parse, raw, width, "time", expected).isoformat()

    return convert


def datetime_to_agent(spec: ValueSpec) -> Converter:
    parse, _ = datetime_codec(spec.format, spec.century_window)
    zone = zoneinfo.ZoneInfo(spec.timezone) if spec.timezone else None
    expected = spec.format or "ISO 8601"
    width = _layout_width(spec.format)
    quick = iso_datetime_slicer(spec.format, zone) if spec.format else None

    def convert(raw: Any) -> Any:
        if quick is not None and raw.__class__ is str:
            iso = quick(raw)
            if iso is not None:
                return iso
        if isinstance(raw, dt.datetime):
            value = raw
        else:
            value = _parsed(parse, raw, width, "datetime", expected)
        if zone is not None and value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return value.isoformat()

    return convert


# ---------------------------------------------------------------- agent -> legacy


def _agent_iso(value: Any, shape: re.Pattern[str], parse: Callable[[str], T], expected: str) -> T:
    """The agent's ISO 8601 text, in exactly the published shape, parsed."""
    if not isinstance(value, str) or not shape.fullmatch(value):
        raise Unmappable(expected)
    try:
        return parse(value)
    except ValueError:
        raise Unmappable(expected) from None


def date_to_legacy(spec: ValueSpec) -> Converter:
    _, render = date_codec(spec.format, spec.century_window)
    custom = spec.format is not None

    def convert(value: Any) -> Any:
        day = _agent_iso(value, _ISO_DATE, dt.date.fromisoformat, "expected a date as YYYY-MM-DD")
        return _rendered(render, day) if custom else day

    return convert


def time_to_legacy(spec: ValueSpec) -> Converter:
    _, render = time_codec(spec.format)

    def convert(value: Any) -> Any:
        moment = _agent_iso(value, _ISO_TIME, dt.time.fromisoformat, "expected a time as HH:MM:SS")
        if moment.tzinfo is not None:
            raise Unmappable("send a local time of the legacy host, without a UTC offset")
        return _rendered(render, moment)

    return convert


def datetime_to_legacy(spec: ValueSpec) -> Converter:
    _, render = datetime_codec(spec.format, spec.century_window)
    zone = zoneinfo.ZoneInfo(spec.timezone) if spec.timezone else None

    shape = _OFFSET_DATETIME if zone is not None else _LOCAL_DATETIME

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            raise Unmappable("expected a datetime as ISO 8601")
        if not shape.fullmatch(value):
            if zone is not None:
                raise Unmappable(
                    "expected a datetime with a UTC offset, e.g. 2024-06-11T14:30:05+02:00"
                )
            raise Unmappable("expected the legacy host's local time, e.g. 2024-06-11T14:30:05")
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise Unmappable("expected a datetime as ISO 8601") from None
        if zone is not None:
            if moment.tzinfo is None:
                raise Unmappable("needs a UTC offset, e.g. 2024-06-11T14:30:05+02:00")
            moment = moment.astimezone(zone).replace(tzinfo=None)
        elif moment.tzinfo is not None:
            raise Unmappable(
                "send the legacy host's local time without a UTC offset "
                "(the legacy timezone is not declared)"
            )
        return _rendered(render, moment)

    return convert
