"""Variable-length records as z/OS writes them (RECFM=V and VB): each record behind a
4-byte record descriptor word (RDW: length including itself, big-endian, then two zero
bytes), and with VB, records grouped in blocks behind a block descriptor word (BDW: the
block's length including itself; with the top bit set, a 31-bit extended length).

Files that left the host another way carry other words, and ``DescriptorWords`` names
them: lengths that leave out the word's own 4 bytes (GnuCOBOL writes RDWs so), and
little-endian lengths (written by PC transfer tools; Cobrix's ``is_rdw_big_endian`` and
``is_bdw_big_endian`` false, its default for BDWs). A little-endian word holds its length
in bytes 0-1 or 2-3 with the other two zero; both are read, as Cobrix reads them, and an
RDW is written in bytes 0-1, a BDW in bytes 2-3."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gateway.mapping.copybook.errors import RecordError, hex_of


@dataclass(frozen=True)
class DescriptorWords:
    """How the RDWs and BDWs of a file hold their lengths."""

    rdw_counts_header: bool = True
    rdw_little_endian: bool = False
    bdw_counts_header: bool = True
    bdw_little_endian: bool = False


IBM = DescriptorWords()


def _little_length(name: str, header: bytes, at: int) -> int:
    """The length in a little-endian word: bytes 0-1, or 2-3 when 0-1 are zero."""
    low, high = header[:2], header[2:]
    if low == b"\x00\x00" and high != b"\x00\x00":
        return int.from_bytes(high, "little")
    if high != b"\x00\x00":
        raise RecordError(
            f"the little-endian {name} at byte {at} has non-zero bytes in both halves",
            "",
            hex_of(header),
        )
    return int.from_bytes(low, "little")


def _header(word: str, data: bytes, at: int) -> bytes:
    """The 4 bytes of ``word`` ("an RDW", "a BDW") at ``at``."""
    header = data[at : at + 4]
    if len(header) < 4:
        raise RecordError(f"{len(header)} bytes at {at} are too few for {word}", "", hex_of(header))
    return header


def _rdw_length(header: bytes, at: int, words: DescriptorWords) -> int:
    """The bytes an RDW declares, including its own 4 whether it counts them or not."""
    if words.rdw_little_endian:
        length = _little_length("RDW", header, at)
    else:
        if header[2:] != b"\x00\x00":
            raise RecordError(
                f"the RDW at byte {at} has non-zero reserved bytes {hex_of(header[2:])}",
                "",
                hex_of(header),
            )
        length = int.from_bytes(header[:2], "big")
    return length if words.rdw_counts_header else length + 4


def _bdw_length(header: bytes, at: int, words: DescriptorWords) -> int:
    """The bytes a BDW declares, including its own 4 whether it counts them or not."""
    if words.bdw_little_endian:
        length = _little_length("BDW", header, at)
    elif header[0] & 0x80:
        length = int.from_bytes(header, "big") & 0x7FFFFFFF
    else:
        if header[2:] != b"\x00\x00":
            raise RecordError(
                f"the BDW at byte {at} has non-zero reserved bytes {hex_of(header[2:])}",
                "",
                hex_of(header),
            )
        length = int.from_bytes(header[:2], "big")
    return length if words.bdw_counts_header else length + 4


def _declared(counts_header: bool, length: int) -> int:
    """A length as its word states it."""
    return length if counts_header else length - 4


def split_rdw(
    data: bytes, start: int = 0, end: int | None = None, words: DescriptorWords = IBM
) -> Iterator[bytes]:
    """The records of ``data[start:end]``, each behind its RDW."""
    stop = len(data) if end is None else end
    at = start
    while at < stop:
        header = _header("an RDW", data, at)
        length = _rdw_length(header, at, words)
        if length < 4 or at + length > stop:
            raise RecordError(
                f"the RDW at byte {at} declares "
                f"{_declared(words.rdw_counts_header, length)} bytes ({stop - at} left)",
                "",
                hex_of(header),
            )
        yield data[at + 4 : at + length]
        at += length


def split_bdw(data: bytes, words: DescriptorWords = IBM) -> Iterator[bytes]:
    """The records of blocks, each block behind its BDW and each record behind its RDW."""
    at = 0
    while at < len(data):
        header = _header("a BDW", data, at)
        length = _bdw_length(header, at, words)
        if length < 4 or at + length > len(data):
            raise RecordError(
                f"the BDW at byte {at} declares "
                f"{_declared(words.bdw_counts_header, length)} bytes ({len(data) - at} left)",
                "",
                hex_of(header),
            )
        yield from split_rdw(data, at + 4, at + length, words)
        at += length


def with_rdw(record: bytes, words: DescriptorWords = IBM) -> bytes:
    """The record behind its RDW."""
    if len(record) + 4 > 0xFFFF:
        raise RecordError(f"a record of {len(record)} bytes is too long for an RDW")
    length = len(record) + (4 if words.rdw_counts_header else 0)
    if words.rdw_little_endian:
        return length.to_bytes(2, "little") + b"\x00\x00" + record
    return length.to_bytes(2, "big") + b"\x00\x00" + record


def with_bdw(records: list[bytes], words: DescriptorWords = IBM) -> bytes:
    """One block of records, each behind its RDW, behind the block's BDW."""
    body = b"".join(with_rdw(record, words) for record in records)
    length = len(body) + (4 if words.bdw_counts_header else 0)
    if words.bdw_little_endian:
        if length > 0xFFFF:
            raise RecordError(f"a block of {len(body)} bytes is too long for a BDW")
        return b"\x00\x00" + length.to_bytes(2, "little") + body
    if length > 0x7FFF:
        return (length | 0x80000000).to_bytes(4, "big") + body
    return length.to_bytes(2, "big") + b"\x00\x00" + body


def framed(
    records: list[bytes], framing: str, block_size: int = 32760, words: DescriptorWords = IBM
) -> bytes:
    """Records behind RDWs (``rdw``), or in blocks of at most ``block_size`` bytes behind
    BDWs too (``bdw+rdw``; 32,760 is z/OS's largest block on DASD)."""
    if framing == "rdw":
        return b"".join(with_rdw(record, words) for record in records)
    blocks: list[list[bytes]] = [[]]
    used = 4
    for record in records:
        if blocks[-1] and used + len(record) + 4 > block_size:
            blocks.append([])
            used = 4
        blocks[-1].append(record)
        used += len(record) + 4
    return b"".join(with_bdw(block, words) for block in blocks if block)


def unframed(data: bytes, framing: str, words: DescriptorWords = IBM) -> Iterator[bytes]:
    """The records of ``data`` framed by ``rdw`` or ``bdw+rdw``."""
    if framing == "rdw":
        return split_rdw(data, words=words)
    return split_bdw(data, words)
