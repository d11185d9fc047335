"""P4: tool calls a second with the full audit log, against the backend directly and the peer.

The backend is the estate's REST face (``POST /crm/lookup``, a customer record of 18 JSON
fields) in its own process. The same asyncio httpx client load (sequential, then 10
concurrent callers) goes, in one run, to:

- direct: the backend itself;
- ours: ``legacy-gateway serve`` (API key checked, arguments mapped, intent and outcome
  committed to the Merkle log, answer mapped) calling it through the HTTP adapter;
- peer: IBM MCP ContextForge (``mcp-contextforge-gateway``), the backend registered as a
  REST tool and called with JSON-RPC ``tools/call`` on ``/rpc``, installed and configured as
  ``../shared/PEERS.md`` says, in its own Python 3.12 environment (``--peer-venv``, made on
  first use; ``--no-peer`` skips it).

Prints p50/p99 and calls a second of each, then ``P4 ours/direct = X`` and
``P4 ours/peer = X`` (concurrent calls a second), and ours' added p50 in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import BIN, ROOT, estate_process, free_port, wait_http

CUSTNO = "10000001"
CONFIG = """\
backends:
  crm:
    adapter: http
    base_url: {base}/crm
    max_concurrency: 16
    timeout_s: 10
tools:
  lookup_customer:
    description: One customer by number.
    backend: crm
    operation: POST /lookup
    input:
      customer_number: {{to: CUSTNO, pattern: "^[0-9]{{8}}$"}}
    output:
      fields:
        name: {{from: CUST_NAME, trim: true}}
        city: {{from: CITY, trim: true}}
        balance_eur: {{from: BAL_CENTS, type: decimal, scale: -2}}
        status: {{from: STAT_CD, codes: {{A: active, C: closed, S: suspended, P: pending}}}}
"""
PEER_ENV = {
    "HOST": "127.0.0.1",
    "PLATFORM_ADMIN_EMAIL": "admin@example.com",
    "SSRF_ALLOW_LOCALHOST": "true",
    "RATE_LIMITING_ENABLED": "false",
    "MCPGATEWAY_CATALOG_ENABLED": "false",
    "LLMCHAT_ENABLED": "false",
    "OTEL_ENABLE_OBSERVABILITY": "false",
    "OBSERVABILITY_ENABLED": "false",
}


@dataclass
class Target:
    name: str
    url: str
    body: dict[str, object]
    headers: dict[str, str]


@dataclass
class Result:
    calls_per_s: float
    p50_ms: float
    p99_ms: float


async def load(target: Target, workers: int, seconds: float) -> Result:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(target.url, json=target.body, headers=target.headers)
                if response.status_code != 200:
                    raise SystemExit(f"{target.name}: HTTP {response.status_code}: {response.text}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        len(latencies) / elapsed,
        statistics.median(latencies) * 1000,
        latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
    )


@contextmanager
def our_gateway(backend: str, directory: Path) -> Iterator[Target]:
    config = directory / "config"
    config.mkdir()
    (config / "bench.yaml").write_text(CONFIG.format(base=backend))
    audit_db = directory / "audit.sqlite"
    env = {**os.environ, "LEGACY_GATEWAY_AUDIT_DB": str(audit_db), "LEGACY_GATEWAY_AUTH": "keys"}
    created = subprocess.run(
        [str(BIN / "legacy-gateway"), "keys", "create", "--agent", "bench", "--scopes",
         "lookup_customer", "--audit-db", str(audit_db)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "legacy-gateway"), "serve", "--config", str(config), "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield Target(
            "ours",
            f"http://127.0.0.1:{port}/v1/tools/lookup_customer/call",
            {"arguments": {"customer_number": CUSTNO}},
            {"authorization": f"Bearer {created.stdout.strip()}"},
        )
    finally:
        proc.terminate()
        proc.wait(10)


def _peer_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"installing the peer into {venv} (about a minute)...", flush=True)
        interpreter = "/root/.pyenv/versions/3.12.1/bin/python"
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "mcp-contextforge-gateway==1.1.0"],
            check=True,
        )
    return python


@contextmanager
def peer_gateway(backend: str, directory: Path, venv: Path) -> Iterator[Target]:
    python = _peer_python(venv)
    home = directory / "peer"
    home.mkdir()
    subprocess.run(
        [str(python), "-m", "mcpgateway.scripts.init_secrets", "--output", ".env.secrets",
         "--force"],
        cwd=home, check=True, capture_output=True,
    )  # fmt: skip
    secrets = {
        key: value
        for key, _, value in (
            line.partition("=")
            for line in (home / ".env.secrets").read_text().splitlines()
            if line.strip() and not line.startswith("#") and "=" in line
        )
    }
    port = free_port()
    settings = {**secrets, **PEER_ENV, "PORT": str(port),
                "DATABASE_URL": f"sqlite:///{home / 'mcp.db'}"}  # fmt: skip
    (home / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    env = {**os.environ, **settings}
    token = subprocess.run(
        [str(python), "-m", "mcpgateway.utils.create_jwt_token", "--username",
         "admin@example.com", "--exp", "10080", "--secret", secrets["JWT_SECRET_KEY"].strip('"')],
        cwd=home, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    log = (home / "peer.log").open("wb")
    proc = subprocess.Popen(
        [str(venv / "bin" / "mcpgateway"), "--host", "127.0.0.1", "--port", str(port)],
        cwd=home, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    auth = {"authorization": f"Bearer {token}"}
    try:
        try:
            wait_http(f"{base}/health", 90)
        except RuntimeError:
            tail = (home / "peer.log").read_text(errors="replace")[-1500:]
            raise RuntimeError(f"the peer did not start; its log ends:\n{tail}") from None
        tool = {
            "tool": {
                "name": "lookup_customer",
                "url": f"{backend}/crm/lookup",
                "integration_type": "REST",
                "request_type": "POST",
                "headers": {"Content-Type": "application/json"},
                "input_schema": {
                    "type": "object",
                    "properties": {"CUSTNO": {"type": "string"}},
                    "required": ["CUSTNO"],
                },
                "visibility": "public",
            }
        }
        registered = httpx.post(f"{base}/tools", json=tool, headers=auth, timeout=30)
        registered.raise_for_status()
        name = re.sub(r"[^a-z0-9]+", "-", registered.json().get("name", "lookup-customer"))
        yield Target(
            "peer",
            f"{base}/rpc",
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
             "params": {"name": name, "arguments": {"CUSTNO": CUSTNO}}},
            auth,
        )  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(20)


@contextmanager
def watching(target: Target) -> Iterator[None]:
    """A console open on ``target``: its live event stream read, in a thread, as a browser
    would (every call the load makes is an event on it)."""
    base = target.url.split("/v1/")[0]
    events = [0]

    def read() -> None:
        with httpx.stream("GET", f"{base}/v1/events", headers=target.headers, timeout=None) as s:
            for line in s.iter_lines():
                events[0] += line.startswith("event: call")

    threading.Thread(target=read, daemon=True).start()
    yield
    print(f"the console's stream carried {events[0]} call events", flush=True)


def report(name: str, sequential: Result, concurrent: Result) -> None:
    print(
        f"{name:7} sequential p50 {sequential.p50_ms:8.3f} ms  p99 {sequential.p99_ms:8.3f} ms  "
        f"{sequential.calls_per_s:8.1f}/s | 10 concurrent p50 {concurrent.p50_ms:8.3f} ms  "
        f"p99 {concurrent.p99_ms:8.3f} ms  {concurrent.calls_per_s:8.1f}/s",
        flush=True,
    )


async def measure(
    target: Target, seconds: float, run: Callable[[Target, int, float], Awaitable[Result]]
) -> tuple[Result, Result]:
    await run(target, 2, 1.0)  # warm up connections, caches, the peer's lazy imports
    return await run(target, 1, seconds), await run(target, 10, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--peer-venv", type=Path, default=Path("/tmp/peer"))
    parser.add_argument(
        "--console", action="store_true", help="with the console's event stream open meanwhile"
    )
    args = parser.parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        backend = stack.enter_context(estate_process())
        direct = Target("direct", f"{backend}/crm/lookup", {"CUSTNO": CUSTNO}, {})
        ours = stack.enter_context(our_gateway(backend, Path(tmp)))
        if args.console:
            stack.enter_context(watching(ours))
        results = {t.name: asyncio.run(measure(t, args.seconds, load)) for t in (direct, ours)}
        if not args.no_peer:
            try:
                peer = stack.enter_context(peer_gateway(backend, Path(tmp), args.peer_venv))
                results["peer"] = asyncio.run(measure(peer, args.seconds, load))
            except (subprocess.CalledProcessError, httpx.HTTPError, RuntimeError, KeyError) as exc:
                print(f"peer not measured: {type(exc).__name__}: {exc}", flush=True)
    for name, (sequential, concurrent) in results.items():
        report(name, sequential, concurrent)
    ours_s, ours_c = results["ours"]
    direct_s, direct_c = results["direct"]
    print(f"ours adds {ours_s.p50_ms - direct_s.p50_ms:.3f} ms at p50 (sequential)")
    print(f"P4 ours/direct = {ours_c.calls_per_s / direct_c.calls_per_s:.2f}")
    if "peer" in results:
        print(f"P4 ours/peer = {ours_c.calls_per_s / results['peer'][1].calls_per_s:.1f}")


if __name__ == "__main__":
    main()
