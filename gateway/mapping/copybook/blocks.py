"""Variable-length records as z/OS writes them (RECFM=V and VB): each record behind a
4-byte record descriptor word (RDW: length including itself, big-endian, then two zero
bytes), and with VB, records grouped in blocks behind a block descriptor word (BDW: the
block's length including itself; with the top bit set, a 31-bit extended length)."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.mapping.copybook.errors import RecordError, hex_of


def split_rdw(
    data: bytes, start: int = 0, end: int | None = None, counts_header: bool = True
) -> Iterator[bytes]:
    """The records of ``data[start:end]``, each behind its RDW. ``counts_header`` False reads
    RDWs that hold only the data's length (GnuCOBOL's default; Cobrix's
    ``is_rdw_part_of_record_length=false``) rather than IBM's length including the RDW."""
    extra = 0 if counts_header else 4
    stop = len(data) if end is None else end
    at = start
    while at < stop:
        header = data[at : at + 4]
        if len(header) < 4:
            raise RecordError(
                f"{len(header)} bytes at {at} are too few for an RDW", "", hex_of(header)
            )
        length = int.from_bytes(header[:2], "big") + extra
        if header[2:] != b"\x00\x00":
            raise RecordError(
                f"the RDW at byte {at} has non-zero reserved bytes {hex_of(header[2:])}",
                "",
                hex_of(header),
            )
        if length < 4 or at + length > stop:
            raise RecordError(
                f"the RDW at byte {at} declares {length - extra} bytes ({stop - at} left)",
                "",
                hex_of(header),
            )
        yield data[at + 4 : at + length]
        at += length


def split_bdw(data: bytes, counts_header: bool = True) -> Iterator[bytes]:
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
                raise RecordError(
                    f"the BDW at byte {at} has non-zero reserved bytes {hex_of(header[2:])}",
                    "",
                    hex_of(header),
                )
        if length < 4 or at + length > len(data):
            raise RecordError(
                f"the BDW at byte {at} declares {length} bytes ({len(data) - at} left)",
                "",
                hex_of(header),
            )
        yield from split_rdw(data, at + 4, at + length, counts_header)
        at += length


def with_rdw(record: bytes, counts_header: bool = True) -> bytes:
    """The record behind its RDW."""
    if len(record) + 4 > 0xFFFF:
        raise RecordError(f"a record of {len(record)} bytes is too long for an RDW")
    length = len(record) + (4 if counts_header else 0)
    return length.to_bytes(2, "big") + b"\x00\x00" + record


def framed(
    records: list[bytes], framing: str, block_size: int = 32760, counts_header: bool = True
) -> bytes:
    """Records behind RDWs (``rdw``), or in blocks of at most ``block_size`` bytes behind
    BDWs too (``bdw+rdw``; 32,760 is z/OS's largest block on DASD)."""
    if framing == "rdw":
        return b"".join(with_rdw(record, counts_header) for record in records)
    blocks: list[list[bytes]] = [[]]
    used = 4
    for record in records:
        if blocks[-1] and used + len(record) + 4 > block_size:
            blocks.append([])
            used = 4
        blocks[-1].append(record)
        used += len(record) + 4
    return b"".join(with_bdw(block, counts_header) for block in blocks if block)


def unframed(data: bytes, framing: str, counts_header: bool = True) -> Iterator[bytes]:
    """The records of ``data`` framed by ``rdw`` or ``bdw+rdw``."""
    if framing == "rdw":
        return split_rdw(data, counts_header=counts_header)
    return split_bdw(data, counts_header)


def with_bdw(records: list[bytes], counts_header: bool = True) -> bytes:
    """One block of records, each behind its RDW, behind the block's BDW."""
    body = b"".join(with_rdw(record, counts_header) for record in records)
    if len(body) + 4 > 0x7FFF:
        return ((len(body) + 4) | 0x80000000).to_bytes(4, "big") + body
    return (len(body) + 4).to_bytes(2, "big") + b"\x00\x00" + body
