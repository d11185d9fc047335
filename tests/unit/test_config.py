"""Config loading: every mistake is named with its file, line and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from gateway.config.schema import config_json_schema
from gateway.errors import ConfigError, ConfigIssue
from gateway.mapping.redaction import Commitments
from gateway.tools import build_registry

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "mappings" / "demo"
WSDL = DEMO / "wsdl" / "customer_master.wsdl"

BACKEND = f"""\
backends:
  crm:
    adapter: soap
    wsdl: {WSDL}
    endpoint: http://127.0.0.1:9/customer-master
"""

TOOL = """\
tools:
  get_customer:
    description: Look up one customer.
    backend: crm
    operation: GetCustomer
    input:
      customer_number: {to: CUSTNO, pattern: "^[0-9]{8}$"}
    output:
      from: CUSTOMER
      fields:
        name: {from: CUST_NAME, trim: true}
"""


def write(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def issues_of(path: Path) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        build_registry(load_config(path, INSTALLED), Commitments.throwaway())
    return caught.value.issues


def only_issue(path: Path) -> ConfigIssue:
    issues = issues_of(path)
    assert len(issues) == 1, issues
    return issues[0]


def test_good_config_from_two_files(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, **{"backends.yaml": BACKEND, "tools.yml": TOOL}), INSTALLED
    )
    assert set(config.backends) == {"crm"}
    assert set(config.tools) == {"get_customer"}
    assert config.version.startswith("sha256:") and len(config.version) == 7 + 64
    registry = build_registry(config, Commitments.throwaway())
    assert registry.tools["get_customer"].listing["effect"] == "read"


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, **{"a.yaml": BACKEND + "    timeout_s: 5: 6\n"}))
    assert issue.file.endswith("a.yaml")
    assert issue.line == 6
    assert "invalid YAML" in issue.message


def test_unknown_key_names_file_line_key_and_suggests(tmp_path: Path) -> None:
    tool = TOOL.replace('pattern: "^[0-9]{8}$"', 'patern: "^[0-9]{8}$"')
    issue = only_issue(write(tmp_path, **{"b.yaml": BACKEND, "t.yaml": tool}))
    assert issue.file.endswith("t.yaml")
    assert issue.line == 7
    assert issue.key == "tools.get_customer.input.customer_number.patern"
    assert issue.message == "unknown key 'patern' (did you mean 'pattern'?)"


def test_unknown_top_level_key(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, **{"b.yaml": BACKEND.replace("backends:", "backend:")}))
    assert (issue.line, issue.key) == (1, "backend")
    assert "did you mean 'backends'" in issue.message


def test_unknown_backend_suggests_the_closest(tmp_path: Path) -> None:
    issue = only_issue(
        write(
            tmp_path, **{"b.yaml": BACKEND, "t.yaml": TOOL.replace("backend: crm", "backend: crn")}
        )
    )
    assert (issue.line, issue.key) == (4, "tools.get_customer.backend")
    assert issue.message == "unknown backend 'crn' (did you mean 'crm'?)"


def test_unknown_operation_lists_the_known_ones(tmp_path: Path) -> None:
    issue = only_issue(
        write(tmp_path, **{"b.yaml": BACKEND, "t.yaml": TOOL.replace("GetCustomer", "GetCustomr")})
    )
    assert (issue.line, issue.key) == (5, "tools.get_customer.operation")
    assert "operation 'GetCustomr' does not exist" in issue.message
    assert "GetCustomer, GetCustomerCount, ListCustomers" in issue.message


def test_unknown_adapter(tmp_path: Path) -> None:
    issue = only_issue(
        write(tmp_path, **{"b.yaml": BACKEND.replace("adapter: soap", "adapter: sopa")})
    )
    assert issue.key == "backends.crm.adapter"
    assert "unknown adapter 'sopa' (did you mean 'soap'?)" in issue.message


def test_missing_env_var_is_named_but_never_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_URL_FOR_TEST", raising=False)
    backend = BACKEND.replace("http://127.0.0.1:9/customer-master", "${CRM_URL_FOR_TEST}")
    issue = only_issue(write(tmp_path, **{"b.yaml": backend}))
    assert (issue.line, issue.key) == (5, "backends.crm.endpoint")
    assert "environment variable CRM_URL_FOR_TEST is not set" in issue.message


def test_env_var_expands_with_default_and_secret_never_in_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = BACKEND.replace(
        "http://127.0.0.1:9/customer-master", "${CRM_URL_T:-http://127.0.0.1:9/x}"
    )
    backend += "    wsse:\n      username: app\n      password: ${CRM_PASSWORD_T}\n"
    monkeypatch.setenv("CRM_PASSWORD_T", "s3cret-value")
    config = load_config(write(tmp_path, **{"b.yaml": backend}), INSTALLED)
    crm = config.backends["crm"]
    assert crm.endpoint == "http://127.0.0.1:9/x"  # type: ignore[attr-defined]
    assert "s3cret-value" not in repr(crm)
    assert "s3cret-value" not in orjson.dumps(config.canonical).decode()
    monkeypatch.setenv("CRM_PASSWORD_T", "another")
    assert load_config(tmp_path, INSTALLED).version == config.version  # the version hashes the YAML


def test_version_changes_with_the_config(tmp_path: Path) -> None:
    first = load_config(write(tmp_path, **{"b.yaml": BACKEND, "t.yaml": TOOL}), INSTALLED).version
    # Reformatting and comments do not change the version; a changed value does.
    write(tmp_path, **{"t.yaml": "# comment\n" + TOOL})
    assert load_config(tmp_path, INSTALLED).version == first
    write(tmp_path, **{"t.yaml": TOOL.replace("trim: true", "trim: false")})
    assert load_config(tmp_path, INSTALLED).version != first


def test_duplicate_tool_across_files(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, **{"b.yaml": BACKEND, "t1.yaml": TOOL, "t2.yaml": TOOL}))
    assert issue.file.endswith("t2.yaml")
    assert "declared twice; first declared at" in issue.message and "t1.yaml:2" in issue.message


def test_missing_wsdl_file(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, **{"b.yaml": BACKEND.replace(str(WSDL), "nowhere.wsdl")}))
    assert (issue.line, issue.key) == (4, "backends.crm.wsdl")
    assert "WSDL file not found" in issue.message


def test_unit_of_wrong_dimension_is_a_config_error(tmp_path: Path) -> None:
    tool = TOOL + "        height: {from: HEIGHT_IN, type: decimal, unit: {from: inch, to: kg}}\n"
    issue = only_issue(write(tmp_path, **{"b.yaml": BACKEND, "t.yaml": tool}))
    assert issue.key == "tools.get_customer.output.fields.height.unit"
    assert issue.line == 12
    assert "cannot convert inch" in issue.message


def test_examples_must_validate(tmp_path: Path) -> None:
    tool = TOOL + "    examples:\n      - {customer_number: ABC}\n"
    issue = only_issue(write(tmp_path, **{"b.yaml": BACKEND, "t.yaml": tool}))
    assert (issue.key, issue.line) == ("tools.get_customer.examples[0]", 13)
    assert "does not match pattern" in issue.message


def test_all_issues_reported_at_once(tmp_path: Path) -> None:
    tool = TOOL.replace("backend: crm", "backend: nope").replace("trim: true", "trim: maybe")
    issues = issues_of(write(tmp_path, **{"b.yaml": BACKEND, "t.yaml": tool}))
    assert {i.key for i in issues} == {
        "tools.get_customer.backend",
        "tools.get_customer.output.fields.name.trim",
    }


def test_demo_config_is_valid() -> None:
    registry = build_registry(load_config(DEMO, INSTALLED), Commitments.throwaway())
    assert set(registry.tools) >= {
        "get_customer",
        "search_customers",
        "list_customers",
        "update_customer_address",
    }
    for tool in registry.tools.values():
        assert tool.input_schema["examples"], f"{tool.name} has no working example"


def test_published_json_schema_is_current() -> None:
    published = orjson.loads((ROOT / "mappings" / "config.schema.json").read_bytes())
    assert published == config_json_schema(INSTALLED), "run `make schema` to regenerate it"


def test_single_file_config(tmp_path: Path) -> None:
    path = tmp_path / "all.yaml"
    path.write_text(BACKEND + TOOL)
    assert set(load_config(path, INSTALLED).tools) == {"get_customer"}
    shutil.rmtree(tmp_path)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(path, INSTALLED)


def test_unknown_operation_parameter_suggests_the_closest(tmp_path: Path) -> None:
    tool = TOOL.replace("to: CUSTNO", "to: CustNo")
    issue = only_issue(write(tmp_path, **{"b.yaml": BACKEND, "t.yaml": tool}))
    assert (issue.line, issue.key) == (7, "tools.get_customer.input.customer_number.to")
    expected = "operation GetCustomer has no parameter 'CustNo' (did you mean 'CUSTNO'?)"
    assert issue.message == expected


def test_a_required_parameter_no_field_maps_onto(tmp_path: Path) -> None:
    tool = TOOL.replace("operation: GetCustomer", "operation: UpdateCustomerAddress")
    issue = only_issue(write(tmp_path, **{"b.yaml": BACKEND, "t.yaml": tool}))
    assert (issue.line, issue.key) == (6, "tools.get_customer.input")
    assert issue.message.startswith(
        "operation UpdateCustomerAddress requires ADDR_LINE1, CITY, POST_CD, CTRY_CD"
    )


def test_floats_and_other_yaml_scalars_load(tmp_path: Path) -> None:
    backend = BACKEND + "    timeout_s: 2.5\n    verify_tls: yes\n"
    config = load_config(write(tmp_path, **{"b.yaml": backend}), INSTALLED)
    assert config.backends["crm"].timeout_s == 2.5
    assert type(config.canonical["backends"]["crm"]["timeout_s"]) is float


def test_result_examples_must_match_the_output_schema(tmp_path: Path) -> None:
    tool = TOOL + "    result_examples:\n      - {name: 42}\n"
    issue = only_issue(write(tmp_path, **{"b.yaml": BACKEND, "t.yaml": tool}))
    assert (issue.key, issue.line) == ("tools.get_customer.result_examples[0]", 13)
    assert issue.message.startswith("result example does not match the output schema at name:")
