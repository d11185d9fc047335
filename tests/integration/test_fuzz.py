"""Every agent-facing endpoint fuzzed from its OpenAPI document (schemathesis).

Against `legacy-gateway serve` on the demo estate: whatever a hostile or confused client
sends, the gateway answers without a server error, and every answer it documents matches
its schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.integration.support import DEMO_CONFIG, serve_process


@pytest.fixture(scope="module")
def served_api(
    estate_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    audit_db = tmp_path_factory.mktemp("fuzz") / "audit.sqlite"
    with serve_process(DEMO_CONFIG, {"LEGACY_GATEWAY_AUDIT_DB": str(audit_db)}) as (base, _):
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")


def test_no_server_errors_and_answers_match_their_schema(served_api: Any) -> None:
    operations = [result.ok() for result in served_api.get_all_operations()]
    # The event stream never ends by design; tests/integration/test_console_api.py reads it.
    # /mcp and /metrics are described for people; tests/integration/test_mcp.py and
    # tests/deploy hold them to their protocols.
    operations = [op for op in operations if op.path not in ("/v1/events", "/mcp", "/metrics")]
    assert len(operations) >= 10
    for operation in operations:

        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            case.call_and_validate(
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
            )

        fuzz()


def test_the_document_covers_the_agent_api(served_api: Any) -> None:
    paths = set(served_api.raw_schema["paths"])
    for path in (
        "/v1/tools",
        "/v1/tools/{name}",
        "/v1/tools/{name}/call",
        "/v1/calls/{call_id}",
        "/v1/calls/{call_id}/feedback",
        "/v1/approvals",
        "/v1/approvals/{approval_id}",
        "/v1/audit/checkpoint",
        "/v1/audit/proof/{call_id}",
        "/v1/audit/export",
        "/v1/calls",
        "/v1/sessions/{session_id}",
        "/v1/stats",
        "/v1/events",
    ):
        assert path in paths, path  # fmt: skip
