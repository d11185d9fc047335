"""COBOL copybooks: layouts, golden records both ways, errors, and round trips."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.mapping.copybook import (
    CopybookError,
    RecordError,
    check_encoding,
    fixed_width_layout,
    is_ebcdic,
    parse_copybook,
)

# Fixed format: sequence numbers, a comment line, 88 levels, a group with OCCURS, REDEFINES,
# FILLER, binary, packed and zoned numbers, text. Identification area (73-80) ignored.
ACCOUNT = """\
000100* ACCOUNT MASTER RECORD (ACCTMAST)                                        ACCT0001
000200 01  ACCOUNT-REC.                                                         ACCT0002
000300     05  ACCT-NO              PIC 9(6).                                   ACCT0003
000400     05  ACCT-TYPE            PIC X.                                      ACCT0004
000500         88  ACCT-CHECKING        VALUE 'C'.                              ACCT0005
000600         88  ACCT-SAVINGS         VALUE 'S'.                              ACCT0006
000700     05  ACCT-BALANCE         PIC S9(7)V99 COMP-3.                        ACCT0007
000800     05  ACCT-POSTINGS        PIC S9(4) COMP.                             ACCT0008
000900     05  ACCT-RATE            PIC S9V999.                                 ACCT0009
001000     05  ACCT-LIMITS OCCURS 2 TIMES.                                      ACCT0010
001100         10  LIMIT-CCY        PIC X(3).                                   ACCT0011
001200         10  LIMIT-AMT        PIC 9(5) COMP-3.                            ACCT0012
001300     05  ACCT-LIMITS-RAW REDEFINES ACCT-LIMITS PIC X(12).                 ACCT0013
001400     05  FILLER               PIC X(3).                                   ACCT0014
"""
# The record, assembled by hand: 9(6) zoned F0..F9; X; S9(7)V99 COMP-3 in 5 bytes with sign
# nibble D (negative); S9(4) COMP two bytes big-endian; S9V999 zoned with the sign in the
# zone of the last digit (C: positive); two limits; three filler spaces.
ACCOUNT_HEX = (
    "F0F0F4F7F1F1"  # ACCT-NO 004711
    "E2"  # ACCT-TYPE S
    "000123456D"  # ACCT-BALANCE -1234.56
    "0011"  # ACCT-POSTINGS 17
    "F0F1F2C5"  # ACCT-RATE +0.125 (C5: zone C, digit 5)
    "C5E4D9"
    "50000F"  # EUR 50000 (unsigned packed: sign F)
    "E4E2C4"
    "02500F"  # USD 2500
    "404040"  # FILLER
)
ACCOUNT_VALUES = {
    "ACCT-NO": 4711,
    "ACCT-TYPE": "S",
    "ACCT-BALANCE": Decimal("-1234.56"),
    "ACCT-POSTINGS": 17,
    "ACCT-RATE": Decimal("0.125"),
    "ACCT-LIMITS": [
        {"LIMIT-CCY": "EUR", "LIMIT-AMT": 50000},
        {"LIMIT-CCY": "USD", "LIMIT-AMT": 2500},
    ],
}


def test_a_fixed_format_copybook_is_laid_out_byte_by_byte() -> None:
    layout = parse_copybook(ACCOUNT, "cp037")
    assert layout.length == 6 + 1 + 5 + 2 + 4 + 2 * 6 + 3
    by_path = {info.path: info for info in layout.fields}
    assert by_path["ACCT-BALANCE"].offset == 7
    assert by_path["ACCT-BALANCE"].length == 5
    assert by_path["ACCT-LIMITS"].occurs == 2
    assert by_path["ACCT-LIMITS.LIMIT-AMT"].offset == 21
    assert by_path["ACCT-LIMITS-RAW"].offset == by_path["ACCT-LIMITS"].offset
    assert "FILLER" not in by_path


def test_a_golden_record_decodes_and_encodes_back_to_the_same_bytes() -> None:
    layout = parse_copybook(ACCOUNT, "cp037")
    record = bytes.fromhex(ACCOUNT_HEX)
    decoded = layout.decode(record)
    raw_view = decoded.pop("ACCT-LIMITS-RAW")
    assert decoded == ACCOUNT_VALUES
    assert raw_view == bytes.fromhex("C5E4D950000FE4E2C402500F").decode("cp037")
    assert layout.encode(ACCOUNT_VALUES) == record


def test_code_pages_differ_where_they_should() -> None:
    text = "01  R.\n    05  T PIC X(2).\n"
    assert parse_copybook(text, "cp037").encode({"T": "[]"}) == bytes.fromhex("BABB")
    assert parse_copybook(text, "cp1047").encode({"T": "[]"}) == bytes.fromhex("ADBD")
    assert parse_copybook(text, "cp500").encode({"T": "[]"}) == bytes.fromhex("4A5A")
    assert parse_copybook(text, "cp1140").decode(bytes.fromhex("9FC1")) == {"T": "€A"}


def test_an_ascii_record_uses_overpunched_signs_and_separate_signs() -> None:
    text = """
       01  R.
           05  AMT    PIC S9(3)V99.
           05  DELTA  PIC S9(3).
           05  COUNT  PIC 9(3).
           05  LEAD   PIC S9(2) SIGN IS LEADING SEPARATE CHARACTER.
    """
    layout = parse_copybook(text, "ascii")
    record = b"1234{02Q007-05"  # +123.40, -28 (Q: minus 8), 7, -5
    assert layout.decode(record) == {
        "AMT": Decimal("123.40"),
        "DELTA": -28,
        "COUNT": 7,
        "LEAD": -5,
    }
    assert layout.encode({"AMT": "123.4", "DELTA": -28, "COUNT": 7, "LEAD": -5}) == record


def test_blank_numeric_fields_decode_to_none_and_unsent_fields_get_defaults() -> None:
    layout = parse_copybook(ACCOUNT, "cp037")
    empty = layout.encode({})
    assert empty[:6] == "000000".encode("cp037")
    assert empty[7:12] == bytes.fromhex("000000000C")
    blank = bytearray(empty)
    blank[0:6] = b"\x40" * 6
    assert layout.decode(bytes(blank))["ACCT-NO"] is None


def test_free_format_text_without_a_record_level_works() -> None:
    layout = parse_copybook("05 A PIC X(2). *> inline comment\n05 B PIC 9(2) COMP.", "ascii")
    assert layout.decode(b"hi\x00\x2a") == {"A": "hi", "B": 42}


def test_fixed_width_layouts_both_ways() -> None:
    layout = fixed_width_layout({"CODE": 2, "NAME": 6}, "cp500")
    record = "A1SMITH ".encode("cp500")
    assert layout.decode(record) == {"CODE": "A1", "NAME": "SMITH "}
    assert layout.encode({"CODE": "A1", "NAME": "SMITH"}) == record
    assert is_ebcdic("cp500")
    assert not is_ebcdic("latin-1")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("01 R.\n  05 A PIC 9P9.", 2, "P must be at one end"),
        ("01 R.\n  05 A PIC S9(4) COMP-1.", 2, "COMP-1 takes no PICTURE"),
        ("01 R.\n  05 A PIC X.\n  66 B RENAMES A.", 3, "RENAMES"),
        ("01 R.\n 05 N PIC 9.\n 05 A PIC X OCCURS 1 TO 5 DEPENDING ON Q.", 3, "DEPENDING ON Q"),
        ("01 R.\n 05 A PIC X OCCURS 1 TO 5.", 2, "needs DEPENDING ON"),
        ("01 R.\n 05 A PIC X OCCURS 5 TO 2 DEPENDING ON N.", 2, "the maximum is lower"),
        ("01 R.\n  05 A PIC X.\n  05 B REDEFINES A PIC XX.", 3, "longer than A"),
        ("01 R.\n  05 A PIC ZZ9.9.9.", 2, "more than one decimal point"),
        ("01 R.\n  05 A PIC +ZZ9-.", 2, "more than one sign"),
        ("01 R.\n  05 A PIC Z+Z9.", 2, "must be at one end"),
        ("01 R.\n  05 A PIC 9(3 .", 2, "cannot read picture"),
        ("01 R.\n  05 A REDEFINES Q PIC X.", 2, "no earlier item"),
        ("01 R.\n  05 A.", 2, "neither PIC nor items"),
        ("01 R.\n  05 A PIC X WIBBLE.", 2, "unexpected word 'WIBBLE'"),
        ("01 R.\n  05 A PIC 9(39).", 2, "more than 38 digits"),
        ("01 R.\n  05 A PIC 9(19) COMP.", 2, "more than 18 digits"),
        ("01 R.\n  05 A PIC N(2) COMP-3.", 2, "USAGE NATIONAL or DISPLAY-1"),
        ("01 R.\n  05 A PIC G(2).", 2, "dbcs_encoding"),
        ("01 R.\n  COPY NOWHERE.", 2, "no such member"),
    ],
)
def test_copybook_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(CopybookError) as error:
        parse_copybook(text)
    assert message in str(error.value)
    assert error.value.line == line


def test_an_unknown_code_page_is_refused() -> None:
    with pytest.raises(ValueError, match="supported: cp037"):
        check_encoding("cp9999")
    with pytest.raises(CopybookError, match="unsupported encoding"):
        parse_copybook("05 A PIC X.", "klingon")


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"ACCT-TYPE": "SS"}, "ACCT-TYPE", "do not fit PIC X(1)"),
        ({"ACCT-NO": 1234567}, "ACCT-NO", "too many digits"),
        ({"ACCT-RATE": "0.1255"}, "ACCT-RATE", "more than 3 decimal places"),
        ({"ACCT-NO": -1}, "ACCT-NO", "negative value for unsigned"),
        ({"ACCT-TYPE": "€"}, "ACCT-TYPE", "has no cp037 code"),
        ({"ACCT-LIMITS": [{}, {}, {}]}, "ACCT-LIMITS", "3 items for OCCURS 2"),
        ({"ACCT-LIMITS": [{"LIMIT-AMT": "x"}]}, "ACCT-LIMITS[0].LIMIT-AMT", "not a number"),
        ({"NOPE": 1}, "NOPE", "no field NOPE"),
    ],
)
def test_values_that_do_not_fit_are_refused_with_their_field(
    values: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(RecordError) as error:
        parse_copybook(ACCOUNT, "cp037").encode(values)
    assert error.value.field == field
    assert message in str(error.value)


def test_records_that_do_not_decode_name_the_field_and_bytes() -> None:
    layout = parse_copybook(ACCOUNT, "cp037")
    record = bytearray.fromhex(ACCOUNT_HEX)
    with pytest.raises(RecordError, match="is 32 bytes; the layout needs 33"):
        layout.decode(bytes(record[:-1]))
    record[11] = 0x55  # a packed decimal whose sign nibble is a digit
    record[7] = 0xAA  # and whose first nibbles are not digits
    with pytest.raises(RecordError) as error:
        layout.decode(bytes(record))
    assert error.value.field == "ACCT-BALANCE"
    assert error.value.raw == "AA01234555"
    record = bytearray.fromhex(ACCOUNT_HEX)
    record[2] = 0xC1  # 'A' inside an unsigned zoned number
    with pytest.raises(RecordError) as error:
        layout.decode(bytes(record))
    assert error.value.field == "ACCT-NO"


def test_a_broken_redefines_view_is_none_not_an_error() -> None:
    text = "01 R.\n 05 N PIC S9(3) COMP-3.\n 05 T REDEFINES N PIC X(2).\n"
    layout = parse_copybook(text, "cp037")
    assert layout.decode("AB".encode("cp037")) == {"N": None, "T": "AB"}
    assert layout.encode({"T": "AB"}) == "AB".encode("cp037")


@settings(max_examples=200)
@given(
    st.integers(min_value=1, max_value=15),
    st.integers(min_value=0, max_value=4),
    st.sampled_from(["COMP-3", "COMP", "DISPLAY"]),
    st.data(),
)
def test_numbers_survive_encode_then_decode(
    whole: int, places: int, usage: str, data: st.DataObject
) -> None:
    digits = whole + places
    assume(digits <= 18)  # the most a picture may hold (without ARITH(EXTEND))
    picture = f"S9({whole})" + (f"V9({places})" if places else "")
    layout = parse_copybook(f"01 R.\n 05 N PIC {picture} {usage}.", "cp037")
    unscaled = data.draw(st.integers(min_value=-(10**digits) + 1, max_value=10**digits - 1))
    value = Decimal(unscaled).scaleb(-places) if places else unscaled
    assert layout.decode(layout.encode({"N": value})) == {"N": value}


@settings(max_examples=200)
@given(st.from_regex(r"[0-9]{7}", fullmatch=True), st.sampled_from("cd"))
def test_valid_packed_bytes_encode_back_identically(digits: str, sign: str) -> None:
    record = bytes.fromhex(digits + sign)
    assume(sign == "c" or int(digits))  # -0 is written back as +0
    layout = parse_copybook("01 R.\n 05 N PIC S9(7) COMP-3.", "cp037")
    assert layout.encode(layout.decode(record)) == record


@settings(max_examples=200)
@given(st.sampled_from(["cp037", "cp500", "cp1047", "cp1140"]), st.data())
def test_ebcdic_text_survives_encode_then_decode(encoding: str, data: st.DataObject) -> None:
    # Every character the code page has from its space (0x40) up: letters, digits, national
    # characters, punctuation.
    alphabet = sorted(set(bytes(range(0x40, 0x100)).decode(encoding)))
    text = data.draw(st.text(alphabet=st.sampled_from(alphabet), max_size=12))
    layout = parse_copybook("01 R.\n 05 T PIC X(12).", encoding)
    assert layout.decode(layout.encode({"T": text}))["T"] == text.ljust(12)
