"""serve refuses a port another process listens on, and takes one its previous life left."""

from __future__ import annotations

import socket

import pytest

from gateway.serving import check_port_free


def _listener() -> socket.socket:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


def test_a_port_another_process_listens_on_is_refused_with_one_line() -> None:
    with _listener() as server:
        port = server.getsockname()[1]
        with pytest.raises(SystemExit) as refused:
            check_port_free("127.0.0.1", port)
    assert str(refused.value).startswith(f"cannot listen on 127.0.0.1:{port}: ")


def test_a_port_whose_last_connections_wait_in_time_wait_is_free() -> None:
    # A restarted gateway (docker restart, a pod's container restart) finds the connections
    # its previous life closed still in TIME_WAIT; uvicorn binds over them, and so must the
    # check.
    server = _listener()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end waits in TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    check_port_free("127.0.0.1", port)
