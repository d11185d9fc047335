"""The copybook codec against GnuCOBOL with IBM rules, on random copybooks and records.

Each run generates records of random fields (text; zoned, packed and binary numbers of up to
38 digits with scales, signs leading, trailing and separate, SYNC; numeric-edited pictures;
P scaling; repeated groups), has GnuCOBOL lay them out, encode values (MOVE) and decode
bytes, and checks that this codec agrees on every offset, length, byte and value.
``COPYBOOK_DIFF_PROGRAMS`` runs more programs (default 6, each of 8 records).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from gateway.mapping.copybook import RecordLayout, parse_copybook
from tests.differential.cobol import (
    Record,
    program,
    random_record,
    random_value,
    references,
    run,
)

PROGRAMS = int(os.environ.get("COPYBOOK_DIFF_PROGRAMS", "6"))
RECORDS_PER_PROGRAM = 8
CASES = 3


def _values(record: Record, flat: dict[str, Any]) -> dict[str, Any]:
    """Values keyed as the codec takes them: fields of a repeated group in a list of dicts."""
    values: dict[str, Any] = {}
    for item in record.fields:
        refs = references(record, item)
        if item.group is None:
            values[item.name] = flat[refs[0]]
            continue
        rows = values.setdefault(item.group, [{} for _ in range(item.occurs or 0)])
        for index, ref in enumerate(refs):
            rows[index][item.name] = flat[ref]
    return values


def _lookup(decoded: dict[str, Any], record: Record, ref: str) -> Any:
    name, _, index = ref.partition("(")
    item = next(f for f in record.fields if f.name == name)
    if item.group is None:
        return decoded[name]
    return decoded[item.group][int(index.rstrip(")")) - 1][name]


def _respelled(rng: random.Random, layout: RecordLayout, data: bytes) -> bytes:
    """Other valid spellings of the same values: each packed plus sign as A, C, E or F."""
    raw = bytearray(data)
    for info in layout.fields:
        if info.usage != "comp-3" or "." in info.path:
            continue
        at = info.offset + info.length - 1
        if raw[at] & 0x0F == 0xC:  # (GnuCOBOL reads B as plus; IBM and this codec as minus)
            raw[at] = (raw[at] & 0xF0) | int(rng.choice("ACEF"), 16)
    return bytes(raw)


@dataclass
class Case:
    record: Record
    layout: RecordLayout
    encode: list[dict[str, Any]] = field(default_factory=list)  # values by COBOL reference
    decode: list[bytes] = field(default_factory=list)
    decoded: list[dict[str, Any]] = field(default_factory=list)  # this codec's reading


def _cases(rng: random.Random, record: Record) -> Case:
    case = Case(record, parse_copybook(record.copybook, "ascii"))
    refs = [(item, ref) for item in record.fields for ref in references(record, item)]
    for _ in range(CASES):
        case.encode.append({ref: random_value(rng, item) for item, ref in refs})
        flat = {ref: random_value(rng, item) for item, ref in refs}
        data = _respelled(rng, case.layout, case.layout.encode(_values(record, flat)))
        case.decode.append(data)
        case.decoded.append(case.layout.decode(data))
    return case


def _check_layout(case: Case, name: str, offset: str, length: str) -> None:
    item = next(f for f in case.record.fields if f.name == name)
    path = f"{item.group}.{name}" if item.group else name
    info = next(i for i in case.layout.fields if i.path == path)
    assert (info.offset, info.length) == (int(offset), int(length)), case.record.copybook


def _check_encoding(case: Case, number: int, dump: str) -> None:
    cobol = bytes(int(b) for b in dump.split())
    ours = case.layout.encode(_values(case.record, case.encode[number]))
    assert ours == cobol, (case.record.copybook, case.encode[number])


def _check_decoding(case: Case, number: int, ref: str, shown: str) -> None:
    item = next(f for f in case.record.fields if f.name == ref.partition("(")[0])
    ours = _lookup(case.decoded[number], case.record, ref)
    if shown.startswith("["):
        assert ours == shown[1:-1], (ref, case.record.copybook)
    elif "DB" not in (item.picture or ""):  # GnuCOBOL's de-editing MOVE ignores DB
        assert ours is not None, ref
        assert Decimal(ours) == Decimal(shown), (ref, ours, shown, case.record.copybook)


@pytest.mark.parametrize("seed", range(PROGRAMS))
def test_layouts_encodings_and_decodings_agree_with_gnucobol(seed: int) -> None:
    rng = random.Random(seed)
    cases = [_cases(rng, random_record(rng, index)) for index in range(RECORDS_PER_PROGRAM)]
    source = program(
        [c.record for c in cases], [c.encode for c in cases], [c.decode for c in cases]
    )
    by_name = {case.record.name: case for case in cases}
    seen = {"L": 0, "T": 0, "E": 0, "D": 0}
    for line in run(source):
        kind, name, rest = [*line.split(" ", 2), ""][:3]
        if kind == "L":
            record_name = name.rsplit("-", 1)[0]
            _check_layout(by_name[record_name], name, *rest.split())
        elif kind == "T":
            assert by_name[name].layout.length == int(rest), by_name[name].record.copybook
        elif kind == "E":
            number, _, dump = rest.partition(" ")
            _check_encoding(by_name[name], int(number), dump)
        elif kind == "D":
            number, ref, shown = rest.split(" ", 2)
            _check_decoding(by_name[name], int(number), ref, shown)
        seen[kind] = seen.get(kind, 0) + 1
    references_count = sum(
        len(references(c.record, item)) for c in cases for item in c.record.fields
    )
    fields = sum(len(c.record.fields) for c in cases)
    assert seen == {
        "L": fields,
        "T": RECORDS_PER_PROGRAM,
        "E": RECORDS_PER_PROGRAM * CASES,
        "D": references_count * CASES,
    }
