"""Loading a config whose tools give no result examples does not import jsonschema: with
its optional format checkers installed (the dev extras), that import alone takes over a
second of ``serve``'s start-up. A tool with result examples still has them checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from pathlib import Path
from adapters.installed import INSTALLED
from gateway.config.loader import load_config
loaded = load_config(Path(sys.argv[1]), INSTALLED)
print(sorted(loaded.tools), "jsonschema" in sys.modules)
"""
TOOL = """\
backends:
  crm: {adapter: http, base_url: "http://127.0.0.1:9/crm"}
tools:
  lookup_customer:
    description: One customer by number.
    backend: crm
    operation: POST /lookup
    input:
      customer_number: {to: CUSTNO}
    output:
      fields:
        name: {from: CUST_NAME}
"""
EXAMPLES = """\
    result_examples:
      - {name: 7}
"""


def _load(directory: Path, text: str) -> subprocess.CompletedProcess[str]:
    (directory / "tools.yaml").write_text(text)
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(directory)], capture_output=True, text=True, check=False
    )


def test_a_config_without_result_examples_loads_without_jsonschema(tmp_path: Path) -> None:
    ran = _load(tmp_path, TOOL)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["['lookup_customer'] False"]


def test_result_examples_are_still_checked_against_the_output_schema(tmp_path: Path) -> None:
    ran = _load(tmp_path, TOOL + EXAMPLES)
    assert ran.returncode != 0
    assert "result example does not match the output schema at name" in ran.stderr
