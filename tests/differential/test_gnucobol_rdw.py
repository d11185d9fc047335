"""Variable-length records against GnuCOBOL: a program writes a ``RECORDING MODE V`` file of
random records (a table whose length depends on a counter makes each record as long as its
data), and a mapping with ``framing: rdw`` reads that file to the same values and writes
the same bytes. GnuCOBOL's RDW holds the data's length only (its default ``COB_VARSEQ_FORMAT``
0), so the mapping declares ``rdw_counts_header: false``."""

from __future__ import annotations

import random
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.mapping.records import InputMapper, OutputMapper
from gateway.mapping.spec import InputField, OutputSpec

COPYBOOK = """\
       01  OUT-REC.
           05  REC-NO       PIC 9(3).
           05  REC-AMT      PIC S9(5)V99 COMP-3.
           05  REC-N        PIC 9.
           05  REC-ITEM     OCCURS 0 TO 6 TIMES
                            DEPENDING ON REC-N PIC X(4).
"""
RECORD = {
    "copybook": COPYBOOK,
    "encoding": "ascii",
    "transport": "binary",
    "framing": "rdw",
    "rdw_counts_header": False,
}


def _program(rows: list[dict[str, Any]]) -> str:
    moves = []
    for row in rows:
        moves.append(f"           MOVE {row['number']} TO REC-NO")
        moves.append(f"           MOVE {row['amount']} TO REC-AMT")
        moves.append(f"           MOVE {len(row['items'])} TO REC-N")
        for index, item in enumerate(row["items"], 1):
            moves.append(f'           MOVE "{item}" TO REC-ITEM({index})')
        moves.append("           WRITE OUT-REC")
    return f"""\
       IDENTIFICATION DIVISION.
       PROGRAM-ID. VWRITE.
       ENVIRONMENT DIVISION.
       INPUT-OUTPUT SECTION.
       FILE-CONTROL.
           SELECT OUT-FILE ASSIGN TO "records.dat"
               ORGANIZATION IS SEQUENTIAL.
       DATA DIVISION.
       FILE SECTION.
       FD  OUT-FILE
           RECORDING MODE IS V.
{COPYBOOK}       PROCEDURE DIVISION.
           OPEN OUTPUT OUT-FILE
{chr(10).join(moves)}
           CLOSE OUT-FILE
           STOP RUN.
"""


def _written_by_gnucobol(rows: list[dict[str, Any]], scratch: Path) -> bytes:
    cobc = shutil.which("cobc")
    if cobc is None:
        raise RuntimeError("cobc (Debian gnucobol3) is not installed: run make setup")
    (scratch / "vwrite.cob").write_text(_program(rows))
    compiled = subprocess.run(
        [cobc, "-x", "-std=ibm", "-fsign=EBCDIC", "-o", "vwrite", "vwrite.cob"],
        cwd=scratch,
        capture_output=True,
        text=True,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stderr
    subprocess.run(["./vwrite"], cwd=scratch, check=True, capture_output=True, timeout=60)
    return (scratch / "records.dat").read_bytes()


def _rows(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "number": rng.randrange(1000),
            "amount": Decimal(rng.randrange(-9999999, 10000000)).scaleb(-2),
            "items": ["".join(rng.choices("ABCDXYZ019", k=4)) for _ in range(rng.randrange(7))],
        }
        for _ in range(rng.randrange(1, 25))
    ]


def test_a_gnucobol_variable_length_file_reads_and_writes_the_same(tmp_path: Path) -> None:
    output = OutputMapper(
        OutputSpec.model_validate(
            {
                "list": True,
                "record": RECORD,
                "fields": {
                    "number": {"from": "REC-NO", "type": "integer"},
                    "amount": {"from": "REC-AMT", "type": "decimal"},
                    "items": {"from": "REC-ITEM", "list": True},
                },
            }
        )
    )
    fields = {
        "number": {"to": "REC-NO", "type": "integer"},
        "amount": {"to": "REC-AMT", "type": "decimal"},
        "items": {"to": "REC-ITEM", "list": True},
    }
    line = {"to": "FILE", "list": True, "record": RECORD, "fields": fields}
    inputs = InputMapper({"lines": InputField.model_validate(line)})
    rng = random.Random(20261129)
    for case in range(3):
        rows = _rows(rng)
        scratch = tmp_path / str(case)
        scratch.mkdir()
        data = _written_by_gnucobol(rows, scratch)
        # Each record is as long as its table: 3 + 4 + 1 + 4 per item, behind a 4-byte RDW.
        assert len(data) == sum(4 + 8 + 4 * len(row["items"]) for row in rows)
        decoded = output(data)["items"]
        assert [
            {**item, "amount": Decimal(str(item["amount"])).quantize(Decimal("0.01"))}
            for item in decoded
        ] == rows
        sent = inputs({"lines": [{**row, "amount": str(row["amount"])} for row in rows]})
        assert sent["FILE"] == data
