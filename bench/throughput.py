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

P7: while the 10 concurrent callers run, the CPU time (user + system, from /proc) of the
gateway process and of a bare uvicorn ASGI endpoint answering a small JSON body (same client,
same run) is divided by the calls each answered: ``P7 gateway-cpu/bare-asgi-cpu = X`` with
both figures in µs a call and the part of each spent in the kernel. The floor beside it: a
bare ASGI endpoint that forwards each body to the backend with the gateway's HTTP client
(``_bare_proxy``), which pays for both hops and nothing else; what the gateway spends above
it is its own work. ``--profile`` samples the gateway meanwhile with py-spy (as root) and
prints the share of its samples by component, in µs a call too.

P4-console: the same 10 concurrent callers with the console open (a process reading
``/v1/events``, as a browser tab does) and without, in interleaved rounds of the same run
(``--console-rounds``, ``--console-seconds``): both medians, and
``P4-console open/closed = X``, with the median of each round's own ratio.

At saturation: the same four servers under 10 concurrent callers of the lean client
(``_http_load``: prepared requests on asyncio's protocol layer, about 50 µs of CPU a call
against httpx's 1-2 ms), which leaves the cores to the servers: calls a second, p50 and CPU a
call of each, ``P4 ours/direct`` and ``P7`` at saturation. With httpx the client takes about
a core, and the servers' calls a second (and their CPU a call: fewer calls to a wake-up) are
the client's.

P4-cores: ``serve --workers N`` (``--workers``, 0 skips) against the single process, both with
the lean client, 10 callers a worker: ``P4-cores workersN/(N*workers1) = X``, the CPU each
party spent (client, backend, gateway) in that run, which is what bounds it on a shared
machine, and ``P4-cores by CPU a call``: one process's CPU a call over the workers', what
the calls a second would scale by with N cores to the gateway alone.
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
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _http_load import LoadError, Request, run_callers
from _procs import (
    PIDS,
    bench_server,
    cpu_seconds,
    cpu_times,
    estate_process,
    free_port,
    gateway_process,
    wait_http,
)
from _profile import Shares, print_profile, profile

CUSTNO = "10000001"
SETTLE_S = 1.0  # P4-console: the pause before each round
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
    pid: int = 0  # the serving process, whose CPU time (and its workers') P7 counts


@dataclass
class Result:
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    calls: int = 0
    server_cpu_s: float = 0.0  # the target process's CPU time over the run
    client_cpu_s: float = 0.0
    server_system_s: float = 0.0  # of which in the kernel (syscalls: sockets, files)

    @property
    def cpu_us_per_call(self) -> float:
        return self.server_cpu_s / max(1, self.calls) * 1e6

    @property
    def system_us_per_call(self) -> float:
        return self.server_system_s / max(1, self.calls) * 1e6


async def _httpx_callers(target: Target, callers: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=callers, max_keepalive_connections=callers)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def caller() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(target.url, json=target.body, headers=target.headers)
                if response.status_code != 200:
                    raise SystemExit(f"{target.name}: HTTP {response.status_code}: {response.text}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(caller() for _ in range(callers)))
    return latencies


async def _lean_callers(target: Target, callers: int, seconds: float) -> list[float]:
    try:
        request = Request.post_json(target.url, target.body, target.headers)
        return await run_callers(request, callers, seconds)
    except LoadError as exc:
        raise SystemExit(f"{target.name}: {exc}") from None


async def load(target: Target, callers: int, seconds: float, *, lean: bool = False) -> Result:
    """``callers`` concurrent callers for ``seconds``, with httpx's async client (as P4 and P7
    are defined) or, ``lean``, with the lean client (``_http_load``), which leaves the cores
    to the server."""
    cpu = cpu_times(target.pid) if target.pid else (0.0, 0.0)
    client_cpu = time.process_time()
    started = time.perf_counter()
    latencies = await (_lean_callers if lean else _httpx_callers)(target, callers, seconds)
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu
    after = cpu_times(target.pid) if target.pid else (0.0, 0.0)
    latencies.sort()
    return Result(
        len(latencies) / elapsed,
        statistics.median(latencies) * 1000,
        latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        len(latencies),
        sum(after) - sum(cpu),
        client_cpu,
        after[1] - cpu[1],
    )


@contextmanager
def bare_asgi(backend: str | None = None) -> Iterator[Target]:
    """The bare endpoint (``_bare_asgi``) or, given the backend, the bare forwarding proxy
    (``_bare_proxy``) to its lookup."""
    if backend is None:
        server = bench_server("_bare_asgi.py")
        name, body = "bare", {"customer_number": CUSTNO}
    else:
        server = bench_server("_bare_proxy.py", f"{backend}/crm/lookup")
        name, body = "proxy", {"CUSTNO": CUSTNO}
    with server as base:
        yield Target(name, f"{base}/call", body, {}, PIDS[base])


@contextmanager
def our_gateway(backend: str, directory: Path, workers: int = 0) -> Iterator[Target]:
    directory = Path(tempfile.mkdtemp(dir=directory))
    config = directory / "config"
    config.mkdir()
    (config / "bench.yaml").write_text(CONFIG.format(base=backend))
    served = gateway_process(
        config, {}, "lookup_customer", workers=workers, audit_db=directory / "audit.sqlite"
    )
    with served as (base, key):
        yield Target(
            f"ours x{workers}" if workers else "ours",
            f"{base}/v1/tools/lookup_customer/call",
            {"arguments": {"customer_number": CUSTNO}},
            {"authorization": f"Bearer {key}"},
            PIDS[base],
        )


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
def watching(target: Target) -> Iterator[list[int]]:
    """A console open on ``target``: its live event stream read by a process of its own, as
    a browser tab would (every call the load makes is an event on it). Yields a list that
    holds, once the block ends, how many call events the stream carried."""
    base = target.url.split("/v1/")[0]
    token = target.headers["authorization"].removeprefix("Bearer ")
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "_watch_events.py"), base, token],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: list[int] = []
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "open":
            raise RuntimeError("the console's event stream did not open")
        yield seen
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        seen.append(int(out.strip() or 0))


def console_cost(target: Target, seconds: float, rounds: int) -> None:
    """P4-console: 10 concurrent callers with the console open and streaming ``/v1/events``
    against none open, in interleaved rounds (open first in every other round, so drift on a
    shared machine falls on both); the medians, and the median of each round's ratio."""
    figures: dict[bool, list[float]] = {True: [], False: []}
    events = 0
    asyncio.run(load(target, 10, 1.0))
    for number in range(rounds):
        for streaming in (True, False) if number % 2 else (False, True):
            with watching(target) if streaming else nullcontext([]) as seen:
                # Both states start alike: the console done folding the round before (it
                # tails the log whether anyone watches), the stream subscribed.
                time.sleep(SETTLE_S)
                result = asyncio.run(load(target, 10, seconds))
                time.sleep(0.5)  # the events of the last calls reach the stream
            if streaming:
                events += seen[0] if seen else 0
                if seen and seen[0] < result.calls:
                    print(f"  round {number}: the stream carried {seen[0]} of "
                          f"{result.calls} call events", flush=True)  # fmt: skip
            figures[streaming].append(result.calls_per_s)
    opened, closed = statistics.median(figures[True]), statistics.median(figures[False])
    paired = statistics.median(o / c for o, c in zip(figures[True], figures[False], strict=True))
    print(
        f"console open   (streaming /v1/events): {opened:8.1f}/s median of {rounds} rounds "
        f"({', '.join(f'{v:.0f}' for v in figures[True])}); {events} call events streamed"
    )
    print(f"console closed:                        {closed:8.1f}/s median of {rounds} rounds "
          f"({', '.join(f'{v:.0f}' for v in figures[False])})")  # fmt: skip
    print(f"P4-console open/closed = {opened / closed:.3f} (median of the rounds' ratios "
          f"{paired:.3f})", flush=True)  # fmt: skip


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


def profiled(target: Target, seconds: float) -> None:
    """The gateway sampled by py-spy under the 10 concurrent callers."""
    found: list[Shares | str] = []
    sampler = threading.Thread(target=lambda: found.append(profile(target.pid, seconds)))
    sampler.start()
    result = asyncio.run(load(target, 10, seconds + 1))
    sampler.join()
    print_profile(found[0], result.cpu_us_per_call)


def cores(backend: str, directory: Path, seconds: float, workers: int, one: Result) -> None:
    """P4-cores: ``serve --workers N`` against one process (``one``), both with the lean
    client, and who spent the CPU meanwhile: on a shared machine that is what bounds it."""
    callers = 10 * workers  # as many per worker as the single process had
    estate = PIDS[backend]
    with our_gateway(backend, directory, workers) as many:
        asyncio.run(load(many, callers, 1.0, lean=True))
        backend_cpu = cpu_seconds(estate)
        result = asyncio.run(load(many, callers, seconds, lean=True))
        backend_cpu = cpu_seconds(estate) - backend_cpu
    per_call = 1e6 / max(1, result.calls)
    print(
        f"ours x{workers}: {result.calls_per_s:8.1f}/s with {callers} concurrent (one process: "
        f"{one.calls_per_s:.1f}/s); CPU a call: gateway {result.server_cpu_s * per_call:.0f} µs "
        f"(one process: {one.cpu_us_per_call:.0f}), client {result.client_cpu_s * per_call:.0f} "
        f"µs, backend {backend_cpu * per_call:.0f} µs",
        flush=True,
    )
    busy = (result.server_cpu_s + result.client_cpu_s + backend_cpu) / seconds
    print(
        f"gateway, client and backend kept {busy:.2f} of {os.cpu_count()} cores busy "
        "(the rest: other load on the machine)"
    )
    print(f"P4-cores workers{workers}/({workers}*workers1) = "
          f"{result.calls_per_s / (workers * one.calls_per_s):.2f}")  # fmt: skip
    # What the workers would do with the cores to themselves: the CPU a call decides it.
    print(
        f"P4-cores by CPU a call: workers1/workers{workers} = "
        f"{one.cpu_us_per_call * result.calls / max(1e-9, result.server_cpu_s) / 1e6:.2f}; "
        f"{workers} cores to the gateway alone: {workers * result.calls / result.server_cpu_s:.0f} "
        f"calls/s at this CPU a call"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--peer-venv", type=Path, default=Path("/tmp/peer"))
    parser.add_argument(
        "--console-rounds", type=int, default=7,
        help="P4-console: rounds of console open / closed, interleaved (0: skip)",
    )  # fmt: skip
    parser.add_argument(
        "--console-seconds", type=float, default=3.0, help="P4-console: seconds of each round"
    )
    parser.add_argument(
        "--only-console", action="store_true", help="measure P4-console alone (no P4, P7, peer)"
    )
    parser.add_argument("--workers", type=int, default=2, help="P4-cores: N workers (0: skip)")
    parser.add_argument("--profile", action="store_true", help="sample the gateway with py-spy")
    args = parser.parse_args()
    # The gateways stop before their directory goes: one that saw its config vanish says so.
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        backend = stack.enter_context(estate_process())
        direct = Target("direct", f"{backend}/crm/lookup", {"CUSTNO": CUSTNO}, {})
        bare = stack.enter_context(bare_asgi())
        proxy = stack.enter_context(bare_asgi(backend))
        ours = stack.enter_context(our_gateway(backend, Path(tmp)))
        if args.only_console:
            console_cost(ours, args.console_seconds, max(1, args.console_rounds))
            return
        results = {
            t.name: asyncio.run(measure(t, args.seconds, load)) for t in (direct, bare, proxy, ours)
        }
        # The same servers at saturation: the lean client leaves them the cores.
        saturated = {
            t.name: asyncio.run(load(t, 10, args.seconds, lean=True))
            for t in (direct, bare, proxy, ours)
        }
        if args.console_rounds:
            console_cost(ours, args.console_seconds, args.console_rounds)
        if args.profile:
            profiled(ours, args.seconds)
        if args.workers:
            cores(backend, Path(tmp), args.seconds, args.workers, saturated["ours"])
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
    bare_c, proxy_c = results["bare"][1], results["proxy"][1]
    print(f"ours adds {ours_s.p50_ms - direct_s.p50_ms:.3f} ms at p50 (sequential)")
    print(f"P4 ours/direct = {ours_c.calls_per_s / direct_c.calls_per_s:.2f}")
    if "peer" in results:
        print(f"P4 ours/peer = {ours_c.calls_per_s / results['peer'][1].calls_per_s:.1f}")
    print(
        f"P7 gateway-cpu/bare-asgi-cpu = {ours_c.cpu_us_per_call / bare_c.cpu_us_per_call:.2f} "
        f"(gateway {ours_c.cpu_us_per_call:.0f} µs a call, {ours_c.system_us_per_call:.0f} of "
        f"them in the kernel; bare ASGI {bare_c.cpu_us_per_call:.0f} µs a request, "
        f"{bare_c.system_us_per_call:.0f} in the kernel)"
    )
    print(
        f"P7 floor: a bare forwarding proxy spends {proxy_c.cpu_us_per_call:.0f} µs a call "
        f"({proxy_c.system_us_per_call:.0f} in the kernel), "
        f"{proxy_c.cpu_us_per_call / bare_c.cpu_us_per_call:.2f} x the bare endpoint; the "
        f"gateway's own work above it: {ours_c.cpu_us_per_call - proxy_c.cpu_us_per_call:.0f} µs"
    )
    print("at saturation (the lean client, 10 concurrent: the servers, not httpx, the limit):")
    for name, result in saturated.items():
        cpu = (
            f"CPU a call {result.cpu_us_per_call:5.0f} µs "
            f"({result.system_us_per_call:.0f} in the kernel)"
            if result.server_cpu_s
            else "CPU not measured (the estate serves other routes too)"
        )
        print(
            f"  {name:7} {result.calls_per_s:8.1f}/s  p50 {result.p50_ms:7.3f} ms  {cpu}, "
            f"client {result.client_cpu_s / max(1, result.calls) * 1e6:.0f} µs"
        )
    lean_ours, lean_bare = saturated["ours"], saturated["bare"]
    print(
        f"P4 ours/direct at saturation = "
        f"{lean_ours.calls_per_s / saturated['direct'].calls_per_s:.2f}; P7 at saturation = "
        f"{lean_ours.cpu_us_per_call / lean_bare.cpu_us_per_call:.2f}; the gateway's own work "
        f"above the forwarder: "
        f"{lean_ours.cpu_us_per_call - saturated['proxy'].cpu_us_per_call:.0f} µs"
    )


if __name__ == "__main__":
    main()
