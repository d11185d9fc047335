"""The demo "legacy estate": SOAP services of a mail-order tailoring firm, served on loopback.

A test and demo fixture, kept apart from product code: ``CustomerMaster`` (document/literal,
SOAP 1.1 and 1.2) and ``FxRates`` (rpc/literal, SOAP 1.1) as a raw ASGI app on lxml, run by
uvicorn. Start one with :class:`EstateServer` or ``python -m estate``.
"""

from estate.customers import Customer, CustomerStore, generate_customers
from estate.server import EstateServer
from estate.soap_service import EstateApp, ReceivedRequest, create_app

__all__ = [
    "Customer",
    "CustomerStore",
    "EstateApp",
    "EstateServer",
    "ReceivedRequest",
    "create_app",
    "generate_customers",
]
