"""The tailoring-measurements record: a 54-byte EBCDIC (code page 037) mainframe record.

Its layout is the copybook ``mappings/demo/copybooks/measurements.cpy``; the customer master
sends it base64-encoded in ``MEASURE_REC``. This encoder is written from the layout by hand,
with the standard library only, so that it is an independent check of the gateway's own
copybook decoder rather than a copy of it::

    MEAS-CUSTNO     PIC 9(8)             8 zoned digits, bytes F0-F9
    MEAS-TAKEN-JUL  PIC 9(6)             Julian date CYYDDD (C: 0 = 19xx, 1 = 20xx)
    MEAS-FIT-CD     PIC X(1)             S slim, R regular, C comfort
    MEAS-SIZES      4 x PIC S9(3)V9 COMP-3   chest, waist, inseam, sleeve in inches
    MEAS-ALTER-CNT  PIC S9(4) COMP       2-byte big-endian signed
    MEAS-NOTE       PIC X(20)            text, padded with EBCDIC spaces (0x40)
    FILLER          PIC X(5)             spaces
"""

from __future__ import annotations

import base64
import datetime as dt
import struct
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

RECORD_LENGTH: Final = 54
CODE_PAGE: Final = "cp037"


@dataclass(frozen=True, slots=True)
class Measurements:
    custno: str
    taken: dt.date
    fit: str
    chest: Decimal
    waist: Decimal
    inseam: Decimal
    sleeve: Decimal
    alterations: int
    note: str


def julian(day: dt.date) -> str:
    """CYYDDD: 2024-06-11 is 124163."""
    century = (day.year - 1900) // 100
    return f"{century}{day.year % 100:02d}{day.timetuple().tm_yday:03d}"


def packed(value: Decimal) -> bytes:
    """PIC S9(3)V9 COMP-3: four digits and a sign nibble in three bytes."""
    tenths = int(value * 10)
    nibbles = f"{abs(tenths):04d}" + ("D" if tenths < 0 else "C")
    return bytes.fromhex("0" + nibbles) if len(nibbles) % 2 else bytes.fromhex(nibbles)


def _text(value: str, width: int) -> bytes:
    if len(value) > width:
        raise ValueError(f"{value!r} is longer than {width}")
    return value.ljust(width).encode(CODE_PAGE)


def encode_record(m: Measurements) -> bytes:
    record = b"".join(
        [
            _text(m.custno.zfill(8), 8),
            _text(julian(m.taken), 6),
            _text(m.fit, 1),
            packed(m.chest),
            packed(m.waist),
            packed(m.inseam),
            packed(m.sleeve),
            struct.pack(">h", m.alterations),
            _text(m.note, 20),
            _text("", 5),
        ]
    )
    assert len(record) == RECORD_LENGTH
    return record


def to_base64(m: Measurements) -> str:
    return base64.b64encode(encode_record(m)).decode("ascii")
