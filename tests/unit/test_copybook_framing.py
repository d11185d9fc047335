"""Variable-length records behind RDW and BDW headers, declared as ``framing`` in a mapping:
an answer holding many framed records maps to a list, a list of arguments encodes to one
framed value, and a bad header is an error naming its byte offset."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.errors import InvalidArguments, MappingFailed
from gateway.mapping.copybook import DescriptorWords, RecordError, framed, unframed
from gateway.mapping.records import InputMapper, OutputMapper
from gateway.mapping.spec import InputField, OutputSpec

COPYBOOK = """\
       01  LINE-REC.
           05  LINE-NO      PIC 9(3).
           05  LINE-AMOUNT  PIC S9(5)V99 COMP-3.
           05  LINE-COUNT   PIC 9(2).
           05  LINE-SKU     OCCURS 0 TO 5 TIMES
                            DEPENDING ON LINE-COUNT PIC X(4).
"""
FIELDS = {
    "number": {"from": "LINE-NO", "type": "integer"},
    "amount": {"from": "LINE-AMOUNT", "type": "decimal"},
    "skus": {"from": "LINE-SKU", "list": True, "trim": True},
}


def _record(framing: str, **extra: Any) -> dict[str, Any]:
    return {"copybook": COPYBOOK, "transport": "binary", "framing": framing, **extra}


def _line(number: int, amount: str, skus: list[str]) -> bytes:
    digits = f"{abs(Decimal(amount)) * 100:07.0f}"
    sign = "D" if amount.startswith("-") else "C"
    packed = bytes.fromhex(digits + sign)
    text = f"{number:03d}".encode("cp037") + packed + f"{len(skus):02d}".encode("cp037")
    return text + "".join(f"{s:<4}" for s in skus).encode("cp037")


LINES = [_line(1, "12.50", ["AB", "CDEF"]), _line(2, "-0.07", []), _line(3, "999.99", ["X"])]
EXPECTED = [
    {"number": 1, "amount": 12.5, "skus": ["AB", "CDEF"]},
    {"number": 2, "amount": -0.07, "skus": []},
    {"number": 3, "amount": 999.99, "skus": ["X"]},
]


def _output(framing: str, **extra: Any) -> OutputMapper:
    return OutputMapper(
        OutputSpec.model_validate(
            {"list": True, "record": _record(framing, **extra), "fields": FIELDS}
        )
    )


def test_an_answer_of_rdw_framed_records_maps_to_a_list() -> None:
    data = b"".join((len(line) + 4).to_bytes(2, "big") + b"\0\0" + line for line in LINES)
    assert _output("rdw")(data) == {"items": EXPECTED}


def test_blocks_of_records_behind_bdws_map_to_one_list() -> None:
    # Two blocks: the first with two records, the second with one (as z/OS writes RECFM=VB).
    def block(lines: list[bytes]) -> bytes:
        body = b"".join((len(x) + 4).to_bytes(2, "big") + b"\0\0" + x for x in lines)
        return (len(body) + 4).to_bytes(2, "big") + b"\0\0" + body

    data = block(LINES[:2]) + block(LINES[2:])
    assert _output("bdw+rdw")(data) == {"items": EXPECTED}


def test_rdws_that_hold_only_the_data_length_are_read_when_declared() -> None:
    data = b"".join(len(line).to_bytes(2, "big") + b"\0\0" + line for line in LINES)
    assert _output("rdw", rdw_counts_header=False)(data) == {"items": EXPECTED}


SHORT = bytes.fromhex("000d0000") + LINES[1]  # a 9-byte record behind its 13-byte RDW


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (SHORT + bytes.fromhex("00400000"), "the RDW at byte 13 declares 64 bytes \\(4 left\\)"),
        (SHORT + bytes.fromhex("000d0001"), "the RDW at byte 13 has non-zero reserved bytes 0001"),
        (SHORT + b"\0\0", "2 bytes at 13 are too few for an RDW"),
        (bytes.fromhex("00020000"), "the RDW at byte 0 declares 2 bytes"),
    ],
)
def test_a_bad_rdw_is_an_error_naming_its_offset(data: bytes, message: str) -> None:
    with pytest.raises(MappingFailed, match=message):
        _output("rdw")(data)


def test_a_bad_bdw_is_an_error_naming_its_offset() -> None:
    block = bytes.fromhex("00110000") + SHORT
    with pytest.raises(MappingFailed, match="the BDW at byte 17 declares 64 bytes"):
        _output("bdw+rdw")(block + bytes.fromhex("00400000"))
    with pytest.raises(MappingFailed, match="the BDW at byte 0 has non-zero reserved bytes 0001"):
        _output("bdw+rdw")(bytes.fromhex("00110001") + SHORT)
    # An RDW claiming more than its block holds is caught at its own offset.
    with pytest.raises(MappingFailed, match="the RDW at byte 4 declares 14 bytes \\(13 left\\)"):
        _output("bdw+rdw")(bytes.fromhex("00110000000e0000") + LINES[1])


def test_a_bad_record_inside_the_frames_is_named_by_its_index() -> None:
    broken = LINES[0][:3] + b"\x12\x3a\x56\x7c" + LINES[0][7:]
    data = b"".join((len(x) + 4).to_bytes(2, "big") + b"\0\0" + x for x in [LINES[1], broken])
    with pytest.raises(MappingFailed, match="record 1 at LINE-AMOUNT"):
        _output("rdw")(data)


def test_a_framed_record_needs_a_list() -> None:
    with pytest.raises(ValidationError, match="framing: rdw carries many records"):
        OutputSpec.model_validate({"record": _record("rdw"), "fields": FIELDS})


def _input(framing: str) -> InputMapper:
    fields = {
        "number": {"to": "LINE-NO", "type": "integer"},
        "amount": {"to": "LINE-AMOUNT", "type": "decimal"},
        "skus": {"to": "LINE-SKU", "list": True},
    }
    field = {"to": "LINES", "list": True, "record": _record(framing), "fields": fields}
    return InputMapper({"lines": InputField.model_validate(field)})


def test_a_list_of_arguments_encodes_to_one_framed_value() -> None:
    lines = [{k: (str(v) if k == "amount" else v) for k, v in e.items()} for e in EXPECTED]
    params = _input("rdw")({"lines": lines})
    assert params["LINES"] == b"".join((len(x) + 4).to_bytes(2, "big") + b"\0\0" + x for x in LINES)
    blocked = _input("bdw+rdw")({"lines": lines})["LINES"]
    assert int.from_bytes(blocked[:2], "big") == len(blocked) == 4 + sum(4 + len(x) for x in LINES)
    with pytest.raises(InvalidArguments, match="lines"):
        _input("rdw")({"lines": [{"number": "x", "amount": "1", "skus": []}]})


def test_a_framed_request_is_one_record_behind_its_rdw() -> None:
    from gateway.mapping.spec import RequestSpec

    request = RequestSpec.model_validate({"record": _record("rdw")})
    mapper = InputMapper(
        {
            "number": InputField.model_validate({"to": "LINE-NO", "type": "integer"}),
            "amount": InputField.model_validate({"to": "LINE-AMOUNT", "type": "decimal"}),
            "skus": InputField.model_validate({"to": "LINE-SKU", "list": True}),
        },
        request,
    )
    sent = mapper({"number": 1, "amount": "12.50", "skus": ["AB", "CDEF"]})
    assert sent == (len(LINES[0]) + 4).to_bytes(2, "big") + b"\0\0" + LINES[0]


records = st.lists(st.binary(min_size=0, max_size=600), max_size=80)


words = st.builds(
    DescriptorWords,
    rdw_counts_header=st.booleans(),
    rdw_little_endian=st.booleans(),
    bdw_counts_header=st.booleans(),
    bdw_little_endian=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(
    records,
    st.sampled_from(["rdw", "bdw+rdw"]),
    words,
    st.integers(min_value=700, max_value=32760),
)
def test_framing_round_trips(
    items: list[bytes], framing: str, descriptors: DescriptorWords, block_size: int
) -> None:
    data = framed(items, framing, block_size, descriptors)
    assert list(unframed(data, framing, descriptors)) == items
    if framing == "bdw+rdw":
        # No block is longer than the block size, and every BDW declares its own block.
        at = 0
        while at < len(data):
            if descriptors.bdw_little_endian:
                length = int.from_bytes(data[at + 2 : at + 4], "little")
            else:
                length = int.from_bytes(data[at : at + 2], "big")
            if not descriptors.bdw_counts_header:
                length += 4
            assert 4 < length <= block_size
            at += length
        assert at == len(data)


amounts = st.decimals(min_value=-99999, max_value=99999, places=2, allow_nan=False)
lines = st.fixed_dictionaries(
    {
        "number": st.integers(min_value=0, max_value=999),
        "amount": amounts,
        "skus": st.lists(st.text(alphabet="ABCXYZ0123", min_size=1, max_size=4), max_size=5),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(lines, min_size=1, max_size=20), st.sampled_from(["rdw", "bdw+rdw"]))
def test_arguments_encode_and_the_answer_decodes_to_the_same_lines(
    values: list[dict[str, Any]], framing: str
) -> None:
    sent = _input(framing)({"lines": [{**v, "amount": str(v["amount"])} for v in values]})
    back = _output(framing)(sent["LINES"])["items"]
    assert [{**line, "amount": Decimal(str(line["amount"]))} for line in back] == values


def test_rdws_read_as_cobrix_reads_record_format_v() -> None:
    # Cobrix's Test36RdwBdwSimpleSpec (Apache-2.0): big-endian RDWs holding the data's
    # length only (its is_rdw_part_of_record_length=false), records '12', '345', '6789'.
    data = bytes.fromhex("00020000F1F200030000F3F4F500040000F6F7F8F9")
    records = [bytes.fromhex("F1F2"), bytes.fromhex("F3F4F5"), bytes.fromhex("F6F7F8F9")]
    data_only = DescriptorWords(rdw_counts_header=False)
    assert list(unframed(data, "rdw", data_only)) == records
    assert framed(records, "rdw", words=data_only) == data
    # Read as z/OS RDWs (length including the RDW), the same bytes are refused at once.
    with pytest.raises(RecordError, match="the RDW at byte 0 declares 2 bytes"):
        list(unframed(data, "rdw"))


def test_blocks_read_as_cobrix_reads_record_format_vb() -> None:
    # The same spec's VB file: Cobrix's default BDW, little-endian in bytes 2-3 and holding
    # the length of the block's records only (13 and 8 bytes), around big-endian RDWs.
    data = bytes.fromhex("00000D0000020000F1F200030000F3F4F50000080000040000F6F7F8F9")
    records = [bytes.fromhex("F1F2"), bytes.fromhex("F3F4F5"), bytes.fromhex("F6F7F8F9")]
    cobrix = DescriptorWords(
        rdw_counts_header=False, bdw_counts_header=False, bdw_little_endian=True
    )
    assert list(unframed(data, "bdw+rdw", cobrix)) == records
    assert framed(records[:2], "bdw+rdw", words=cobrix) == data[:17]
    # Read with z/OS's words, the first BDW's reserved bytes hold its length.
    with pytest.raises(RecordError, match="the BDW at byte 0 has non-zero reserved bytes 0D00"):
        list(unframed(data, "bdw+rdw"))


def test_a_mapping_declares_the_words_of_a_file_from_a_pc() -> None:
    # Little-endian RDWs in bytes 0-1, as a PC transfer tool writes them.
    data = b"".join((len(line) + 4).to_bytes(2, "little") + b"\0\0" + line for line in LINES)
    assert _output("rdw", rdw_byte_order="little")(data) == {"items": EXPECTED}
    # Cobrix also reads the length from bytes 2-3 when bytes 0-1 are zero.
    swapped = b"".join(b"\0\0" + (len(line) + 4).to_bytes(2, "little") + line for line in LINES)
    assert _output("rdw", rdw_byte_order="little")(swapped) == {"items": EXPECTED}
    with pytest.raises(MappingFailed, match="non-zero bytes in both halves"):
        _output("rdw", rdw_byte_order="little")(b"\x05\x00\x01\x00" + LINES[0])


def test_a_bdw_with_little_endian_length_is_read_from_a_mapping() -> None:
    body = b"".join((len(line) + 4).to_bytes(2, "big") + b"\0\0" + line for line in LINES)
    data = b"\0\0" + len(body).to_bytes(2, "little") + body
    output = _output("bdw+rdw", bdw_byte_order="little", bdw_counts_header=False)
    assert output(data) == {"items": EXPECTED}
