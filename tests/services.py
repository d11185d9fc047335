"""Real services for every test directory, started once a session.

Registered as a plugin by tests/conftest.py, so the integration, client and security tests
share one instance of each session fixture: two copies of the order host on one exchange
would each take some of the other's requests.

Two demo estates (real SOAP servers over HTTP on free ports) run for the whole session: a
hostile one without credentials, and a hostile one that demands a WS-Security
UsernameToken. The gateway is driven in process through FastAPI's TestClient, with its
lifespan running, on a fresh SQLite call record per test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from estate.ledger import create_ledger
from estate.orders import OrderService
from estate.server import EstateServer
from tests.integration.amqp_support import (
    AMQP_URL,
    CardService,
    declare_parking_queue,
    delete_queue,
)
from tests.integration.queue_support import declare_job_queue, delete_queues, unique
from tests.integration.support import (
    AMQP_TEST_CONFIG,
    DEMO_CONFIG,
    SECURE_PASSWORD,
    SECURE_USER,
    SOAP_TEST_CONFIG,
    gateway_client,
)

PG_SERVER = os.environ.get("TEST_PG_URL", "postgresql://root@127.0.0.1:5432/test")


@contextmanager
def pg_schema(prefix: str) -> Iterator[str]:
    """A store URL on a schema of its own on the test PostgreSQL, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        yield f"{PG_SERVER}?schema={schema}"
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL call record of the test's own, named after its module."""
    with pg_schema(request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")) as url:
        yield url


@pytest.fixture
def reply_queue() -> Iterator[str]:
    """A reply queue on the real broker that no other run shares, deleted afterwards."""
    name = unique("test.replies")
    yield name
    delete_queues(name)


@pytest.fixture
def job_queue() -> Iterator[str]:
    """A declared job queue that nothing consumes but the test, deleted afterwards."""
    name = unique("test.jobs")
    declare_job_queue(name)
    yield name
    delete_queues(name)


@pytest.fixture(scope="session")
def estate() -> Iterator[EstateServer]:
    """The demo estate with its hostile customer numbers on, no credentials required."""
    server = EstateServer(hostile=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def secure_estate() -> Iterator[EstateServer]:
    """A second estate that refuses any request without the right UsernameToken."""
    server = EstateServer(hostile=True, credentials=(SECURE_USER, SECURE_PASSWORD)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ledger_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo ledger database (SQLite, reached over ODBC), written once for the session."""
    return create_ledger(tmp_path_factory.mktemp("ledger") / "ledger.sqlite")


# Exchanges and queues of this test session: other runs and a demo on the same broker
# keep their own.
SESSION = uuid.uuid4().hex[:8]
ORDERS_EXCHANGE = f"test.orders.{SESSION}"
ECHO_QUEUE = f"test.cards.{SESSION}"
EVENTS_QUEUE = f"test.events.{SESSION}"
# The submit tools' durable reply queue: one per session, because two gateways consuming one
# reply queue take each other's replies. Deleted when the session ends.
REPLY_QUEUE = f"test.replies.{SESSION}"


@pytest.fixture(scope="session")
def order_service() -> Iterator[OrderService]:
    """The demo's order-processing host on the local RabbitMQ, hostile order numbers on.

    A missing broker is an error here, not a skip: the AMQP tests must run in CI.
    """
    service = OrderService(
        AMQP_URL,
        ORDERS_EXCHANGE,
        hostile=True,
        durable=False,
        place_delay_s=0.3,
        late_delay_s=1.5,
    ).start_and_wait()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def card_service() -> Iterator[CardService]:
    service = CardService(ECHO_QUEUE).start_and_wait()
    declare_parking_queue(EVENTS_QUEUE)
    yield service
    service.stop()


@pytest.fixture
def amqp_client(
    order_service: OrderService, card_service: CardService, estate_env: dict[str, str],
    audit_db: Path,
) -> Iterator[TestClient]:  # fmt: skip
    """The gateway on tests/fixtures/amqp_test, in front of the order and card services."""
    with gateway_client(AMQP_TEST_CONFIG, audit_db) as client:
        yield client


@pytest.fixture(scope="session")
def estate_env(
    estate: EstateServer, secure_estate: EstateServer, ledger_db: Path
) -> Iterator[dict[str, str]]:
    """The ${VAR}s the configs under test read, pointed at the session's estates."""
    values = {
        "ORDERS_AMQP_URL": AMQP_URL,
        "ORDERS_EXCHANGE": ORDERS_EXCHANGE,
        "ORDERS_REPLY_QUEUE": REPLY_QUEUE,
        "TEST_AMQP_URL": AMQP_URL,
        "TEST_ORDERS_EXCHANGE": ORDERS_EXCHANGE,
        "TEST_REPLY_QUEUE": REPLY_QUEUE,
        "TEST_ECHO_QUEUE": ECHO_QUEUE,
        "TEST_EVENTS_QUEUE": EVENTS_QUEUE,
        "LEDGER_DB": str(ledger_db),
        "CUSTOMER_MASTER_URL": estate.customer_master_url,
        "FX_RATES_URL": estate.fx_rates_url,
        "CRM_URL": estate.crm_url,
        "TEST_CM_URL": estate.customer_master_url,
        "TEST_CM12_URL": estate.customer_master_soap12_url,
        "TEST_FX_URL": estate.fx_rates_url,
        "TEST_SECURE_URL": secure_estate.customer_master_url,
        "TEST_SECURE_PASSWORD": SECURE_PASSWORD,
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield values
    delete_queue(REPLY_QUEUE)
    for name, old in saved.items():
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


@pytest.fixture
def audit_db(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture
def demo_client(estate_env: dict[str, str], audit_db: Path) -> Iterator[TestClient]:
    """The gateway on the shipped demo config (mappings/demo) in front of the hostile estate."""
    with gateway_client(DEMO_CONFIG, audit_db) as client:
        yield client


@pytest.fixture
def soap_client(estate_env: dict[str, str], audit_db: Path) -> Iterator[TestClient]:
    """The gateway on tests/fixtures/soap_test: SOAP 1.1/1.2, rpc, WS-Security, a dead host."""
    with gateway_client(SOAP_TEST_CONFIG, audit_db) as client:
        yield client
