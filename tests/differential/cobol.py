"""Random copybooks, and COBOL programs that lay them out, encode and decode them with
GnuCOBOL (``cobc -std=ibm -fsign=EBCDIC``: IBM sizes, SYNC slack bytes and the EBCDIC sign
convention, in GnuCOBOL's own ASCII storage).

For each record the program prints, one line each:

- ``L name offset length`` for every elementary item (first occurrence), from ``ADDRESS OF``;
- ``E case b1 b2 ...``: the record's bytes after MOVE of each case's values to its fields;
- ``D case name value``: each field's value after the record is set to given bytes, moved
  to a display item ``-9(n).9(m)`` (numbers) or shown between brackets (text).
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

EDITED = [
    "ZZ,ZZ9.99-", "$$$,$$9.99CR", "***,**9.99", "+++9", "----9.99", "ZZZ.ZZ",
    "-ZZ9", "99/99/99", "ZZ9BDB", "9(5).99+", "Z(6)9", "$ZZ9.99", "+9(4).9(3)", "ZZ,ZZZ",
    "9(8).9(2)", "$$,$$$.99", "Z.ZZ", "--,--9", "**9.9", "000999",
]  # fmt: skip


@dataclass
class Field:
    name: str
    picture: str | None
    usage: str = ""
    clauses: str = ""
    digits: int = 0
    scale: int = 0  # digits after the point; negative for trailing P
    signed: bool = False
    text: int = 0  # characters of a text field
    occurs: int | None = None  # of the group this field is in
    group: str | None = None
    edited: bool = False

    @property
    def numeric(self) -> bool:
        return not self.text


@dataclass
class Record:
    name: str
    lines: list[str] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)
    groups: dict[str, int] = field(default_factory=dict)  # occurring group -> times

    @property
    def copybook(self) -> str:
        return "\n".join(self.lines) + "\n"


def _numeric(rng: random.Random, name: str, in_table: bool) -> Field:
    usage = rng.choice(["", "", "COMP-3", "COMP-3", "COMP", "COMP", "EDITED", "P"])
    if usage == "EDITED":
        picture = rng.choice(EDITED)
        from gateway.mapping.copybook.edited import edited_picture

        edit = edited_picture(picture, False, 0)
        return Field(name, picture, "", "", edit.digits, edit.scale, edit.signed, edited=True)
    if usage == "P":
        digits, ps = rng.randint(1, 6), rng.randint(1, 3)
        signed = rng.random() < 0.5
        if rng.random() < 0.5:
            picture = f"{'S' if signed else ''}9({digits})P({ps})"
            return Field(name, picture, "", "", digits, -ps, signed)
        picture = f"{'S' if signed else ''}P({ps})9({digits})"
        return Field(name, picture, "", "", digits, ps + digits, signed)
    top = 18 if usage == "COMP" else 38
    digits = rng.randint(1, top)
    scale = rng.randint(0, digits) if rng.random() < 0.5 else 0
    signed = rng.random() < 0.7
    whole = digits - scale
    picture = (
        ("S" if signed else "")
        + (f"9({whole})" if whole else "")
        + (f"V9({scale})" if scale else "")
    )
    clauses = ""
    if usage == "COMP" and digits <= 9 and not in_table and rng.random() < 0.5:
        # Where GnuCOBOL places SYNC items as IBM does (see the layout module)
        clauses = " SYNC"
    if not usage and signed and rng.random() < 0.4:
        clauses = rng.choice([" SIGN LEADING", " SIGN LEADING SEPARATE", " SIGN TRAILING SEPARATE"])
    return Field(name, picture, f" {usage}" if usage else "", clauses, digits, scale, signed)


def random_record(rng: random.Random, index: int) -> Record:
    record = Record(f"R{index}")
    record.lines.append(f"       01  R{index}.")
    count = rng.randint(3, 14)
    n = 0
    group: str | None = None
    times: int | None = None
    for _ in range(count):
        if group is None and rng.random() < 0.12:
            group, times = f"R{index}-G{n}", rng.randint(1, 4)
            record.groups[group] = times
            record.lines.append(f"           05  {group} OCCURS {times} TIMES.")
            n += 1
        elif group is not None and rng.random() < 0.3:
            group, times = None, None
        level = "10" if group else "05"
        name = f"R{index}-F{n}"
        n += 1
        if rng.random() < 0.3:
            size = rng.randint(1, 12)
            item = Field(name, f"X({size})", text=size)
        else:
            item = _numeric(rng, name, group is not None)
        item.group, item.occurs = group, times
        record.fields.append(item)
        record.lines.append(
            f"           {level}  {name} PIC {item.picture}{item.usage}{item.clauses}."
        )
    return record


def random_value(rng: random.Random, item: Field) -> str | Decimal | int:
    if item.text:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -.,"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, item.text)))
    magnitude = rng.choice([0, 1, rng.randint(1, item.digits), item.digits])
    digits = rng.randint(0, 10**magnitude - 1) if magnitude else 0
    if item.signed and rng.random() < 0.5:
        digits = -digits
    if item.scale > 0:
        return Decimal(digits).scaleb(-item.scale)
    if item.scale < 0:
        return digits * 10**-item.scale
    return digits


def literal(value: str | Decimal | int) -> str:
    if isinstance(value, str):
        return '"' + value + '"' if value else "SPACES"
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def display_picture(item: Field) -> str:
    whole = max(item.digits - max(item.scale, 0), 1) + max(-item.scale, 0)
    fraction = max(item.scale, 0)
    return f"-9({whole})" + (f".9({fraction})" if fraction else "")


def references(record: Record, item: Field) -> list[str]:
    if item.occurs is None:
        return [item.name]
    return [f"{item.name}({i})" for i in range(1, item.occurs + 1)]


def program(
    records: list[Record],
    encode_cases: list[list[dict[str, object]]],
    decode_cases: list[list[bytes]],
) -> str:
    """A COBOL program that prints layouts, encodings and decodings of the records."""
    ws = [
        "       01  P0 USAGE POINTER.",
        "       01  P0N REDEFINES P0 PIC 9(18) COMP-5.",
        "       01  P1 USAGE POINTER.",
        "       01  P1N REDEFINES P1 PIC 9(18) COMP-5.",
        "       01  OFS PIC 9(6).",
        "       01  LEN PIC 9(6).",
        "       01  I PIC 9(6) COMP-5.",
        "       01  BYTE-NO PIC 9(3).",
    ]
    proc: list[str] = []
    for r, record in enumerate(records):
        ws.extend(record.lines)
        for f, item in enumerate(record.fields):
            if item.numeric:
                ws.append(f"       01  D{r}-{f} PIC {display_picture(item)}.")
        for item in record.fields:
            first = references(record, item)[0]
            proc += [
                f"           SET P0 TO ADDRESS OF {record.name}",
                f"           SET P1 TO ADDRESS OF {first}",
                "           COMPUTE OFS = P1N - P0N",
                f"           MOVE FUNCTION LENGTH({first}) TO LEN",
                f'           DISPLAY "L {item.name} " OFS " " LEN',
            ]
        proc.append(f'           DISPLAY "T {record.name} " FUNCTION LENGTH({record.name})')
        for c, case in enumerate(encode_cases[r]):
            proc.append(f"           MOVE SPACES TO {record.name}")
            for item in record.fields:
                for ref in references(record, item):
                    value = case[ref]
                    proc.append(f"           MOVE {literal(value)}")  # type: ignore[arg-type]
                    proc.append(f"             TO {ref}")
            proc += _dump(record.name, f"E {record.name} {c}")
        for c, data in enumerate(decode_cases[r]):
            proc += _bytes_into(record.name, data)
            for f, item in enumerate(record.fields):
                for ref in references(record, item):
                    if item.numeric:
                        proc.append(f"           MOVE {ref} TO D{r}-{f}")
                        proc.append(f'           DISPLAY "D {record.name} {c} {ref} " D{r}-{f}')
                    else:
                        proc.append(f'           DISPLAY "D {record.name} {c} {ref} [" {ref} "]"')
    body = "\n".join(proc)
    return (
        "       IDENTIFICATION DIVISION.\n       PROGRAM-ID. DIFF.\n"
        "       DATA DIVISION.\n       WORKING-STORAGE SECTION.\n"
        + "\n".join(ws)
        + "\n       PROCEDURE DIVISION.\n"
        + body
        + "\n           STOP RUN.\n"
    )


def _dump(name: str, label: str) -> list[str]:
    return [
        f'           DISPLAY "{label}" WITH NO ADVANCING',
        f"           PERFORM VARYING I FROM 1 BY 1 UNTIL I > FUNCTION LENGTH({name})",
        f"             COMPUTE BYTE-NO = FUNCTION ORD({name}(I:1)) - 1",
        '             DISPLAY " " BYTE-NO WITH NO ADVANCING',
        "           END-PERFORM",
        '           DISPLAY " "',
    ]


def _bytes_into(name: str, data: bytes) -> list[str]:
    lines = []
    for start in range(0, len(data), 20):
        chunk = data[start : start + 20]
        lines.append(f'           MOVE X"{chunk.hex().upper()}"')
        lines.append(f"             TO {name}({start + 1}:{len(chunk)})")
    return lines


def run(source: str) -> list[str]:
    """Compile and run a program; its output lines. Fails loudly without ``cobc``."""
    cobc = shutil.which("cobc")
    if cobc is None:
        raise RuntimeError("cobc (Debian gnucobol3) is not installed: run make setup")
    with tempfile.TemporaryDirectory(prefix="copybook-diff-") as scratch:
        path = Path(scratch) / "diff.cob"
        path.write_text(source)
        binary = Path(scratch) / "diff"
        compiled = subprocess.run(
            [cobc, "-x", "-std=ibm", "-fsign=EBCDIC", "-o", str(binary), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if compiled.returncode != 0:
            raise RuntimeError(f"cobc failed:\n{compiled.stderr}\n{source}")
        ran = subprocess.run([str(binary)], capture_output=True, check=True, timeout=120)
    return ran.stdout.decode("latin-1").splitlines()
