"""Encode then decode is the identity, for every clause the codec supports, in every code
page: random pictures, usages, signs, scales and tables with random values that fit them."""

from __future__ import annotations

import math
import struct
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.mapping.copybook import EBCDIC_PAGES, parse_copybook
from gateway.mapping.copybook.edited import edited_picture

EDITED = [
    "ZZ,ZZ9.99-", "$$$,$$9.99CR", "***,**9.99", "+++9", "----9.99", "ZZZ.ZZ", "-ZZ9",
    "99/99/99", "ZZ9BDB", "9(5).99+", "Z(6)9", "$ZZ9.99", "+9(4).9(3)", "ZZ,ZZZ", "Z.ZZ",
    "--,--9", "**9.9", "000999", "ZZ9V99", "+++,+++.99",
]  # fmt: skip
PAGES = [*EBCDIC_PAGES, "ascii", "latin-1"]


def _number(digits: int, scale: int, signed: bool) -> st.SearchStrategy[Any]:
    top = 10**digits - 1
    whole = st.integers(min_value=-top if signed else 0, max_value=top)
    if scale > 0:
        return whole.map(lambda n: Decimal(f"{n}E-{scale}"))
    if scale < 0:
        return whole.map(lambda n: n * 10**-scale)
    return whole


@st.composite
def clauses(draw: st.DrawFn) -> tuple[str, Any]:
    """(the clauses after the field name, a value that fits them)."""
    kind = draw(st.sampled_from(["text", "zoned", "packed", "binary", "float", "national",
                                 "edited", "scaled"]))  # fmt: skip
    if kind == "text":
        size = draw(st.integers(1, 20))
        text = draw(st.text(st.characters(codec="ascii", min_codepoint=32), max_size=size))
        return f"PIC X({size})", text.ljust(size)
    if kind == "national":
        size = draw(st.integers(1, 10))
        text = draw(st.text(st.characters(exclude_categories=["Cs"], max_codepoint=0xFFFF),
                            max_size=size))  # fmt: skip
        return f"PIC N({size})", text.ljust(size)
    if kind == "float":
        if draw(st.booleans()):
            value = draw(st.floats(min_value=-1e70, max_value=1e70, allow_nan=False))
            return "COMP-2", value if abs(value) > 1e-70 else 0.0
        # a COMP-1 holds 24 bits: draw one that does
        fraction = draw(st.integers(0x100000, 0xFFFFFF))
        power = draw(st.integers(-60, 60))
        sign = draw(st.sampled_from([-1, 1]))
        return "COMP-1", sign * math.ldexp(fraction, 4 * power - 24)
    if kind == "edited":
        picture = draw(st.sampled_from(EDITED))
        edit = edited_picture(picture, False, 0)
        return f"PIC {picture}", draw(_number(edit.digits, edit.scale, edit.signed))
    if kind == "scaled":
        digits, ps = draw(st.integers(1, 9)), draw(st.integers(1, 4))
        if draw(st.booleans()):
            return f"PIC S9({digits})P({ps})", draw(_number(digits, -ps, True))
        return f"PIC SP({ps})9({digits}) COMP-3", draw(_number(digits, ps + digits, True))
    top = 18 if kind == "binary" else 38
    digits = draw(st.integers(1, top))
    scale = draw(st.integers(0, digits))
    signed = draw(st.booleans())
    whole = digits - scale
    picture = ("S" if signed else "") + (f"9({whole})" if whole else "")
    picture += f"V9({scale})" if scale else ""
    usage = {
        "zoned": "",
        "packed": " COMP-3",
        "binary": draw(st.sampled_from([" COMP", " COMP-5"])),
    }[kind]
    sign = ""
    if kind == "zoned" and signed:
        sign = draw(st.sampled_from(["", " SIGN LEADING", " SIGN LEADING SEPARATE",
                                     " SIGN TRAILING SEPARATE"]))  # fmt: skip
    sync = " SYNC" if kind == "binary" and draw(st.booleans()) else ""
    return f"PIC {picture}{usage}{sign}{sync}", draw(_number(digits, scale, signed))


@settings(max_examples=400, deadline=None)
@given(st.lists(clauses(), min_size=1, max_size=6), st.sampled_from(PAGES), st.data())
def test_every_clause_survives_encode_then_decode(
    fields: list[tuple[str, Any]], page: str, data: st.DataObject
) -> None:
    lines = ["01 R.", " 05 LEAD PIC X."]  # one byte first, so that SYNC has slack to add
    values: dict[str, Any] = {"LEAD": "A"}
    for index, (clause, value) in enumerate(fields):
        if data.draw(st.booleans(), label=f"repeat {index}"):
            times = data.draw(st.integers(1, 3), label="times")
            lines.append(f" 05 G{index} OCCURS {times} TIMES.\n  10 F{index} {clause}.")
            values[f"G{index}"] = [{f"F{index}": value}] * times
        else:
            lines.append(f" 05 F{index} {clause}.")
            values[f"F{index}"] = value
    layout = parse_copybook("\n".join(lines), page)
    record = layout.encode(values)
    assert len(record) == layout.length
    assert layout.decode(record) == values


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.text("ABC", min_size=2, max_size=2), max_size=3), min_size=1, max_size=4),
    st.sampled_from(["cp037", "ascii"]),
)
def test_nested_variable_tables_survive_encode_then_decode(
    tables: list[list[str]], page: str
) -> None:
    layout = parse_copybook(
        """
        01 R.
           05 N PIC 9.
           05 OUTER OCCURS 1 TO 4 TIMES DEPENDING ON N.
              10 M PIC S9(3) COMP-3.
              10 INNER PIC X(2) OCCURS 0 TO 3 DEPENDING ON M.
           05 TAIL PIC X(3).
        """,
        page,
    )
    values = {"N": len(tables), "OUTER": [{"M": len(t), "INNER": t} for t in tables], "TAIL": "END"}
    record = layout.encode(values)
    assert len(record) == 1 + sum(2 + 2 * len(t) for t in tables) + 3
    assert layout.decode(record) == values


@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_ieee_single_floats_survive_encode_then_decode(value: float) -> None:
    layout = parse_copybook("01 R.\n 05 F FLOAT-SHORT.", "cp037")
    assert layout.decode(layout.encode({"F": value})) == {"F": value}
    assert layout.encode({"F": value}) == struct.pack(">f", value)


@settings(max_examples=300, deadline=None)
@given(st.lists(clauses(), min_size=1, max_size=5), st.sampled_from(PAGES), st.data())
def test_the_generated_decoder_never_disagrees_with_the_field_by_field_one(
    fields: list[tuple[str, Any]], page: str, data: st.DataObject
) -> None:
    lines = ["01 R."]
    values: dict[str, Any] = {}
    for index, (clause, value) in enumerate(fields):
        lines.append(f" 05 G{index} OCCURS 2.\n  10 F{index} {clause}.")
        values[f"G{index}"] = [{f"F{index}": value}] * 2
    lines.append(f" 05 V REDEFINES G0 PIC X({1}).")
    layout = parse_copybook("\n".join(lines), page)
    record = bytearray(layout.encode(values))
    for _ in range(data.draw(st.integers(0, 3), label="changed bytes")):
        at = data.draw(st.integers(0, len(record) - 1), label="at")
        record[at] = data.draw(st.sampled_from([0x00, 0x40, 0x20, 0xC1, 0xD3, 0x1F, 0xFF, 0x5B]))
    fast = layout._fast
    assert fast is not None
    try:
        generated = fast(bytes(record))
    except Exception:
        return  # the record goes to the field-by-field decoder, which is the reference
    assert generated == layout._decode(bytes(record), 0)
