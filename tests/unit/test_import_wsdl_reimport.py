"""Importing again over a config: a diff that never overwrites what was edited by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from adapters.installed import INSTALLED
from gateway.cli import app
from gateway.config.loader import load_config
from gateway.importers.run import wsdl_to_config

FIXTURE = Path(__file__).parent.parent / "fixtures" / "wsdl" / "constructs"


def _wsdl(tmp_path: Path) -> Path:
    target = tmp_path / "wsdl"
    shutil.copytree(FIXTURE, target)
    return target / "constructs.wsdl"


def test_reimport_adds_removes_changes_and_keeps_hand_edits(tmp_path: Path) -> None:
    wsdl = _wsdl(tmp_path)
    out = tmp_path / "config"
    path, first, _ = wsdl_to_config(str(wsdl), out)
    assert sorted(first.added) == ["get_rate", "place_order"]

    # The integrator edits one tool by hand, with a comment.
    text = path.read_text(encoding="utf-8")
    generated = 'description: "Place an order for a customer."'
    assert generated in text
    text = text.replace(generated, "description: Order tailored goods.  # ours")
    path.write_text(text, encoding="utf-8")

    # The vendor renames GetRate, and changes PlaceOrder's documentation.
    source = wsdl.read_text(encoding="utf-8")
    source = source.replace('name="GetRate"', 'name="GetRates"')
    source = source.replace("Place an order for a customer.", "Place one order.")
    wsdl.write_text(source, encoding="utf-8")

    _, second, _ = wsdl_to_config(str(wsdl), out)
    assert second.added == ["get_rates"]
    assert second.removed == ["get_rate"]
    assert second.kept_edited == ["place_order"]
    merged = path.read_text(encoding="utf-8")
    assert "description: Order tailored goods.  # ours" in merged
    config = load_config(out, INSTALLED)
    assert sorted(config.tools) == ["get_rates", "place_order"]

    # An unedited tool takes the new version; a third run with no change reports nothing.
    opening = '<wsdl:portType name="Rates">\n    <wsdl:operation name="GetRates">'
    documented = opening + "<wsdl:documentation>Exchange rate of a day.</wsdl:documentation>"
    source = source.replace(opening, documented)
    wsdl.write_text(source, encoding="utf-8")
    _, third, _ = wsdl_to_config(str(wsdl), out)
    assert third.changed == ["get_rates"]
    assert load_config(out, INSTALLED).tools["get_rates"].description == "Exchange rate of a day."
    _, fourth, _ = wsdl_to_config(str(wsdl), out)
    assert fourth.lines() == ["no changes"]


def test_cli_selects_operations_and_reports_bad_input(tmp_path: Path) -> None:
    wsdl = _wsdl(tmp_path)
    runner = CliRunner()
    out = tmp_path / "config"
    result = runner.invoke(
        app, ["import", "wsdl", str(wsdl), "--operations", "get_*", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "added: get_rate" in result.output
    assert sorted(load_config(out, INSTALLED).tools) == ["get_rate"]
    missing = runner.invoke(app, ["import", "wsdl", str(tmp_path / "nope.wsdl")])
    assert missing.exit_code == 2
    assert "cannot read WSDL" in missing.output


def test_validate_tools_and_map_accept_the_import(tmp_path: Path) -> None:
    wsdl = _wsdl(tmp_path)
    out = tmp_path / "config"
    wsdl_to_config(str(wsdl), out)
    runner = CliRunner()
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0
    listed = runner.invoke(app, ["tools", str(out)])
    assert listed.exit_code == 0 and '"place_order"' in listed.output
    args = tmp_path / "args.json"
    args.write_text('{"query": {"from": "EUR", "to": "USD"}, "day": "2024-01-31"}')
    rendered = runner.invoke(app, ["map", str(out), "get_rate", "--input-from", str(args)])
    assert rendered.exit_code == 0, rendered.output
    assert "<day>2024-01-31</day>" in rendered.output


def test_validate_names_the_nearest_real_element_for_a_mistyped_output_path(
    tmp_path: Path,
) -> None:
    wsdl = _wsdl(tmp_path)
    out = tmp_path / "config"
    path, _, _ = wsdl_to_config(str(wsdl), out)
    text = path.read_text(encoding="utf-8")
    assert "order_number: {from: OrderNumber" in text
    path.write_text(text.replace("from: OrderNumber", "from: OrderNumbr"), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(out)])
    assert result.exit_code == 1
    assert "tools.place_order.output.fields.order_number.from" in result.output
    assert "the answer of PlaceOrder has no element 'OrderNumbr' here" in result.output
    assert "did you mean 'OrderNumber'" in result.output
    assert "(it has: Lines, OrderNumber, Status)" in result.output


def test_validate_checks_request_paths_and_namespaces(tmp_path: Path) -> None:
    wsdl = _wsdl(tmp_path)
    out = tmp_path / "config"
    path, _, _ = wsdl_to_config(str(wsdl), out)
    text = path.read_text(encoding="utf-8")
    runner = CliRunner()
    for wrong, expected in (
        ("to: ns0:Wanted", "no element {urn:example:orders}Wanted here"),
        ("to: ns1:Street", "(the schema has {urn:example:common}Street: check the namespace)"),
        ('to: "@currency"', "no attribute 'currencyy' here (did you mean 'currency'?)"),
    ):
        broken = {
            "to: ns0:Wanted": text.replace("to: ns0:Wanted", "to: ns0:Wantedd"),
            "to: ns1:Street": text.replace("to: ns1:Street", "to: ns0:Street", 1),
            'to: "@currency"': text.replace('to: "@currency"', 'to: "@currencyy"'),
        }[wrong]
        path.write_text(broken, encoding="utf-8")
        result = runner.invoke(app, ["validate", str(out)])
        assert result.exit_code == 1, wrong
        assert expected.replace("Wanted here", "Wantedd here") in result.output, result.output
    path.write_text(text, encoding="utf-8")
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0
