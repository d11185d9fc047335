"""``legacy-gateway import copybook``: the mapping it prints loads and maps the record."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from gateway.cli import app
from gateway.importers.copybook import CopybookImportError, copybook_mapping, snake_case
from gateway.mapping.records import OutputMapper
from gateway.mapping.spec import OutputSpec

COPYBOOK = """\
      * ORDER REPLY WITH ITS LINES
       01  ORDER-REPLY.
           05  ORD-NO           PIC 9(10).
           05  ORD-AMOUNT       PIC S9(7)V99 COMP-3.
           05  ORD-DATE         PIC 9(8).
           05  ORD-RATE         COMP-2.
           05  ORD-N-LINES      PIC 9.
           05  ORD-LINE         OCCURS 0 TO 3 TIMES
                                DEPENDING ON ORD-N-LINES.
               10  LINE-SKU     PIC X(6).
               10  LINE-QTY     PIC S9(3) COMP.
           05  ORD-ALT          REDEFINES ORD-DATE PIC X(8).
           05  2ND-NOTE         PIC X(5).
"""


def _output(tmp_path: Path, text: str) -> OutputSpec:
    block = YAML(typ="safe").load(text)["output"]
    return OutputSpec.model_validate(block, context={"base_dir": tmp_path})


def test_the_printed_mapping_loads_and_maps_a_record(tmp_path: Path) -> None:
    path = tmp_path / "ordrply.cpy"
    path.write_text(COPYBOOK)
    text = copybook_mapping(path, "cp037", dates={"ord-date": "%Y%m%d"})
    assert "ord_amount: {from: ORD-AMOUNT, type: decimal" in text
    assert "# ord_alt: ORD-ALT redefines ORD-DATE" in text
    spec = _output(tmp_path, text)
    layout = spec.record.compiled if spec.record is not None else None
    assert layout is not None
    record = layout.encode(
        {
            "ORD-NO": 1000000003,
            "ORD-AMOUNT": Decimal("-12.34"),
            "ORD-DATE": 20240611,
            "ORD-RATE": 0.5,
            "ORD-LINE": [{"LINE-SKU": "SHRT01", "LINE-QTY": 2}],
            "2ND-NOTE": "HI",
        }
    )
    assert OutputMapper(spec)(record) == {
        "ord_no": 1000000003,
        "ord_amount": -12.34,  # as the JSON number the agent gets
        "ord_date": "2024-06-11",
        "ord_rate": 0.5,
        "ord_n_lines": 1,
        "ord_line": [{"line_sku": "SHRT01", "line_qty": 2}],
        "f_2nd_note": "HI",
    }


def test_the_command_prints_it_and_names_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "ordrply.cpy"
    path.write_text(COPYBOOK)
    runner = CliRunner()
    result = runner.invoke(app, ["import", "copybook", str(path), "--date", "ORD-DATE=%Y%m%d"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Mapping of ordrply.cpy (37 to 61 bytes, code page cp037)")
    result = runner.invoke(app, ["import", "copybook", str(path), "--date", "NOPE=%Y"])
    assert result.exit_code != 0
    assert "--date names no field of the record: NOPE" in result.output
    path.write_text("01 R.\n 05 A PIC 9(3 .\n")
    with pytest.raises(CopybookImportError, match=r"ordrply\.cpy line 2: cannot read picture"):
        copybook_mapping(path)


def test_snake_case_names() -> None:
    assert snake_case("ORD-SHIP-DATE") == "ord_ship_date"
    assert snake_case("2ND-NOTE") == "f_2nd_note"
