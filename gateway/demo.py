"""``legacy-gateway demo``: the demo legacy estate plus the gateway in front of it.

The estate (``estate/``, a fixture kept apart from product code) serves a real SOAP
customer-master system on loopback, writes a legacy ledger database (SQLite, reached over
ODBC) and runs an order-processing host on the local RabbitMQ (answering in EBCDIC
records); the gateway serves ``mappings/demo/`` on top of all three.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from gateway import demo_addresses

if TYPE_CHECKING:
    from estate.orders import OrderService

_HERE = Path(__file__).resolve().parent
OPERATOR = "demo-operator"
# mappings/demo/orders.yaml's default reply queue: one per installation.
DEMO_REPLY_QUEUE = "legacy-gateway.order-replies.{installation}"
# A source checkout has mappings/ beside gateway/; a wheel carries it inside gateway/.
DEMO_CONFIG = next(
    (p for p in (_HERE.parent / "mappings" / "demo", _HERE / "mappings" / "demo") if p.is_dir()),
    _HERE.parent / "mappings" / "demo",
)


def _free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def reply_queue(audit_db: Path) -> str:
    """The queue the demo's place_order replies come to: this installation's own (the id comes
    from the salt beside the audit key, made here on first start as the gateway would)."""
    from adapters.amqp_replies import queue_name
    from gateway.audit.log import AuditSettings

    commitments = AuditSettings.from_environment(audit_db).commitments()
    return queue_name(
        os.environ.get("ORDERS_REPLY_QUEUE", DEMO_REPLY_QUEUE), commitments.installation_id()
    )


def _start_orders(audit_db: Path) -> tuple[OrderService, str]:
    """The order-processing host on RabbitMQ, and a line saying where, or what to do."""
    from estate.orders import DEFAULT_URL, OrderService, safe_url
    from gateway.serving import quiet_protocol_libraries

    quiet_protocol_libraries()

    url = os.environ.setdefault("ORDERS_AMQP_URL", DEFAULT_URL)
    service = OrderService(url, os.environ.get("ORDERS_EXCHANGE", "legacy.orders"))
    service.start()
    if service.ready.wait(5):
        return service, (
            f"exchange {service.exchange} on {safe_url(url)}\n"
            f"  order replies (AMQP): queue {reply_queue(audit_db)}"
        )
    return service, (
        f"NO BROKER at {safe_url(url)} ({service.last_error}).\n"
        "      The order tools answer 503 backend_unavailable until one is reachable: start\n"
        "      RabbitMQ (rabbitmq-server -detached) or set ORDERS_AMQP_URL and restart the\n"
        "      demo. Both sides also connect by themselves as soon as the broker is up."
    )


def operator_key(audit_db: Path) -> str:
    """A key for the demo's person at the console (``key:demo-operator``, scopes approve,
    audit and metrics), made anew at each start; the previous one is revoked."""
    from gateway.audit.open_store import open_store
    from gateway.audit.records import RecordContext
    from gateway.audit.store import now
    from gateway.policy.auth import new_key

    store = open_store(audit_db)
    try:
        at = now()
        for key in store.list_keys():
            if key.agent == OPERATOR and key.revoked_at is None:
                store.revoke_key(key.key_id, at)
                store.append("key.revoked", None, {"key_id": key.key_id},
                             RecordContext(principal="demo"))  # fmt: skip
        created = new_key(OPERATOR, ["approve", "audit", "metrics"], at)
        store.add_key(created.stored)
        body = {"key_id": created.stored.key_id, "agent": OPERATOR,
                "scopes": list(created.stored.scopes)}  # fmt: skip
        store.append("key.created", None, body, RecordContext(principal="demo"))
    finally:
        store.close()
    return created.key


def run_demo(host: str, port: int, estate_port: int, audit_db: Path) -> None:
    from estate.ledger import create_ledger
    from estate.server import EstateServer
    from gateway.serving import run_server

    if not _free(host, port):
        raise SystemExit(
            f"port {port} on {host} is taken; pick another with --port (make demo DEMO_PORT=N)"
        )
    estate = EstateServer(port=estate_port if _free("127.0.0.1", estate_port) else 0)
    estate.start()
    os.environ["CUSTOMER_MASTER_URL"] = f"{estate.base_url}/customer-master"
    os.environ["FX_RATES_URL"] = f"{estate.base_url}/fx-rates"
    os.environ["CRM_URL"] = estate.crm_url
    ledger = create_ledger(
        Path(os.environ.get("LEDGER_DB", audit_db.parent / "ledger.sqlite")).resolve()
    )
    os.environ["LEDGER_DB"] = str(ledger)
    # `legacy-gateway call mappings/demo ...` in another shell finds the estate here.
    demo_addresses.write(audit_db.parent)
    orders, orders_line = _start_orders(audit_db)
    operator = operator_key(audit_db)
    base = f"http://{host}:{port}"
    print(
        f"""
legacy-gateway demo
  legacy estate (SOAP): {estate.base_url}/customer-master?wsdl
  legacy CRM (REST):    {estate.crm_url}/customers/10000001
  legacy ledger (ODBC): {ledger}
  order host (AMQP):    {orders_line}
  gateway (agents):     {base}   (API docs: {base}/docs)
  operator console:     {base}/console   (live health, sessions, calls, approvals)
  operator's key:       {operator}
                        (sign in on the console with it to approve writes as a person)
  call record:          {audit_db}

Try it:
  curl -s {base}/v1/tools | python3 -m json.tool
  curl -s -X POST {base}/v1/tools/get_customer/call \\
       -H 'content-type: application/json' \\
       -d '{{"arguments": {{"customer_number": "10000001"}}, "context": {{"session_id": "demo"}}}}'
  curl -s {base}/v1/calls/<call_id from the answer>    # the exact SOAP envelope sent
  curl -s -X POST {base}/v1/tools/list_postings/call \\
       -H 'content-type: application/json' \\
       -d '{{"arguments": {{"account_number": "DE00001436"}}}}'    # 10 a page: next_cursor
  curl -s -X POST {base}/v1/tools/book_adjustment/call -H 'content-type: application/json' \\
       -d '{{"arguments": {{"account_number": "DE00000007", "booked_on": "2024-06-11",
            "amount": "25.00", "direction": "credit", "text": "Goodwill", "reference": "ADJ1"}}}}'
       # waits for a person: approve it on the console, signed in with the operator's key
  curl -s -X POST {base}/v1/tools/order_status/call \\
       -H 'content-type: application/json' -d '{{"arguments": {{"order_number": 1000000003}}}}'
  curl -s -X POST {base}/v1/tools/place_order/call -H 'Idempotency-Key: my-order-1' \\
       -H 'content-type: application/json' \\
       -d '{{"arguments": {{"customer_number": "10000001", "item": "suit", "quantity": 1}}}}'
  curl -s {base}/v1/calls/<call_id>    # pending until the order host answers

OPEN MODE, no authentication in the demo: anyone on this host can call these tools.
(`legacy-gateway serve` checks API keys: `legacy-gateway keys create --agent NAME --scopes ...`.)
Press Ctrl+C to stop.
""",
        flush=True,
    )
    try:
        run_server(DEMO_CONFIG, host, port, audit_db, log_level="warning", auth="open")
    finally:
        demo_addresses.clear(audit_db.parent)
        orders.stop()
        estate.stop()
