"""The experiments loop end to end on the demo: an A/B split of a tool's description read
by scripted agents, a candidate mapping in the shadow of live reads, the report finding the
better description with its interval, the winner promoted by a config change, and every
step on the record."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

from adapters.installed import INSTALLED
from estate.customers import CustomerStore
from gateway.config.loader import load_config
from tests.integration.amqp_support import wait_until
from tests.integration.support import (
    bearer,
    demo_copy,
    gateway_client,
    gateway_of,
    key_for,
    run,
)

CODES = ["EUR", "USD", "GBP", "CHF"]
NAMES = {"EUR": "euro", "USD": "dollar", "GBP": "pound", "CHF": "franc"}
AGENTS = 24
CALLS_EACH = 15
READS = 120


def description_seen(client: TestClient, key: str, tool: str) -> str:
    listing = client.get("/v1/tools", headers=bearer(key)).json()["tools"]
    text: str = {entry["name"]: entry for entry in listing}[tool]["description"]
    return text


def scripted_agent(client: TestClient, key: str, seed: int) -> str:
    """Asks for rates as its tool description tells it: an agent told "three-letter code"
    sends codes; one told only "ISO 4217 codes" sometimes sends the currency's name."""
    description = description_seen(client, key, "get_exchange_rate")
    pick = random.Random(seed)
    for _ in range(CALLS_EACH):
        source, target = pick.sample(CODES, 2)
        if "three-letter" not in description and pick.random() < 0.3:
            source = NAMES[source]
        response = client.post(
            "/v1/tools/get_exchange_rate/call",
            headers=bearer(key),
            json={"arguments": {"from_currency": source, "to_currency": target},
                  "context": {"agent_version": "7", "prompt_version": "p1"}},
        )  # fmt: skip
        assert response.status_code in (200, 422), response.text
    return description


def experiments_of(client: TestClient, key: str, **query: str) -> dict[str, Any]:
    response = client.get("/v1/experiments", params=query, headers=bearer(key))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def split_between_agents(client: TestClient) -> None:
    """Scripted agents call; each saw its variant's description in tools/list."""
    store = gateway_of(client).store
    seen: dict[str, str] = {}
    for n in range(AGENTS):
        key = key_for(client, f"agent-{n}", ["get_exchange_rate", "get_customer_profile"])
        seen[f"key:agent-{n}"] = scripted_agent(client, key, n)

    # Each agent saw, in tools/list, the description of the variant its calls got.
    intents = [r for r in store.records_of_kind("call.intent", "call.rejected")
               if r.body["tool"] == "get_exchange_rate"]  # fmt: skip
    assert len(intents) == AGENTS * CALLS_EACH
    variant_of = {r.context.principal: r.body["variant"] for r in intents}
    assert {r.body["variant"] for r in intents} == {"baseline", "explicit_codes"}
    for principal, variant in variant_of.items():
        assert ("three-letter" in seen[principal]) == (variant == "explicit_codes")
    assert min(list(variant_of.values()).count(v) for v in ("baseline", "explicit_codes")) >= 6


def shadowed_reads(client: TestClient) -> list[str]:
    """Live reads of get_customer_profile, each shadowed; the customers of status P."""
    store = gateway_of(client).store
    # The candidate mapping of get_customer_profile runs in the shadow of live reads.
    agent = key_for(client, "reader", ["get_customer_profile"])
    numbers = [f"{10000001 + n}" for n in range(READS)]
    for number in numbers:
        response = client.post(
            "/v1/tools/get_customer_profile/call", headers=bearer(agent),
            json={"arguments": {"customer_number": number}},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        assert response.json()["result"]["status"] != "awaiting_verification"
    wait_until(lambda: len(store.records_of_kind("call.shadow")) == READS, 20,
               "every read shadowed")  # fmt: skip
    customers = CustomerStore.generated()
    pending = [n for n in numbers if (c := customers.get(n)) is not None and c.stat_cd == "P"]
    assert pending, "the demo data has customers of status P among the first reads"
    disagreeing = [r for r in store.records_of_kind("call.shadow") if not r.body["agree"]]
    assert len(disagreeing) == len(pending)
    assert disagreeing[0].body["differences"] == [
        {"field": "status", "live": "pending", "shadow": "awaiting_verification"}
    ]
    return pending


def test_the_report_finds_the_better_description_and_the_shadows_disagreements(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    config = demo_copy(tmp_path)
    audit_db = tmp_path / "audit.sqlite"
    with gateway_client(config, audit_db, watch_config_s=0.1, auth="keys") as client:
        reviewer = key_for(client, "reviewer", ["review"])
        agent = key_for(client, "outsider", ["get_customer_profile"])
        split_between_agents(client)
        pending = shadowed_reads(client)

        # An agent cannot read the report; a reviewer can.
        denied = client.get("/v1/experiments", headers=bearer(agent))
        assert denied.status_code == 403
        answer = experiments_of(client, reviewer, tool="get_exchange_rate")
        [rates] = answer["tools"]
        base, explicit = rates["groups"]
        assert (base["name"], explicit["name"]) == ("baseline", "explicit_codes")
        assert rates["window"] == "7d"  # the tool's experiment.window, as no since was given
        assert base["calls"] + explicit["calls"] == AGENTS * CALLS_EACH
        assert base["invalid_argument_rate"]["rate"] > 0.15
        assert explicit["invalid_argument_rate"]["count"] == 0
        versus = explicit["error_rate_versus_baseline"]
        assert versus["verdict"] == "better"
        low, high = versus["ci95"]
        assert low < versus["difference"] < high < 0
        assert rates["stopped"] == []  # the guard never fired: explicit_codes did not fail

        shadows = experiments_of(client, reviewer, tool="get_customer_profile")["tools"][0]
        [live] = shadows["groups"]
        assert live["shadow"]["runs"] == READS
        assert live["shadow"]["disagreement_rate"]["count"] == len(pending)
        assert live["shadow"]["fields"] == {"status": len(pending)}

        by_prompt = experiments_of(client, reviewer, tool="get_exchange_rate", by="prompt_version")
        assert by_prompt["tools"][0]["groups"][0]["name"] == "p1"

        promote(client, config)
    after_the_gateway_stopped(audit_db)


def promote(client: TestClient, config: Path) -> None:
    """Promote the winner: a config change like any other, recorded as config.loaded."""
    store = gateway_of(client).store
    before = gateway_of(client).config.version
    rates_yaml = config / "rates.yaml"
    text = rates_yaml.read_text()
    head, _, _ = text.partition("    # An A/B test of the description")
    winner = gateway_of(client).tools["get_exchange_rate"].variants["explicit_codes"]
    promoted = head.replace(
        "description: Today's exchange rate between two currencies (ISO 4217 codes).",
        f"description: {orjson.dumps(winner.config.description).decode()}",
    )
    assert promoted != head
    rates_yaml.write_text(promoted)
    wait_until(lambda: gateway_of(client).config.version != before, 10, "the promotion")
    key = key_for(client, "late-agent", ["get_exchange_rate"])
    assert "three-letter" in description_seen(client, key, "get_exchange_rate")
    loaded = store.records_of_kind("config.loaded")
    assert loaded[-1].context.config_version == gateway_of(client).config.version


def after_the_gateway_stopped(audit_db: Path) -> None:
    """The command reads the same report from the record store."""
    report = run("experiments", "report", "--tool", "get_exchange_rate",
                 "--audit-db", str(audit_db))  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "explicit_codes" in report.stdout
    assert "better" in report.stdout
    assert "Newcomb" in report.stdout
    as_json = run("experiments", "report", "--json", "--audit-db", str(audit_db))
    assert as_json.returncode == 0, as_json.stderr
    tools = {t["tool"] for t in orjson.loads(as_json.stdout)["tools"]}
    assert tools == {"get_exchange_rate", "get_customer_profile"}
    history = run("config", "history", "--audit-db", str(audit_db))
    assert history.returncode == 0, history.stderr
    assert len(history.stdout.splitlines()) >= 2


def test_reviewers_work_the_queue_and_corrections_export_as_json_lines(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    audit_db = tmp_path / "audit.sqlite"
    config = demo_copy(tmp_path)
    with gateway_client(config, audit_db, auth="keys") as client:
        agent = key_for(client, "teller", ["get_exchange_rate"])
        reviewer = key_for(client, "expert", ["review"])
        failed = client.post(
            "/v1/tools/get_exchange_rate/call", headers=bearer(agent),
            json={"arguments": {"from_currency": "euro", "to_currency": "USD"},
                  "context": {"session_id": "s-1"}},
        )  # fmt: skip
        assert failed.status_code == 422
        call_id = failed.json()["error"]["call_id"]

        assert client.get("/v1/reviews", headers=bearer(agent)).status_code == 403
        queue = client.get("/v1/reviews", headers=bearer(reviewer)).json()["reviews"]
        mine = [entry for entry in queue if entry["call_id"] == call_id]
        assert len(mine) == 1
        assert mine[0]["reasons"] == ["error:invalid_arguments"]
        assert mine[0]["tool"] == "get_exchange_rate"
        assert mine[0]["call"]["arguments"] == {"from_currency": "euro", "to_currency": "USD"}

        correction = {"from_currency": "GBP", "to_currency": "CHF"}
        posted = client.post(
            f"/v1/reviews/{call_id}", headers=bearer(reviewer),
            json={"score": 1, "label": "currency_name", "correction": correction},
        )  # fmt: skip
        assert posted.status_code == 201, posted.text
        assert posted.json()["review"]["principal"] == "key:expert"
        queue = client.get("/v1/reviews", headers=bearer(reviewer)).json()["reviews"]
        assert call_id not in [entry["call_id"] for entry in queue]
        unknown = client.post("/v1/reviews/no-such-call", headers=bearer(reviewer), json={})
        assert unknown.status_code == 404

    out = tmp_path / "corrections.jsonl"
    exported = run("feedback", "export", "--label", "currency_name", "--out", str(out),
                   "--audit-db", str(audit_db))  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    [row] = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert row["call_id"] == call_id
    assert row["tool"] == "get_exchange_rate"
    assert row["variant"] in ("baseline", "explicit_codes")
    assert row["arguments"] == {"from_currency": "euro", "to_currency": "USD"}
    assert row["context"] == {"session_id": "s-1"}
    assert row["error"]["code"] == "invalid_arguments"
    assert (row["correction"], row["label"], row["score"]) == (correction, "currency_name", 1)
    assert (row["reviewer"], row["review"], row["claimed_author"]) == ("key:expert", True, None)
    assert row["time"] >= row["called_at"]

    # The correction becomes an example of the tool, in its YAML file, checked first.
    promoted = run("feedback", "promote", call_id, "--as", "arguments", "--config", str(config),
                   "--audit-db", str(audit_db))  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr
    assert "rates.yaml" in promoted.stdout
    assert correction in load_config(config, INSTALLED).tools["get_exchange_rate"].examples
    assert "# An A/B test of the description" in (config / "rates.yaml").read_text()
    again = run("feedback", "promote", call_id, "--as", "arguments", "--config", str(config),
                "--audit-db", str(audit_db))  # fmt: skip
    assert again.returncode == 2
    assert "already one of get_exchange_rate's examples" in again.stderr
    # As a result example it does not match the tool's output schema: refused, unchanged.
    before = (config / "rates.yaml").read_text()
    refused = run("feedback", "promote", call_id, "--config", str(config),
                  "--audit-db", str(audit_db))  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert "result_examples" in refused.stderr
    # The issue names the file the example was meant for, not the scratch copy checked.
    assert f"{config / 'rates.yaml'}:" in refused.stderr, refused.stderr
    assert (config / "rates.yaml").read_text() == before


def test_feedback_export_keeps_the_author_a_caller_claims(
    estate_env: dict[str, str], tmp_path: Path
) -> None:
    audit_db = tmp_path / "audit.sqlite"
    with gateway_client(demo_copy(tmp_path), audit_db, auth="keys") as client:
        agent = key_for(client, "teller", ["get_exchange_rate"])
        called = client.post(
            "/v1/tools/get_exchange_rate/call", headers=bearer(agent),
            json={"arguments": {"from_currency": "EUR", "to_currency": "USD"}},
        )  # fmt: skip
        assert called.status_code == 200, called.text
        noted = client.post(
            f"/v1/calls/{called.json()['call_id']}/feedback", headers=bearer(agent),
            json={"score": 0, "label": "agent_note", "author": "teller@example.com"},
        )  # fmt: skip
        assert noted.status_code == 201, noted.text
    exported = run("feedback", "export", "--label", "agent_note", "--audit-db", str(audit_db))
    assert exported.returncode == 0, exported.stderr
    [row] = [orjson.loads(line) for line in exported.stdout.splitlines()]
    assert (row["reviewer"], row["review"]) == ("key:teller", False)
    assert row["claimed_author"] == "teller@example.com"
