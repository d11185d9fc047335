"""Every kind of mapping mistake is a config error with the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from gateway.errors import ConfigError

WSDL = Path(__file__).resolve().parents[2] / "mappings" / "demo" / "wsdl" / "customer_master.wsdl"

CONFIG = f"""\
backends:
  crm:
    adapter: soap
    wsdl: {WSDL}
code_tables:
  status: {{A: active, C: closed}}
tools:
  get_customer:
    description: Look up one customer.
    backend: crm
    operation: GetCustomer
    input:
      customer_number: {{to: CUSTNO}}
    output:
      from: CUSTOMER
      fields:
        value: FIELD
"""
# The field is on line 17 of the file above.
LINE = 17


@pytest.mark.parametrize(
    ("field", "key", "message"),
    [
        ("{from: X, trimm: true}", "value.trimm", "unknown key 'trimm' (did you mean 'trim'?)"),
        ("{from: X, scale: -2, type: string}", "value", "scale applies only to type: decimal"),
        ("{from: X, format: '%Y%m%d'}", "value", "format applies only to type: date"),
        ("{from: X, type: date, format: '%Y%m'}", "value", "loses part of a date"),
        ("{from: X, type: time, format: CYYDDD}", "value", "CYYDDD is a date layout"),
        ("{from: X, type: date, format: YYMMDDX}", "value", "neither a strftime pattern"),
        ("{from: X, type: date, timezone: UTC}", "value", "timezone applies only to type: dat"),
        ("{from: X, type: datetime, timezone: Mars/Olympus}", "value.timezone", "unknown time"),
        ("{from: X, unit: {from: inch, to: kg}}", "value.unit", "cannot convert inch"),
        ("{from: X, unit: {from: inch, to: furlongz}}", "value.unit", "unknown unit"),
        ("{from: X, unit: {from: inch, to: cm}, type: string}", "value", "unit applies only"),
        ("{from: X, codes: {A: one, B: one}}", "value.codes", "distinct agent value"),
        ("{from: X, codes: statuss}", "value.codes", "did you mean 'status'?"),
        ("{from: X, flags: [Y, N]}", "value", "flags applies only to type: boolean"),
        ("{from: X, unknown_code: ignore}", "value.unknown_code", "'error', 'pass' or 'null'"),
        ("{from: 'X[?', trim: true}", "value.from", "invalid JMESPath"),
        ("{xpath: 'a:B'}", "", "use output.xpath instead of output.from"),
        ("{from: X, xpath: B}", "value", "from (JMESPath) or xpath, not both"),
        ("{from: X, type: object}", "value", "type: object needs fields"),
        ("{from: X, record: {layout: {A: 2}}}", "value", "record needs fields"),
        (
            "{from: X, record: {layout: {A: 2}, copybook: x.cpy}, fields: {a: {from: A}}}",
            "value.record",
            "exactly one of copybook or layout",
        ),
        (
            "{from: X, record: {copybook: missing.cpy}, fields: {a: {from: A}}}",
            "value.record",
            "cannot read copybook",
        ),
        (
            '{from: X, record: {copybook: "05 A PIC 9P9.\\n"}, fields: {a: {from: A}}}',
            "value.record",
            "copybook line 1: P must be at one end of picture",
        ),
        (
            "{from: X, record: {layout: {A: 2}, encoding: cp9999}, fields: {a: {from: A}}}",
            "value.record",
            "unsupported encoding 'cp9999'",
        ),
        ("{from: X, width: 0}", "value.width", "greater than or equal to 1"),
        ("{from: X, pad: '--'}", "value.pad", "at most 1 character"),
    ],
)
def test_each_mapping_mistake_is_located(
    tmp_path: Path, field: str, key: str, message: str
) -> None:
    (tmp_path / "tools.yaml").write_text(CONFIG.replace("FIELD", field))

    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, INSTALLED)

    issues = caught.value.issues
    assert len(issues) == 1, issues
    issue = issues[0]
    assert issue.file.endswith("tools.yaml")
    if key:
        assert (issue.line, issue.key) == (LINE, f"tools.get_customer.output.fields.{key}")
    else:  # a mistake of the output as a whole is reported at output:
        assert (issue.line, issue.key) == (LINE - 3, "tools.get_customer.output")
    assert message in issue.message


def test_an_undeclared_xml_prefix_in_a_request_is_located(tmp_path: Path) -> None:
    config = CONFIG.replace("FIELD", "{from: X}").replace(
        "      customer_number: {to: CUSTNO}",
        "      customer_number: {to: 'cm:Customer/@id'}\n"
        "    request: {xml: {root: cm:GetCustomer, namespaces: {cx: 'urn:x'}}}",
    )
    (tmp_path / "tools.yaml").write_text(config)

    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, INSTALLED)

    keys = {issue.key: issue.message for issue in caught.value.issues}
    root = keys["tools.get_customer.request.xml.root"]
    assert "prefix 'cm' is not declared (declared: cx)" in root


def test_an_undeclared_xpath_prefix_is_located(tmp_path: Path) -> None:
    config = CONFIG.replace(
        "      from: CUSTOMER\n", "      xpath: cm:CUSTOMER\n      namespaces: {cm: 'urn:x'}\n"
    ).replace("FIELD", "{xpath: 'cx:NAME'}")
    (tmp_path / "tools.yaml").write_text(config)

    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, INSTALLED)

    issue = caught.value.issues[0]
    assert issue.key == "tools.get_customer.output.fields.value.xpath"
    assert "Undefined namespace prefix (declared prefixes: cm)" in issue.message


def test_a_broken_shared_code_table_is_located(tmp_path: Path) -> None:
    config = CONFIG.replace("FIELD", "{from: X}").replace(
        "  status: {A: active, C: closed}", "  status: {A: active, C: active}"
    )
    (tmp_path / "tools.yaml").write_text(config)

    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, INSTALLED)

    issue = caught.value.issues[0]
    assert (issue.key, issue.line) == ("code_tables.status", 6)
    assert "distinct agent value" in issue.message
