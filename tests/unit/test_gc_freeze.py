"""A serving process keeps what it holds all its life out of full collections (gc.freeze
once it serves), and thaws it when a reloaded config replaces the one it froze, so that the
replaced config's reference cycles are collected. Each check runs in a process of its own:
freezing pytest's would keep every later test's garbage."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

CYCLES = """
import gc, sys, weakref
from gateway.memory import freeze_long_lived, thaw

class Node:
    pass

a, b = Node(), Node()
a.other, b.other = b, a
frozen = weakref.ref(a)
count = freeze_long_lived()  # the cycle is alive: frozen with the rest
del a, b
gc.collect()
print(count > 0, frozen() is not None)  # frozen, its garbage is kept
thaw()
gc.collect()
print(gc.get_freeze_count(), frozen() is None)  # thawed, it is collected
"""

SERVE = """
import gc, os, signal, sys, threading, time
from pathlib import Path
import httpx
from gateway.serving import ServeOptions, serve

config, port = Path(sys.argv[1]), int(sys.argv[2])
base = f"http://127.0.0.1:{port}"

def version():
    return httpx.get(f"{base}/healthz", timeout=2).json()["config_version"]

def probe():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            first = version()
            break
        except httpx.TransportError:
            time.sleep(0.05)
    print("serving", gc.get_freeze_count() > 10_000, flush=True)
    tools = config / "tools.yaml"
    tools.write_text(tools.read_text().replace("One customer.", "One customer, reloaded."))
    while version() == first and time.monotonic() < deadline:
        time.sleep(0.05)
    print("reloaded", version() != first, gc.get_freeze_count(), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=probe, daemon=True).start()
serve(ServeOptions(config, "127.0.0.1", port, config.parent / "audit.sqlite", "warning",
                   None, "open"))
"""

TOOLS = """\
backends:
  crm: {adapter: http, base_url: "http://127.0.0.1:9/crm"}
tools:
  lookup_customer:
    description: One customer.
    backend: crm
    operation: POST /lookup
    input:
      customer_number: {to: CUSTNO}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_frozen_garbage_is_kept_until_thawed_then_collected() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", CYCLES], capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["True True", "0 True"]


def test_serve_freezes_once_serving_and_thaws_on_a_reload(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "tools.yaml").write_text(TOOLS)
    ran = subprocess.run(
        [sys.executable, "-c", SERVE, str(config), str(_free_port())],
        capture_output=True, text=True, check=False, timeout=120,
        env={"LEGACY_GATEWAY_WATCH_CONFIG_S": "0.2", "PATH": "/usr/bin:/bin",
             "HOME": str(tmp_path)},
    )  # fmt: skip
    assert ran.stdout.splitlines() == ["serving True", "reloaded True 0"], ran.stderr[-2000:]
