"""P1: a small SOAP tool call through the gateway vs the same operation called with zeep.

Both paths hit the same demo SOAP service (its own process) and run alternately in one run,
so machine noise hits both alike. The gateway path is the full one an agent takes: an HTTP
POST to /v1/tools/get_customer/call, argument validation, intent record, SOAP call, output
mapping, interaction and outcome records (SQLite, committed), JSON answer, with an API key
as ``serve`` runs by default.

Two more paths in the same run send zeep's own envelope for the call with requests, as
bytes: through a forwarder that does nothing else (``_bare_proxy``: uvicorn and the gateway's
HTTP client, no key, validation, mapping or log), and straight to the service. The first is
the floor of any gateway in this stack (its two hops without zeep's serialiser and parser);
the gateway's own work is what it takes above it.

Prints p50 and p99 of each path, the floor as a ratio to direct, the gateway's own work above
the floor, and, last, ``P1 gateway/direct = X`` (p50 over p50; target <= 1.0).

``--log`` picks the log the gateway commits to, for P1 in each durability mode (README, "The
call record"): ``sqlite`` (the default, ``normal``: no fsync on the call's path),
``sqlite-full`` (an fsync of the WAL a group commit) or ``postgresql`` (``--postgres``, in a
schema of its own, dropped afterwards).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import zeep
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import (
    PIDS,
    ROOT,
    bench_server,
    cpu_seconds,
    estate_process,
    gateway_process,
    pg_schema,
)
from _profile import Shares, print_profile, profile


def percentile(samples: list[float], q: float) -> float:
    return (
        statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if q < 100 else max(samples)
    )


LOGS = ("sqlite", "sqlite-full", "postgresql")


@contextmanager
def log_settings(log: str, postgres: str) -> Iterator[dict[str, str]]:
    """The gateway's environment for the log ``log`` (one of ``LOGS``)."""
    if log == "sqlite":
        yield {"LEGACY_GATEWAY_AUDIT_DURABILITY": "normal"}
    elif log == "sqlite-full":
        yield {"LEGACY_GATEWAY_AUDIT_DURABILITY": "full"}
    else:
        with pg_schema(postgres, "bench_p1") as url:
            yield {"LEGACY_GATEWAY_AUDIT_STORE": url}


def _paths(service: str, gateway: str, key: str, forwarder: str) -> dict[str, Callable[[], None]]:
    """One GetCustomer call by each path, checked."""
    direct = zeep.Client(f"{service}?wsdl")
    # The agent's HTTP client is requests, the library zeep itself sends with:
    # every path pays for the same client.
    agent = requests.Session()
    agent.headers["authorization"] = f"Bearer {key}"
    url = f"{gateway}/v1/tools/get_customer/call"
    body = {"arguments": {"customer_number": "10000001"}}
    envelope = etree.tostring(
        direct.create_message(direct.service, "GetCustomer", CUSTNO="10000001")
    )
    plain = requests.Session()
    plain.headers["content-type"] = "text/xml; charset=utf-8"

    def via_zeep() -> None:
        customer = direct.service.GetCustomer(CUSTNO="10000001")
        assert customer.CUSTNO == "10000001"

    def via_gateway() -> None:
        response = agent.post(url, json=body)
        assert response.status_code == 200, response.text

    def posting_to(target: str) -> Callable[[], None]:
        def post() -> None:
            response = plain.post(target, data=envelope)
            assert response.status_code == 200 and b"10000001" in response.content

        return post

    return {
        "direct": via_zeep,
        "gateway": via_gateway,
        "forwarder": posting_to(forwarder),
        "raw": posting_to(service),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per path")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--profile", action="store_true", help="sample the gateway with py-spy during the run"
    )
    parser.add_argument("--log", choices=LOGS, default="sqlite", help="the gateway's log")
    parser.add_argument("--postgres", default="postgresql://root@127.0.0.1:5432/test")
    args = parser.parse_args()

    with estate_process() as estate, log_settings(args.log, args.postgres) as logged:
        env = {
            "CUSTOMER_MASTER_URL": f"{estate}/customer-master",
            "FX_RATES_URL": f"{estate}/fx-rates",
            **logged,
        }
        demo = ROOT / "mappings" / "demo"
        service = f"{estate}/customer-master"
        with (
            gateway_process(demo, env, scopes="get_customer") as (gateway, key),
            bench_server("_bare_proxy.py", service, "text/xml; charset=utf-8") as forwarder,
        ):
            paths = _paths(service, gateway, key, forwarder)
            for _ in range(args.warmup):
                for fn in paths.values():
                    fn()
            # CPU per call: the gateway process's own, and this process's around the zeep
            # call (zeep's serialiser and parser, its requests transport).
            found: list[Shares | str] = []
            if args.profile:
                seconds = max(1.0, args.calls * 0.008)
                sampler = threading.Thread(
                    target=lambda: found.append(profile(PIDS[gateway], seconds))
                )
                sampler.start()
            times: dict[str, list[float]] = {name: [] for name in paths}
            direct_cpu = 0.0
            gateway_cpu, forwarder_cpu = cpu_seconds(PIDS[gateway]), cpu_seconds(PIDS[forwarder])
            for _ in range(args.calls):
                for name, fn in paths.items():
                    cpu, started = time.process_time(), time.perf_counter()
                    fn()
                    times[name].append((time.perf_counter() - started) * 1000)
                    if name == "direct":
                        direct_cpu += time.process_time() - cpu
            gateway_cpu = cpu_seconds(PIDS[gateway]) - gateway_cpu
            forwarder_cpu = cpu_seconds(PIDS[forwarder]) - forwarder_cpu
            if args.profile:
                sampler.join()

    print(f"the gateway's log: {args.log}")
    print(
        f"CPU per call: gateway process {gateway_cpu / args.calls * 1e6:6.0f} us, "
        f"bare forwarder {forwarder_cpu / args.calls * 1e6:6.0f} us, "
        f"zeep direct (client side) {direct_cpu / args.calls * 1e6:6.0f} us"
    )
    if found:
        print_profile(found[0], gateway_cpu / args.calls * 1e6)

    shown = {
        "direct": "zeep -> service",
        "gateway": "requests -> gateway -> service",
        "forwarder": "requests -> bare forwarder -> service (zeep's envelope, as bytes)",
        "raw": "requests -> service (zeep's envelope, as bytes)",
    }
    for name, samples in times.items():
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        print(f"{name:9s} p50 {p50:6.3f} ms   p99 {p99:6.3f} ms   {shown[name]}")
    median = {name: statistics.median(samples) for name, samples in times.items()}
    print(
        f"floor: forwarder/direct = {median['forwarder'] / median['direct']:.2f}; "
        f"zeep's own work {median['direct'] - median['raw']:.3f} ms, the gateway's own work "
        f"above the forwarder {median['gateway'] - median['forwarder']:.3f} ms (p50)"
    )
    print(f"P1 gateway/direct = {median['gateway'] / median['direct']:.2f}")


if __name__ == "__main__":
    main()
