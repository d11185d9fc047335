"""The console in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) against ``legacy-gateway serve`` with API keys.

An operator signs in, watches calls made through the API change the live tiles, opens a
session's timeline and a call whose proof the page checks, leaves feedback, approves a
pending write (the ledger row appears), and sees an alert when the legacy host stops; the
page logs no JavaScript error. Screenshots go to ``$CONSOLE_SCREENSHOTS`` (default
``artifacts/console``) for CI to keep. Under CI=true a missing Chromium fails the tests.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from estate.ledger import create_ledger
from estate.server import EstateServer
from gateway.audit.sqlite_store import SQLiteStore
from gateway.audit.store import now
from gateway.audit.verifications_store import Verification
from tests.integration.support import (
    ANNA,
    ROOT,
    demo_copy,
    postings_with,
    serve_process,
)
from tests.integration.test_auth import bearer, create_key

COMMAND = Path(sys.executable).parent / "legacy-gateway"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS", ROOT / "artifacts" / "console"))
POSTING = {"account_number": "DE00000007", "booked_on": "2024-06-11", "amount": "12.50",
           "direction": "credit", "text": "Refund 4711", "reference": "BROWSER1"}  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        message = "Chromium is missing: apt-get install chromium chromium-driver (make setup)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--disable-gpu"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(str(CHROMEDRIVER)))
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


@dataclass
class Site:
    base: str
    agent: str
    controller: str
    ledger: Path
    estate: EstateServer
    # Two agents of the exchange rate, on either side of its A/B split (sticky per agent).
    rates_agents: dict[str, str]
    audit_db: Path

    def call(self, customer: str = ANNA, session: str | None = None) -> httpx.Response:
        context = {"session_id": session, "reasoning": "the customer asked for their address"}
        return httpx.post(
            f"{self.base}/v1/tools/get_customer/call",
            json={"arguments": {"customer_number": customer},
                  "context": context if session else {}},
            headers=bearer(self.agent), timeout=30,
        )  # fmt: skip

    def postings(self, reference: str) -> int:
        return postings_with(self.ledger, reference)


# The variant each agent lands on: the split's hash of ("get_exchange_rate", "agent:key:NAME")
# is 0.78 for rates-bot-a (past explicit_codes' weight of 0.5) and 0.16 for rates-bot-b.
RATES_AGENTS = {"baseline": "rates-bot-a", "explicit_codes": "rates-bot-b"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("console")
    config = demo_copy(tmp)
    ledger = create_ledger(tmp / "ledger.sqlite")
    audit_db = tmp / "audit.sqlite"
    agent = create_key(audit_db, "booking-bot", "get_customer,book_adjustment,get_account")
    controller = create_key(audit_db, "controller", "approve,audit,metrics")
    rates_agents = {
        variant: create_key(audit_db, name, "get_exchange_rate")
        for variant, name in RATES_AGENTS.items()
    }
    estate = EstateServer().start()  # this test's own: it stops it
    env = {
        "LEGACY_GATEWAY_AUTH": "keys",
        "LEGACY_GATEWAY_AUDIT_DB": str(audit_db),
        "LEDGER_DB": str(ledger),
        "CUSTOMER_MASTER_URL": f"{estate.base_url}/customer-master",
        "FX_RATES_URL": f"{estate.base_url}/fx-rates",
        "CRM_URL": estate.crm_url,
        "ORDERS_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/",
    }
    try:
        with serve_process(config, env) as (base, _):
            yield Site(base, agent, controller, ledger, estate, rates_agents, audit_db)
    finally:
        estate.stop()


def wait_for(driver: WebDriver, check: Callable[[], Any], what: str, seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = check()
        except Exception:  # the element may be replaced while we look
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            driver.save_screenshot(str(SHOTS / f"timeout-{what.replace(' ', '-')}.png"))
            raise AssertionError(f"the console never showed {what}")
        time.sleep(0.1)


def find(driver: WebDriver, css: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, css)


def shoot(driver: WebDriver, name: str) -> None:
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def test_an_operator_watches_acts_and_sees_an_alert(browser: WebDriver, site: Site) -> None:
    sign_in(browser, site)
    watch_live_tiles(browser, site)
    read_a_session_and_a_call(browser)
    approve_a_write(browser, site)
    see_the_data_flow_and_feedback_trend(browser)
    read_the_audit_and_config_panel(browser, site)
    compare_the_variants(browser, site)
    see_an_alert(browser, site)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def sign_in(driver: WebDriver, site: Site) -> None:
    driver.get(site.base + "/")  # a browser is sent to the console
    wait_for(driver, lambda: find(driver, "#signin-key").is_displayed(), "the sign-in form")
    assert driver.current_url.endswith("/console")
    find(driver, "#signin-key").send_keys(site.controller)
    find(driver, "#signin-form button").click()
    wait_for(driver, lambda: find(driver, "#app").is_displayed(), "the console")
    assert "key:controller" in find(driver, "#who").text
    wait_for(driver, lambda: not find(driver, "#stream-state").is_displayed(), "the live stream")


TILE = '.tile[data-group="tool"][data-name="get_customer"]'


def watch_live_tiles(driver: WebDriver, site: Site) -> None:

    # Live tiles: calls made through the API appear without a reload.
    for _ in range(3):
        assert site.call().status_code == 200
    tile = TILE
    wait_for(driver, lambda: find(driver, tile).get_attribute("data-calls") == "3", "3 calls")
    assert site.call(session="browser-session").status_code == 200
    wait_for(driver, lambda: find(driver, tile).get_attribute("data-calls") == "4", "4 calls")
    # Percentiles come from the server's aggregates, fetched again after events.
    wait_for(driver, lambda: float(find(driver, tile).get_attribute("data-p95") or 0) > 0, "p95")
    legacy = '.tile[data-group="legacy"][data-name="customer_master"]'
    wait_for(driver, lambda: find(driver, legacy).get_attribute("data-calls") == "4", "legacy")
    agent_tile = '.tile[data-group="agent"][data-name="key:booking-bot"]'
    assert find(driver, agent_tile).get_attribute("data-calls") == "4"
    assert "get_customer ok" in find(driver, "#live").text
    signals = find(driver, TILE + " .signals").text
    assert "rate-limited 0 · circuit-open 0 · truncated 0" in signals
    backend = '.tile[data-group="backend"][data-name="customer_master"]'
    wait_for(driver, lambda: find(driver, backend).get_attribute("data-breaker") == "closed",
             "the breaker state")  # fmt: skip
    shoot(driver, "1-health")


def read_a_session_and_a_call(driver: WebDriver) -> None:

    # A session's timeline, then a call with its proof checked in the page.
    find(driver, 'nav button[data-view="calls"]').click()
    wait_for(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, "#calls tbody tr")) == 4,
             "the calls")  # fmt: skip
    find(driver, "#calls tbody a").click()
    wait_for(driver, lambda: find(driver, "#session-card").is_displayed(), "the session")
    assert "the customer asked for their address" in find(driver, "#session-card").text
    shoot(driver, "2-session")
    find(driver, "#session-card .step a").click()
    checks = "#proof-checks li"
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, checks), "the proof checks")
    results = driver.find_elements(By.CSS_SELECTOR, checks)
    assert [r.get_attribute("data-ok") for r in results] == ["true"] * len(results)
    assert "signed by legacy-gateway" in results[0].text
    assert len(results) >= 3  # the checkpoint, then each record (intent, interaction, outcome)
    assert "<ns0:CUSTNO>10000001</ns0:CUSTNO>" in find(driver, "#call-card").text

    # Feedback from the page.
    find(driver, '#feedback-form input[name="label"]').send_keys("correct")
    find(driver, '#feedback-form input[name="score"]').send_keys("1")
    find(driver, "#feedback-form button").click()
    wait_for(driver, lambda: '"label": "correct"' in find(driver, "#call-card").text, "feedback")
    shoot(driver, "3-call")


def approve_a_write(driver: WebDriver, site: Site) -> None:
    # The demo's write that waits for a person, approved by the controller from the page.
    asked = httpx.post(f"{site.base}/v1/tools/book_adjustment/call",
                       json={"arguments": POSTING}, headers=bearer(site.agent))  # fmt: skip
    assert asked.status_code == 202, asked.text
    find(driver, 'nav button[data-view="approvals"]').click()
    card = ".approval"
    wait_for(driver, lambda: find(driver, card).is_displayed(), "the approval")
    assert "INSERT INTO POSTINGS" in find(driver, card).text
    assert site.postings("BROWSER1") == 0
    find(driver, f"{card} .reason").send_keys("refund checked")
    shoot(driver, "4-approval")
    find(driver, f"{card} .approve").click()
    wait_for(driver, lambda: site.postings("BROWSER1") == 1, "the ledger row")
    wait_for(driver, lambda: "Nothing is waiting" in find(driver, "#approvals-note").text,
             "the emptied queue")  # fmt: skip


def see_the_data_flow_and_feedback_trend(driver: WebDriver) -> None:
    find(driver, 'nav button[data-view="flow"]').click()
    link = '#flow-svg path.link[data-source="{}"][data-target="{}"]'
    agent_to_tool = link.format("agent:key:booking-bot", "tool:get_customer")
    wait_for(driver, lambda: find(driver, agent_to_tool), "the Sankey diagram")
    assert find(driver, agent_to_tool).get_attribute("data-calls") == "4"
    tool_to_backend = link.format("tool:get_customer", "backend:customer_master")
    assert find(driver, tool_to_backend).get_attribute("data-calls") == "4"
    approved = '#flows tr[data-tool="book_adjustment"][data-backend="ledger"]'
    wait_for(driver, lambda: find(driver, approved), "the approved write's flow")
    assert "key:booking-bot" in find(driver, approved).text
    shoot(driver, "6-data-flow")
    find(driver, 'nav button[data-view="health"]').click()
    trend = '.tile[data-group="feedback"][data-name="get_customer"]'
    wait_for(driver, lambda: find(driver, trend).get_attribute("data-scores") == "1", "feedback")
    assert find(driver, trend).get_attribute("data-mean") == "1"


def read_the_audit_and_config_panel(driver: WebDriver, site: Site) -> None:
    find(driver, 'nav button[data-view="audit"]').click()
    wait_for(driver, lambda: "records" in find(driver, "#audit-checkpoint").text, "the checkpoint")
    assert "signed" in find(driver, "#audit-checkpoint").text
    assert "nothing pruned" in find(driver, "#audit-log").text
    verification = "#audit-verification"
    assert "none on the record" in find(driver, verification).text
    loaded = driver.find_elements(By.CSS_SELECTOR, "#config-versions .config-loaded")
    assert loaded and "tools" in loaded[-1].text
    assert "the first configuration on the record" in loaded[-1].text
    shoot(driver, "7-audit")

    # The operator verifies the store beside the running gateway; the panel shows the result.
    verified = subprocess.run(
        [str(COMMAND), "audit", "verify", "--audit-db", str(site.audit_db)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    reopen_audit(driver)
    wait_for(driver, lambda: find(driver, verification).get_attribute("data-result") == "ok",
             "the verification")  # fmt: skip
    text = find(driver, verification).text
    assert text.splitlines()[1] == "ok" and "s ago: records 0 to " in text
    assert f"by {getpass.getuser()}@" in text
    assert "bad" not in (find(driver, verification).get_attribute("class") or "")

    # A later verification that found the log changed stands out, naming the record.
    store = SQLiteStore(site.audit_db)
    store.add_verification(Verification(now(), "failed", 0, 40, 40, 3, 7,
                                        "record 7 was changed after it was logged", "ops@host",
                                        "pinned"))  # fmt: skip
    store.close()
    reopen_audit(driver)
    wait_for(driver, lambda: find(driver, verification).get_attribute("data-result") == "failed",
             "the failed verification")  # fmt: skip
    assert "bad" in (find(driver, verification).get_attribute("class") or "").split()
    text = find(driver, verification).text
    assert "FAILED at record 7" in text and "record 7 was changed after it was logged" in text
    assert find(driver, f"{verification} strong.error").text == "FAILED at record 7"
    shoot(driver, "7-audit-verification-failed")


def reopen_audit(driver: WebDriver) -> None:
    find(driver, 'nav button[data-view="health"]').click()
    find(driver, 'nav button[data-view="audit"]').click()


def compare_the_variants(driver: WebDriver, site: Site) -> None:
    """Calls of the demo's A/B test of get_exchange_rate's description, per variant."""
    made = {"baseline": 3, "explicit_codes": 2}
    for variant, calls in made.items():
        for _ in range(calls):
            answer = httpx.post(
                f"{site.base}/v1/tools/get_exchange_rate/call",
                json={"arguments": {"from_currency": "EUR", "to_currency": "USD"}},
                headers=bearer(site.rates_agents[variant]), timeout=30,
            )  # fmt: skip
            assert answer.status_code == 200, answer.text
    find(driver, 'nav button[data-view="experiments"]').click()
    card = '.experiment[data-tool="get_exchange_rate"]'
    wait_for(driver, lambda: find(driver, card).is_displayed(), "the experiments report")
    rows = driver.find_elements(By.CSS_SELECTOR, f"{card} tr.variant")
    shown = {row.get_attribute("data-variant"): row.get_attribute("data-calls") for row in rows}
    assert shown == {variant: str(calls) for variant, calls in made.items()}
    assert rows[0].get_attribute("data-variant") == "baseline"
    assert "the baseline" in rows[0].text  # the row the others are set against
    versus = find(driver, f'{card} tr[data-variant="explicit_codes"]')
    assert versus.get_attribute("data-verdict") == "too_few_calls"
    assert "0.0% [0.0%," in versus.text  # no errors, with the interval's bounds
    assert "baseline: baseline · window: 7d" in find(driver, card).text
    assert "Newcomb interval" in find(driver, "#decision-rule").text
    assert find(driver, "#experiments-note").text == ""
    shoot(driver, "8-experiments")


def see_an_alert(driver: WebDriver, site: Site) -> None:
    """The legacy host stops: its calls fail, and an alert shows up within seconds."""
    site.estate.stop()
    for _ in range(6):
        site.call()
    find(driver, 'nav button[data-view="health"]').click()
    wait_for(driver, lambda: "error rate" in find(driver, "#alerts").text, "an alert", 20)
    assert "customer_master" in find(driver, "#alerts").text
    wait_for(driver, lambda: "bad" in (find(driver, TILE).get_attribute("class") or ""),
             "the tile marked")  # fmt: skip
    shoot(driver, "5-alert")
