"""The copybook codec against Cobrix's published test data (tests/fixtures/cobrix, Apache-2.0).

Cobrix is the open-source COBOL reader of Spark; its test suite decodes copybook/data pairs
to JSON. This codec must read the same values from the same bytes.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.mapping.copybook import parse_copybook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cobrix"
RECORD_LENGTH = 1493
_BLANKS = "".join(map(chr, range(33)))  # Cobrix trims spaces and control characters


def _digits(picture: str) -> int:
    return sum(int(count or 1) for count in re.findall(r"9(?:\((\d+)\))?", picture))


def _as_ibm_accepts(text: str) -> tuple[str, set[str]]:
    """The copybook with the fields IBM COBOL rejects read as bytes of the same length, and
    their names: binary of more than 18 digits (Cobrix sizes them by bits) and S in an
    edited picture (``S9(3).99``)."""
    replaced: set[str] = set()

    def wide_binary(match: re.Match[str]) -> str:
        digits = _digits(match.group(2))
        if digits <= 18:
            return match.group(0)
        replaced.add(match.group(1))
        return f"{match.group(1)} PIC X({math.ceil((digits * math.log2(10) + 1) / 8)})."

    def signed_edited(match: re.Match[str]) -> str:
        replaced.add(match.group(1))
        return f"{match.group(1)} PIC X({_digits(match.group(2)) + 1})."

    text = re.sub(r"([\w-]+)\s+PIC (S?[9V()0-9]+)\s+(?:BINARY|COMP)\.", wide_binary, text)
    text = re.sub(r"([\w-]+)\s+PIC (S9[()0-9]*\.9[()0-9]*)\.", signed_edited, text)
    return text, replaced


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, str):
        return ours.strip(_BLANKS) == (theirs or "")
    if ours is None or theirs is None:
        return ours is theirs
    if isinstance(ours, float):
        return math.isclose(ours, float(theirs), rel_tol=1e-7)
    return bool(Decimal(ours) == Decimal(theirs))


def test_every_numeric_type_decodes_as_cobrix_decodes_it() -> None:
    text, replaced = _as_ibm_accepts((FIXTURES / "test24_copybook.cob").read_text())
    assert len(replaced) == 14  # 10 binary fields beyond 18 digits, 4 signed edited
    layout = parse_copybook(text, "cp037", floats="ieee")  # this data set holds IEEE floats
    assert layout.length == RECORD_LENGTH
    data = (FIXTURES / "test24_data_first20.dat").read_bytes()
    lines = (FIXTURES / "test24_expected.txt").read_text().splitlines()
    compared = 0
    for index, line in enumerate(lines):
        expected = json.loads(line, parse_float=Decimal)
        record = data[index * RECORD_LENGTH : (index + 1) * RECORD_LENGTH]
        decoded = layout.decode(record)
        for key, theirs in expected.items():
            name = key.replace("_", "-")
            if key.endswith("_debug") or name in replaced:
                continue
            ours = decoded[name]
            assert _same(ours, theirs), (index, name, ours, theirs, expected[f"{key}_debug"])
            raw = bytes.fromhex(expected[f"{key}_debug"])
            info = next(i for i in layout.fields if i.path == name)
            assert record[info.offset : info.offset + info.length] == raw, name
            compared += 1
    assert compared == 20 * (195 - 14)


def test_nested_variable_tables_read_back_to_back_as_cobrix_reads_them() -> None:
    layout = parse_copybook((FIXTURES / "test21_copybook.cob").read_text(), "ascii")
    expected = [
        json.loads(line)["RECORD"]
        for line in (FIXTURES / "test21_expected.txt").read_text().splitlines()
    ]
    records = layout.records((FIXTURES / "test21_data.dat").read_bytes())

    def cobrix_names(value: Any) -> Any:
        if isinstance(value, dict):
            return {k.replace("-", "_"): cobrix_names(v) for k, v in value.items()}
        if isinstance(value, list):
            return [cobrix_names(v) for v in value]
        return value

    assert [cobrix_names(r) for r in records] == expected
    assert (
        b"".join(layout.encode(r) for r in records) == (FIXTURES / "test21_data.dat").read_bytes()
    )
