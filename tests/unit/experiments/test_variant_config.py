"""Variants in YAML: each is checked as a whole tool, and a mistake is named where it is."""

from __future__ import annotations

from pathlib import Path

from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from gateway.mapping.redaction import Commitments
from gateway.tools import build_registry
from tests.unit.test_config import BACKEND, issues_of, only_issue, write

TOOL = """\
tools:
  get_customer:
    description: Look up one customer.
    backend: crm
    operation: GetCustomer
    effect: {effect}
    input:
      customer_number: {{to: CUSTNO, pattern: "^[0-9]{{8}}$"}}
    output:
      from: CUSTOMER
      fields:
        name: {{from: CUST_NAME, trim: true}}
    examples:
      - {{customer_number: "10000001"}}
    variants:
{variants}
"""


def config(tmp_path: Path, variants: str, effect: str = "read") -> Path:
    text = TOOL.format(effect=effect, variants=variants)
    return write(tmp_path, **{"b.yaml": BACKEND, "t.yaml": text})


def test_each_variant_becomes_a_tool_of_the_same_name(tmp_path: Path) -> None:
    variants = """\
      terse: {weight: 0.5, description: Customer by number.}
      raw_name:
        shadow: true
        output:
          from: CUSTOMER
          fields:
            name: {from: CUST_NAME}
"""
    registry = build_registry(
        load_config(config(tmp_path, variants), INSTALLED), Commitments.throwaway()
    )
    base = registry.tools["get_customer"]
    assert base.variant == "baseline"
    assert set(base.variants) == {"terse", "raw_name"}
    terse, raw = base.variants["terse"], base.variants["raw_name"]
    assert (terse.name, terse.variant) == ("get_customer", "terse")
    assert terse.listing["description"] == "Customer by number."
    assert terse.input_schema == base.input_schema  # the rest is the tool's own
    assert terse.version == f"{base.version}:terse"
    assert raw.config.description == "Look up one customer."
    assert raw.output({"CUSTOMER": {"CUST_NAME": "ADA  "}}) == {"name": "ADA  "}
    assert base.output({"CUSTOMER": {"CUST_NAME": "ADA  "}}) == {"name": "ADA"}
    assert set(registry.tools) == {"get_customer"}  # variants are not tools of their own


def test_weights_over_one_are_refused(tmp_path: Path) -> None:
    issue = only_issue(config(tmp_path, "      b: {weight: 0.6}\n      c: {weight: 0.5}\n"))
    assert issue.key == "tools.get_customer"
    assert "weights add up to more than 1" in issue.message


def test_a_shadow_of_a_write_tool_is_refused(tmp_path: Path) -> None:
    issue = only_issue(config(tmp_path, "      b: {shadow: true}\n", effect="write"))
    assert "shadow runs are for read tools only" in issue.message
    assert issue.file.endswith("t.yaml")


def test_a_write_tool_may_split_between_valid_variants(tmp_path: Path) -> None:
    variants = "      b: {weight: 0.5, description: Other words.}\n"
    registry = build_registry(
        load_config(config(tmp_path, variants, effect="write"), INSTALLED), Commitments.throwaway()
    )
    assert registry.tools["get_customer"].variants["b"].config.effect == "write"


def test_a_shadow_takes_no_weight(tmp_path: Path) -> None:
    issue = only_issue(config(tmp_path, "      b: {shadow: true, weight: 0.1}\n"))
    assert issue.key == "tools.get_customer.variants.b"
    assert "a shadow variant answers no calls" in issue.message


def test_a_variant_name_is_lower_snake_case_and_not_baseline(tmp_path: Path) -> None:
    issue = only_issue(config(tmp_path, "      baseline: {weight: 0.1}\n"))
    assert "not 'baseline'" in issue.message


def test_an_unknown_key_in_a_variant_is_located(tmp_path: Path) -> None:
    issue = only_issue(config(tmp_path, "      b: {weight: 0.1, backend: other}\n"))
    assert issue.key == "tools.get_customer.variants.b.backend"
    assert "unknown key 'backend'" in issue.message
    assert issue.line == 16


def test_an_unknown_operation_of_a_variant_is_located(tmp_path: Path) -> None:
    issue = only_issue(config(tmp_path, "      b: {weight: 0.1, operation: GetCustomr}\n"))
    assert issue.key == "tools.get_customer.variants.b.operation"
    assert "GetCustomer" in issue.message  # the suggestion


def test_a_broken_mapping_of_a_variant_is_located(tmp_path: Path) -> None:
    variants = """\
      b:
        weight: 0.1
        output:
          from: CUSTOMER
          fields:
            name: {from: CUST_NAME, type: date, format: "%Q"}
"""
    issues = issues_of(config(tmp_path, variants))
    assert issues, "a variant's broken mapping must be refused"
    assert all(i.key.startswith("tools.get_customer.variants.b.output") for i in issues), issues


def test_a_variants_examples_must_pass_its_own_mapping(tmp_path: Path) -> None:
    variants = """\
      b:
        weight: 0.1
        input:
          customer_number: {to: CUSTNO, pattern: "^[0-9]{10}$"}
"""
    issue = only_issue(config(tmp_path, variants))
    assert issue.key == "tools.get_customer.variants.b.examples[0]"
    assert "example does not validate" in issue.message
