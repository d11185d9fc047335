"""``GET /v1/audit/overview``: the console's Audit and config panel, for the ``audit`` scope."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.store import now
from gateway.audit.verifications_store import Verification
from tests.integration.support import DEMO_CONFIG, create_key, demo_copy, error_of, gateway_client
from tests.integration.test_auth import bearer


def test_the_overview_shows_the_checkpoint_the_log_and_each_config_change(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    config = demo_copy(tmp_path)
    audit_db = tmp_path / "audit.sqlite"
    auditor = create_key(audit_db, "auditor", "audit")
    bot = create_key(audit_db, "teller-bot", "get_customer")
    with gateway_client(config, audit_db, watch_config_s=0.1, auth="keys") as client:
        refused = client.get("/v1/audit/overview", headers=bearer(bot))
        assert refused.status_code == 403, refused.text
        assert error_of(refused)["code"] == "forbidden"

        signed = client.get("/v1/audit/checkpoint", headers=bearer(auditor)).json()
        rates = config / "rates.yaml"
        old = "description: Today's exchange rate"
        assert old in rates.read_text()
        rates.write_text(rates.read_text().replace(old, "description: The exchange rate", 1))
        deadline = time.monotonic() + 10
        while True:
            body = client.get("/v1/audit/overview", headers=bearer(auditor)).json()
            versions = {entry["version"] for entry in body["config"]}
            if len(versions) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)

    assert body["checkpoint"]["size"] >= signed["size"] > 0
    assert body["checkpoint"]["age_s"] >= 0
    signed_at = dt.datetime.fromisoformat(body["checkpoint"]["signed_at"])
    assert signed_at <= dt.datetime.now(dt.UTC)
    assert body["log"]["records"] >= body["checkpoint"]["size"]
    assert body["log"]["first_index"] == 0
    assert body["last_verification"] is None  # audit verify never ran on this store
    assert body["last_prune"] is None

    newest, first = body["config"][0], body["config"][-1]
    assert first["kind"] == newest["kind"] == "loaded"
    assert first["changes"] is None  # nothing before it to compare with
    assert newest["previous_version"] == first["version"] != newest["version"]
    assert newest["changes_total"] == len(newest["changes"]) == 1
    (change,) = newest["changes"]
    assert change.startswith("~ tools.get_exchange_rate.description: Today's exchange rate")
    assert change.endswith("-> The exchange rate between two currencies (ISO 4217 codes).")
    assert newest["files"] and newest["tools"] >= 10 and newest["backends"] >= 4


def test_the_overview_shows_the_last_audit_verify_and_a_failure_as_such(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    audit_db = tmp_path / "audit.sqlite"
    auditor = create_key(audit_db, "auditor", "audit")
    store = SQLiteStore(audit_db)
    problem = "record 3 was changed after it was logged"
    failed = Verification(now(), "failed", 0, 12, 9, 2, 3, problem, "ops@host", "pinned")
    store.add_verification(failed)
    store.close()
    with gateway_client(DEMO_CONFIG, audit_db, auth="keys") as client:
        body = client.get("/v1/audit/overview", headers=bearer(auditor)).json()
    shown = body["last_verification"]
    assert shown["result"] == "failed" and shown["ok"] is False
    assert shown["at"] == failed.at and shown["age_s"] >= 0
    assert (shown["first_index"], shown["end_index"], shown["checkpoint_size"]) == (0, 12, 9)
    assert shown["first_bad_index"] == 3
    assert shown["problem"] == "record 3 was changed after it was logged"
    assert shown["checked_by"] == "ops@host"
