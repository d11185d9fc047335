"""Running the estate: an embeddable background server and the foreground ``python -m estate``.

:class:`EstateServer` binds its own socket (so port 0 gets a free port that is known before
uvicorn starts), runs uvicorn on it in a daemon thread, and returns from :meth:`start` only
once the server accepts connections. Each instance has its own :class:`EstateApp` and
therefore its own copy of the customer data.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from types import TracebackType
from typing import Any, Self

import uvicorn

from estate.soap_service import (
    CUSTOMER_MASTER_PATH,
    CUSTOMER_MASTER_SOAP12_PATH,
    FX_RATES_PATH,
    EstateApp,
    ReceivedRequest,
    create_app,
)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0: the OS picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def make_config(app: EstateApp, **overrides: Any) -> uvicorn.Config:
    """The uvicorn settings the estate runs with (default loop and HTTP parser)."""
    settings: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "lifespan": "on",
        # Do not let a hostile slow request (3 s) hold up stop().
        "timeout_graceful_shutdown": 1,
    }
    settings.update(overrides)
    return uvicorn.Config(app, **settings)


def base_url_of(host: str, port: int) -> str:
    """``http://host:port``, with IPv6 literals in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def describe(base_url: str) -> list[str]:
    """Human-readable lines naming the endpoints and WSDLs under ``base_url``."""
    return [
        f"CustomerMaster SOAP 1.1  {base_url}{CUSTOMER_MASTER_PATH}",
        f"CustomerMaster SOAP 1.2  {base_url}{CUSTOMER_MASTER_SOAP12_PATH}",
        f"FxRates        SOAP 1.1  {base_url}{FX_RATES_PATH}",
        f"WSDL  {base_url}{CUSTOMER_MASTER_PATH}?wsdl",
        f"WSDL  {base_url}{FX_RATES_PATH}?wsdl",
        f"health  {base_url}/healthz",
    ]


class EstateServer:
    """The estate served by uvicorn on a background thread.

    >>> with EstateServer() as estate:  # doctest: +SKIP
    ...     zeep.Client(estate.customer_master_wsdl)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        hostile: bool = False,
        credentials: tuple[str, str] | None = None,
        app: EstateApp | None = None,
    ) -> None:
        self.host = host
        self.app = app if app is not None else create_app(hostile=hostile, credentials=credentials)
        self._requested_port = port
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        if self._port is None:
            raise RuntimeError("EstateServer is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:54321``."""
        return base_url_of(self.host, self.port)

    @property
    def customer_master_url(self) -> str:
        return self.base_url + CUSTOMER_MASTER_PATH

    @property
    def crm_url(self) -> str:
        """The REST/JSON face of the customer master (``/crm/customers/{CUSTNO}``)."""
        return self.base_url + "/crm"

    @property
    def customer_master_soap12_url(self) -> str:
        return self.base_url + CUSTOMER_MASTER_SOAP12_PATH

    @property
    def fx_rates_url(self) -> str:
        return self.base_url + FX_RATES_PATH

    @property
    def customer_master_wsdl(self) -> str:
        return self.customer_master_url + "?wsdl"

    @property
    def fx_rates_wsdl(self) -> str:
        return self.fx_rates_url + "?wsdl"

    @property
    def received(self) -> deque[ReceivedRequest]:
        """The last 200 POSTs the app received (see :class:`ReceivedRequest`)."""
        return self.app.received

    def start(self, timeout: float = 10.0) -> Self:
        """Start serving; returns once the socket accepts connections."""
        if self._thread is not None:
            raise RuntimeError("EstateServer is already started")
        sock = bind_socket(self.host, self._requested_port)
        # log_config=None: an embedded server must not reconfigure the host process's logging.
        server = uvicorn.Server(make_config(self.app, log_config=None))
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="estate-server", daemon=True
        )
        self._port = sock.getsockname()[1]
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError(f"estate server did not start on {self.host}:{self._port}")
            time.sleep(0.002)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
