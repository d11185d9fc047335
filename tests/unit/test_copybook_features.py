"""What real hosts send beyond flat records: variable tables, floats, national and DBCS text,
long numbers, edited pictures, SYNC, several record types, RDW/BDW files, code pages,
source formats, and invalid data that must never become a value."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from gateway.mapping.copybook import (
    EBCDIC_PAGES,
    CopybookError,
    RecordError,
    SegmentedLayout,
    parse_copybook,
    parse_records,
    split_bdw,
    split_rdw,
    with_bdw,
    with_rdw,
)

ORDER = """\
       01  ORDER-REC.
           05  ORD-NO         PIC 9(4).
           05  ORD-N-LINES    PIC 9.
           05  ORD-LINE       OCCURS 1 TO 3 TIMES
                              DEPENDING ON ORD-N-LINES.
               10  LINE-SKU   PIC X(3).
               10  LINE-N-TAGS PIC 9.
               10  LINE-TAG   PIC X(2) OCCURS 0 TO 2 TIMES
                              DEPENDING ON LINE-N-TAGS.
           05  ORD-NOTE       PIC X(4).
"""


def test_a_variable_table_moves_the_fields_after_it() -> None:
    layout = parse_copybook(ORDER, "ascii")
    assert layout.variable
    assert (layout.min_length, layout.length) == (4 + 1 + 4 + 4, 4 + 1 + 3 * 8 + 4)
    record = b"00422" + b"AB12XYZZ" + b"CD00" + b"NOTE"
    assert layout.decode(record) == {
        "ORD-NO": 42,
        "ORD-N-LINES": 2,
        "ORD-LINE": [
            {"LINE-SKU": "AB1", "LINE-N-TAGS": 2, "LINE-TAG": ["XY", "ZZ"]},
            {"LINE-SKU": "CD0", "LINE-N-TAGS": 0, "LINE-TAG": []},
        ],
        "ORD-NOTE": "NOTE",
    }
    # Counters left out are set from the tables' lengths.
    values = {
        "ORD-NO": 42,
        "ORD-LINE": [{"LINE-SKU": "AB1", "LINE-TAG": ["XY", "ZZ"]}, {"LINE-SKU": "CD0"}],
        "ORD-NOTE": "NOTE",
    }
    assert layout.encode(values) == record


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        (b"00424", "ORD-LINE", "ORD-N-LINES is 4, outside OCCURS 1 TO 3"),
        (b"00420NOTE", "ORD-LINE", "ORD-N-LINES is 0, outside OCCURS 1 TO 3"),
        (b"00421AB13", "ORD-LINE[0].LINE-TAG", "LINE-N-TAGS is 3, outside OCCURS 0 TO 2"),
        (b"00421AB10NOT", "ORD-NOTE", "the record ends inside this field"),
    ],
)
def test_a_counter_out_of_its_bounds_is_an_error_naming_the_table(
    record: bytes, field: str, message: str
) -> None:
    with pytest.raises(RecordError) as error:
        parse_copybook(ORDER, "ascii").decode(record)
    assert error.value.field == field
    assert message in str(error.value)


def test_a_counter_that_disagrees_with_its_table_is_refused() -> None:
    layout = parse_copybook(ORDER, "ascii")
    with pytest.raises(RecordError, match="ORD-N-LINES is 3 but ORD-LINE has 1 items"):
        layout.encode({"ORD-N-LINES": 3, "ORD-LINE": [{"LINE-SKU": "A"}]})
    with pytest.raises(RecordError, match="4 items for OCCURS 1 TO 3"):
        layout.encode({"ORD-LINE": [{}, {}, {}, {}]})


@pytest.mark.parametrize(
    ("usage", "raw", "value"),
    [
        ("COMP-1", "C276A000", -118.625),  # the textbook IBM example
        ("COMP-1", "41100000", 1.0),
        ("COMP-1", "00000000", 0.0),
        ("COMP-2", "4110000000000000", 1.0),
        ("COMP-2", "C276A00000000000", -118.625),
        ("COMP-2", "3B1999999999999A", 0.1 * 16**-5),
    ],
)
def test_comp_1_and_comp_2_are_ibm_hexadecimal_floats(usage: str, raw: str, value: float) -> None:
    layout = parse_copybook(f"01 R.\n 05 F {usage}.", "cp037")
    assert layout.decode(bytes.fromhex(raw)) == {"F": value}
    assert layout.encode({"F": value}).hex().upper() == raw


def test_floats_can_be_ieee_where_the_host_says_so() -> None:
    text = "01 R.\n 05 A COMP-1.\n 05 B COMP-2.\n 05 C FLOAT-LONG."
    ibm = parse_copybook(text, "cp037")
    ieee = parse_copybook(text, "cp037", floats="ieee")
    record = ieee.encode({"A": 1.5, "B": -2.25, "C": 0.1})
    assert record.hex().upper() == "3FC00000" + "C002000000000000" + "3FB999999999999A"
    assert ieee.decode(record) == {"A": 1.5, "B": -2.25, "C": 0.1}
    assert ibm.encode({"C": 0.1})[-8:].hex().upper() == "3FB999999999999A"  # FLOAT-LONG
    with pytest.raises(CopybookError, match="floats is one of ibm, ieee"):
        parse_copybook(text, floats="vax")


def test_national_text_is_utf16_and_dbcs_uses_the_declared_code_page() -> None:
    layout = parse_copybook("01 R.\n 05 N PIC N(3).\n 05 M PIC N(2) USAGE NATIONAL.", "cp037")
    assert layout.length == 10
    record = layout.encode({"N": "Zß", "M": "€"})
    assert record == "Zß ".encode("utf-16-be") + "€ ".encode("utf-16-be")
    assert layout.decode(record) == {"N": "Zß ", "M": "€ "}
    dbcs = parse_copybook(
        "01 R.\n 05 G PIC G(2).\n 05 H PIC N(1) DISPLAY-1.", "cp037", dbcs_encoding="utf-16-be"
    )
    assert dbcs.decode("漢字 ".encode("utf-16-be")) == {"G": "漢字", "H": " "}
    with pytest.raises(RecordError, match="no utf-16-be character"):
        layout.decode(b"\xd8\x00" + bytes(8))


def test_thirty_eight_digits_are_exact() -> None:
    layout = parse_copybook(
        "01 R.\n 05 P PIC S9(30)V9(8) COMP-3.\n 05 Z PIC 9(38).\n 05 B PIC S9(18) COMP.", "cp037"
    )
    assert layout.length == 20 + 38 + 8
    values = {
        "P": Decimal("-123456789012345678901234567890.12345678"),
        "Z": 10**38 - 1,
        "B": -(10**18) + 1,
    }
    assert layout.decode(layout.encode(values)) == values


@pytest.mark.parametrize(
    ("picture", "value", "printed"),
    [
        ("ZZ,ZZ9.99-", Decimal("-1234.56"), " 1,234.56-"),
        ("$$$,$$9.99CR", Decimal("-123.45"), "   $123.45CR"),
        ("$$$,$$9.99CR", 0, "     $0.00  "),
        ("***,**9.99", Decimal("42.5"), "*****42.50"),
        ("++++9", -5, "   -5"),
        ("--,--9", -345, "  -345"),
        ("99/99/99", 311299, "31/12/99"),
        ("ZZ9BDB", -7, "  7 DB"),
        ("Z.ZZ", 0, "    "),
        ("000999", 123, "000123"),
        ("ZZZ9", 0, "   0"),
    ],
)
def test_edited_pictures_both_ways(picture: str, value: object, printed: str) -> None:
    layout = parse_copybook(f"01 R.\n 05 E PIC {picture}.", "cp037")
    assert layout.encode({"E": value}) == printed.encode("cp037")
    assert layout.decode(printed.encode("cp037")) == {"E": value}


def test_edited_text_that_no_compiler_prints_is_not_a_number() -> None:
    layout = parse_copybook("01 R.\n 05 E PIC ZZ9.99.", "ascii")
    for bad in (b"012.34", b" 1 .00", b"  1,00", b"abc.de"):
        with pytest.raises(RecordError, match=r"not a number edited as PIC ZZ9\.99"):
            layout.decode(bad)


def test_p_scales_by_powers_of_ten() -> None:
    layout = parse_copybook("01 R.\n 05 H PIC 9(3)PP.\n 05 T PIC SPP99 COMP-3.", "ascii")
    assert layout.length == 3 + 2
    record = layout.encode({"H": 12300, "T": Decimal("-0.0045")})
    assert record == b"123" + bytes.fromhex("045D")
    assert layout.decode(record) == {"H": 12300, "T": Decimal("-0.0045")}
    with pytest.raises(RecordError, match="not a multiple of 100"):
        layout.encode({"H": 12345})


def test_sync_adds_the_slack_bytes_ibm_documents() -> None:
    # The example of Enterprise COBOL's Language Reference ("Slack bytes within records").
    layout = parse_copybook(
        """
        01  WORK-RECORD.
            05  WORK-CODE      PICTURE X.
            05  COMP-TABLE     OCCURS 10 TIMES.
                10  COMP-TYPE  PICTURE X.
                10  COMP-PAY   PICTURE S9(4)V99 COMP SYNC.
                10  COMP-HRS   PICTURE S9(3) COMP SYNC.
                10  COMP-NAME  PICTURE X(5).
        """
    )
    places = {info.path: (info.offset, info.length) for info in layout.fields}
    assert places["COMP-TABLE.COMP-PAY"] == (4, 4)  # two slack bytes before it
    assert places["COMP-TABLE.COMP-HRS"] == (8, 2)
    assert places["COMP-TABLE"] == (1, 16)  # two slack bytes at the end of each occurrence
    assert layout.length == 161


SEGMENTS = """
       01  HEADER-REC.
           05  SEG-ID        PIC X(2).
           05  COMPANY       PIC X(6).
       01  DETAIL-REC.
           05  SEG-ID        PIC X(2).
           05  AMOUNT        PIC S9(5)V99 COMP-3.
           05  FILLER        PIC X(4).
"""


def test_several_01_records_are_picked_by_their_segment_id() -> None:
    layouts = parse_records(SEGMENTS, "cp037")
    assert set(layouts) == {"HEADER-REC", "DETAIL-REC"}
    segmented = SegmentedLayout(layouts, "SEG-ID", {"H1": "HEADER-REC", "D1": "DETAIL-REC"})
    header = segmented.encode({"HEADER-REC": {"COMPANY": "ACME"}})
    detail = segmented.encode({"DETAIL-REC": {"AMOUNT": Decimal("-12.5")}})
    assert segmented.decode(header) == {"HEADER-REC": {"SEG-ID": "H1", "COMPANY": "ACME  "}}
    assert segmented.decode(detail) == {"DETAIL-REC": {"SEG-ID": "D1", "AMOUNT": Decimal("-12.50")}}
    with pytest.raises(RecordError, match="segment id 'X9' selects no record"):
        segmented.decode("X9".encode("cp037") + header[2:])
    with pytest.raises(CopybookError, match="more than one 01 record"):
        parse_copybook(SEGMENTS)
    assert parse_copybook(SEGMENTS, record="detail-rec").length == 10


def test_rdw_and_bdw_files_split_into_records() -> None:
    records = [b"A" * 5, b"", b"BB"]
    rdw = b"".join(with_rdw(r) for r in records)
    assert rdw[:4] == bytes.fromhex("00090000")
    assert list(split_rdw(rdw)) == records
    blocked = with_bdw(records[:2]) + with_bdw(records[2:])
    assert list(split_bdw(blocked)) == records
    with pytest.raises(RecordError, match="the RDW at byte 0 declares 9 bytes \\(8 left\\)"):
        list(split_rdw(rdw[:8]))
    with pytest.raises(RecordError, match="the BDW at byte 0 declares"):
        list(split_bdw(bytes.fromhex("00400000") + rdw))


@pytest.mark.parametrize("page", EBCDIC_PAGES)
def test_every_ebcdic_page_round_trips_and_names_a_character_it_lacks(page: str) -> None:
    layout = parse_copybook("01 R.\n 05 T PIC X(8).\n 05 N PIC S9(3).", page)
    values = {"T": "AZ09 .,-", "N": -123}
    record = layout.encode(values)
    assert record[8:] == bytes.fromhex("F1F2D3")  # digits and zones are the same in every page
    assert layout.decode(record) == values
    with pytest.raises(RecordError, match=f"'☃' has no {page} code"):
        layout.encode({"T": "☃"})


def test_an_ascii_byte_without_a_character_is_named() -> None:
    layout = parse_copybook("01 R.\n 05 T PIC X(3).", "ascii")
    with pytest.raises(RecordError, match="byte C1 at position 2 has no ascii character"):
        layout.decode(b"A\xc1B")


def test_source_forms_ibm_accepts(tmp_path: Path) -> None:
    (tmp_path / "ADDRESS.cpy").write_text(
        "       05  :P:-STREET      PIC X(10).\n       05  :P:-CITY        PIC X(8).\n"
    )
    text = (
        "ACCT01 01  CUSTOMER-REC.                                                CUST0001\n"
        "ACCT02     05  CUST-NO      PIC 9(6).\n"
        "ACCT03D    DISPLAY 'DEBUGGING LINE, NOT DATA'.\n"
        "ACCT04     05  CUST-NA\n"
        "ACCT05-        ME         PIC X(12).\n"
        "ACCT06     COPY ADDRESS REPLACING ==:P:== BY ==CUST==.\n"
        "ACCT07*    05  COMMENTED    PIC X(99).\n"
    )
    layout = parse_copybook(text, "cp037", copy_path=[tmp_path])
    assert [info.path for info in layout.fields] == [
        "CUST-NO",
        "CUST-NAME",
        "CUST-STREET",
        "CUST-CITY",
    ]
    assert layout.length == 6 + 12 + 10 + 8


def test_free_format_source_and_a_longer_01_redefines() -> None:
    text = (
        ">>SOURCE FORMAT FREE\n01 SHORT-REC. *> the short form\n  05 A PIC X(2).\n"
        "01 LONG-REC REDEFINES SHORT-REC.\n  05 B PIC X(4).\n"
    )
    layout = parse_copybook(text, "ascii")
    assert layout.length == 4
    assert layout.decode(b"abcd") == {"SHORT-REC": {"A": "ab"}, "LONG-REC": {"B": "abcd"}}


@pytest.mark.parametrize(
    ("picture", "raw", "value"),
    [
        ("S9(3)", "F1F2A3", 123),  # zone A: plus
        ("S9(3)", "F1F2B3", -123),  # zone B: minus
        ("S9(3)", "F1F2E3", 123),  # zone E: plus
        ("9(3)", "F1F2C3", 123),  # a C zone on an unsigned field
        ("S9(3) COMP-3", "123B", -123),  # packed minus B
        ("S9(3) COMP-3", "123A", 123),
    ],
)
def test_every_sign_ibm_accepts_is_read(picture: str, raw: str, value: int) -> None:
    layout = parse_copybook(f"01 R.\n 05 N PIC {picture}.", "cp037")
    assert layout.decode(bytes.fromhex(raw)) == {"N": value}


@pytest.mark.parametrize(
    ("picture", "raw", "message"),
    [
        ("9(4) COMP-3", "10000F", "more digits than PIC 9(4) holds"),
        ("9(3) COMP-3", "123D", "a minus sign in an unsigned packed decimal"),
        ("S9(4) COMP", "4040", "spaces in a binary field"),
        ("S9(8) COMP", "40404040", "spaces in a binary field"),
        ("9(4) COMP", "2710", "10000 is beyond PIC 9(4)"),
        ("9(3)", "F1F2D3", "not a zoned decimal"),  # minus on an unsigned field
        ("S9(3)", "F1C2F3", "not a zoned decimal"),  # a sign zone where a digit must be
        ("9(3)", "F14BF3", "not a zoned decimal"),
    ],
)
def test_invalid_data_is_an_error_naming_the_field(picture: str, raw: str, message: str) -> None:
    layout = parse_copybook(f"01 R.\n 05 X PIC X.\n 05 N PIC {picture}.", "cp037")
    with pytest.raises(RecordError) as error:
        layout.decode(b"\x40" + bytes.fromhex(raw))
    assert error.value.field == "N"
    assert message in str(error.value)
    assert error.value.raw == raw.upper()


def test_a_redefines_view_that_does_not_decode_is_none() -> None:
    layout = parse_copybook("01 R.\n 05 T PIC X(2).\n 05 N REDEFINES T PIC S9(3) COMP-3.", "cp037")
    assert layout.decode(b"\x12\x3d") == {"T": b"\x12\x3d".decode("cp037"), "N": -123}
    assert layout.decode("AB".encode("cp037"))["N"] is None


def test_a_mapping_declares_segments_floats_and_copy_members(tmp_path: Path) -> None:
    from gateway.mapping.records import OutputMapper
    from gateway.mapping.spec import OutputSpec

    (tmp_path / "SEGHEAD.cpy").write_text("           05  SEG-ID        PIC X(2).\n")
    (tmp_path / "segs.cpy").write_text(
        "       01  HEADER-REC.\n           COPY SEGHEAD.\n           05  COMPANY  PIC X(6).\n"
        "       01  RATE-REC.\n           COPY SEGHEAD.\n           05  RATE     COMP-2.\n"
    )
    record = {
        "copybook": "segs.cpy",
        "transport": "binary",
        "floats": "ieee",
        "segments": {"field": "seg-id", "records": {"H1": "HEADER-REC", "R1": "RATE-REC"}},
    }
    spec = OutputSpec.model_validate(
        {
            "record": record,
            "fields": {
                "company": {"from": "HEADER-REC.COMPANY", "trim": True},
                "rate": {"from": "RATE-REC.RATE", "type": "number"},
            },
        },
        context={"base_dir": tmp_path},
    )
    mapper = OutputMapper(spec)
    rate = "R1".encode("cp037") + bytes.fromhex("3FF8000000000000")
    assert mapper(rate) == {"company": None, "rate": 1.5}
    assert mapper("H1ACME  ".encode("cp037")) == {"company": "ACME", "rate": None}
    single = OutputSpec.model_validate(
        {"record": {**record, "segments": None, "record": "rate-rec"}, "fields": {}},
        context={"base_dir": tmp_path},
    )
    assert single.record is not None
    assert single.record.compiled.length == 10


def test_mixed_text_switches_to_double_bytes_between_shift_out_and_shift_in() -> None:
    # utf-16-be stands in for a host DBCS page (cp930 and friends are not in Python)
    layout = parse_copybook("01 R.\n 05 T PIC X(12).", "cp037", dbcs_encoding="utf-16-be")
    record = layout.encode({"T": "AB漢字C"})
    assert record == "AB".encode("cp037") + b"\x0e" + "漢字".encode("utf-16-be") + b"\x0f" + (
        "C   ".encode("cp037")
    )
    assert layout.decode(record) == {"T": "AB漢字C   "}
    with pytest.raises(RecordError, match="shift-out at position 3 has no shift-in"):
        layout.decode("AB".encode("cp037") + b"\x0e\x6f\x22" + bytes(7))
