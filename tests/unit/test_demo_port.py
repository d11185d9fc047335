"""`legacy-gateway demo` on a port that is taken says how to pick another, before starting."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gateway.demo import run_demo


def test_a_taken_port_names_both_ways_to_pick_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as stopped:
            run_demo("127.0.0.1", port, 0, tmp_path / "audit.sqlite")

    message = str(stopped.value)
    assert f"port {port} on 127.0.0.1 is taken" in message
    assert "--port" in message
    assert "make demo DEMO_PORT=" in message
    assert not (tmp_path / "audit.sqlite").exists()
