"""Legacy -> JSON -> legacy gives back the original, for one declaration used both ways.

Each property builds one value declaration and compiles it in both directions
(``legacy_to_agent`` and ``agent_to_legacy``): what the agent reads, sent back, must reach
the legacy system exactly as it came.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.mapping.spec import InputField, OutputField
from gateway.mapping.values import agent_to_legacy, legacy_to_agent


def both_ways(declaration: dict[str, Any]) -> tuple[Any, Any]:
    out = legacy_to_agent(OutputField.model_validate(declaration))
    back = agent_to_legacy(InputField.model_validate(declaration))
    return out, back


@settings(max_examples=200)
@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_cents_survive_the_round_trip(cents: int) -> None:
    out, back = both_ways({"scale": -2})
    assert back(out(str(cents))) == cents
    assert back(out(cents)) == cents


@settings(max_examples=200)
@given(
    st.integers(min_value=0, max_value=9999),
    st.sampled_from(
        [("inch", "cm", 2, 1), ("inch", "mm", 1, 1), ("lb", "kg", 3, 1), ("degF", "degC", 2, 1)]
    ),
)
def test_units_survive_the_round_trip(tenths: int, units: tuple[str, str, int, int]) -> None:
    legacy_unit, agent_unit, places, legacy_places = units
    unit = {"from": legacy_unit, "to": agent_unit, "round": places, "legacy_round": legacy_places}
    out, back = both_ways({"unit": unit})
    legacy = Decimal(tenths).scaleb(-1)
    assert back(out(str(legacy))) == legacy


legacy_days = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2899, 12, 31))


@settings(max_examples=200)
@given(legacy_days, st.sampled_from(["%Y%m%d", "%d.%m.%Y", "CYYDDD", "YYYYDDD", "CYYMMDD"]))
def test_dates_survive_the_round_trip(day: dt.date, layout: str) -> None:
    out, back = both_ways({"type": "date", "format": layout})
    legacy = back(day.isoformat())
    assert out(legacy) == day.isoformat()
    assert back(out(legacy)) == legacy


@settings(max_examples=200)
@given(st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2029, 12, 31)))
def test_two_digit_years_survive_inside_their_window(day: dt.date) -> None:
    for layout in ("%y%m%d", "YYDDD"):
        out, back = both_ways({"type": "date", "format": layout, "century_window": 1930})
        legacy = back(day.isoformat())
        assert len(legacy) in (5, 6)
        assert out(legacy) == day.isoformat()


@settings(max_examples=200)
@given(st.times().map(lambda t: t.replace(microsecond=0)))
def test_times_survive_the_round_trip(moment: dt.time) -> None:
    out, back = both_ways({"type": "time", "format": "%H%M%S"})
    legacy = moment.strftime("%H%M%S")
    assert back(out(legacy)) == legacy


@settings(max_examples=200)
@given(
    st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2099, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    ),
    st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"]),
)
def test_host_local_timestamps_survive_the_round_trip(moment: dt.datetime, zone: str) -> None:
    out, back = both_ways({"type": "datetime", "format": "%Y%m%d%H%M%S", "timezone": zone})
    legacy = moment.strftime("%Y%m%d%H%M%S")
    agent = out(legacy)
    # A wall-clock time that a DST change skips or repeats has no single instant; the one
    # the agent was given is the first reading, and it goes back as the same instant.
    assert dt.datetime.fromisoformat(agent).utcoffset() is not None
    assert back(agent) == back(out(back(agent)))
    if not _ambiguous_or_missing(moment, zone):
        assert back(agent) == legacy


def _ambiguous_or_missing(moment: dt.datetime, zone: str) -> bool:
    import zoneinfo

    tz = zoneinfo.ZoneInfo(zone)
    first = moment.replace(tzinfo=tz, fold=0)
    second = moment.replace(tzinfo=tz, fold=1)
    roundtrip = first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
    return first.utcoffset() != second.utcoffset() or roundtrip != moment


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=3),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
        min_size=1,
        max_size=12,
    ).filter(lambda table: len(set(table.values())) == len(table)),
    st.data(),
)
def test_code_tables_survive_the_round_trip(table: dict[str, str], data: st.DataObject) -> None:
    out, back = both_ways({"codes": table})
    code = data.draw(st.sampled_from(sorted(table)))
    assert back(out(code)) == code
    assert out(back(table[code])) == table[code]


@settings(max_examples=100)
@given(
    st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), max_size=10),
    st.sampled_from(["left", "right"]),
)
def test_fixed_width_text_survives_the_round_trip(text: str, align: str) -> None:
    out, back = both_ways({"width": 10, "align": align, "pad": "_" if align == "left" else "."})
    legacy = back(text)
    assert len(legacy) == 10
    assert out(legacy) == text
