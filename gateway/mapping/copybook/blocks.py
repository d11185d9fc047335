"""Variable-length records as z/OS writes them (RECFM=V and VB): each record behind a
4-byte record descriptor word (RDW: length including itself, big-endian, then two zero
bytes), and with VB, records grouped in blocks behind a block descriptor word (BDW: the
block's length including itself; with the top bit set, a 31-bit extended length)."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.mapping.copybook.errors import RecordError, hex_of


def split_rdw(data: bytes, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The records of ``data[start:end]``, each behind its RDW."""
    stop = len(data) if end is None else end
    at = start
    while at < stop:
        header = data[at : at + 4]
        if len(header) < 4:
            raise RecordError(
                f"{len(header)} bytes at {at} are too few for an RDW", "", hex_of(header)
            )
        length = int.from_bytes(header[:2], "big")
        if header[2:] != b"\x00\x00" or length < 4 or at + length > stop:
            raise RecordError(
                f"the RDW at byte {at} declares {length} bytes ({stop - at} left)",
                "",
                hex_of(header),
            )
        yield data[at + 4 : at + length]
        at += length


def split_bdw(data: bytes) -> Iterator[bytes]:
    """The records of blocks, each block behind its BDW and each record behind its RDW."""
    at = 0
    while at < len(data):
        header = data[at : at + 4]
        if len(header) < 4:
            raise RecordError(
                f"{len(header)} bytes at {at} are too few for a BDW", "", hex_of(header)
            )
        if header[0] & 0x80:
            length = int.from_bytes(header, "big") & 0x7FFFFFFF
        else:
            length = int.from_bytes(header[:2], "big")
            if header[2:] != b"\x00\x00":
                raise RecordError(f"the BDW at byte {at} is malformed", "", hex_of(header))
        if length < 4 or at + length > len(data):
            raise RecordError(
                f"the BDW at byte {at} declares {length} bytes ({len(data) - at} left)",
                "",
                hex_of(header),
            )
        yield from split_rdw(data, at + 4, at + length)
        at += length


def with_rdw(record: bytes) -> bytes:
    """The record behind its RDW."""
    if len(record) + 4 > 0xFFFF:
        raise RecordError(f"a record of {len(record)} bytes is too long for an RDW")
    return (len(record) + 4).to_bytes(2, "big") + b"\x00\x00" + record


def with_bdw(records: list[bytes]) -> bytes:
    """One block of records, each behind its RDW, behind the block's BDW."""
    body = b"".join(with_rdw(record) for record in records)
    if len(body) + 4 > 0x7FFF:
        return ((len(body) + 4) | 0x80000000).to_bytes(4, "big") + body
    return (len(body) + 4).to_bytes(2, "big") + b"\x00\x00" + body
