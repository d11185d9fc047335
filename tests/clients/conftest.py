"""The clients' tests run the real estate and services the integration tests run."""

from tests.integration.conftest import (
    audit_db,
    demo_client,
    estate,
    estate_env,
    ledger_db,
    order_service,
    secure_estate,
)

__all__ = [
    "audit_db",
    "demo_client",
    "estate",
    "estate_env",
    "ledger_db",
    "order_service",
    "secure_estate",
]
