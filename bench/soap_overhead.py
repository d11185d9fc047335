"""P1: a small SOAP tool call through the gateway vs the same operation called with zeep.

Both paths hit the same demo SOAP service (its own process) and run alternately in one run,
so machine noise hits both alike. The gateway path is the full one an agent takes: an HTTP
POST to /v1/tools/get_customer/call, argument validation, intent record, SOAP call, output
mapping, interaction and outcome records (SQLite, committed), JSON answer, with an API key
as ``serve`` runs by default.

Prints p50 and p99 of each and, last, ``P1 gateway/direct = X`` (p50 over p50; target <= 1.0).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import requests
import zeep

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import PIDS, ROOT, cpu_seconds, estate_process, gateway_process
from _profile import Shares, print_profile, profile


def percentile(samples: list[float], q: float) -> float:
    return (
        statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if q < 100 else max(samples)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per path")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--profile", action="store_true", help="sample the gateway with py-spy during the run"
    )
    args = parser.parse_args()

    with estate_process() as estate:
        env = {
            "CUSTOMER_MASTER_URL": f"{estate}/customer-master",
            "FX_RATES_URL": f"{estate}/fx-rates",
        }
        demo = ROOT / "mappings" / "demo"
        with gateway_process(demo, env, scopes="get_customer") as (gateway, key):
            direct = zeep.Client(f"{estate}/customer-master?wsdl")
            # The agent's HTTP client is requests, the library zeep itself sends with:
            # both paths pay for the same client.
            agent = requests.Session()
            agent.headers["authorization"] = f"Bearer {key}"
            url = f"{gateway}/v1/tools/get_customer/call"
            body = {"arguments": {"customer_number": "10000001"}}

            def via_zeep() -> None:
                customer = direct.service.GetCustomer(CUSTNO="10000001")
                assert customer.CUSTNO == "10000001"

            def via_gateway() -> None:
                response = agent.post(url, json=body)
                assert response.status_code == 200, response.text

            for _ in range(args.warmup):
                via_zeep()
                via_gateway()
            # CPU per call: the gateway process's own, and this process's around the zeep
            # call (zeep's serialiser and parser, its requests transport).
            found: list[Shares | str] = []
            if args.profile:
                seconds = max(1.0, args.calls * 0.004)
                sampler = threading.Thread(
                    target=lambda: found.append(profile(PIDS[gateway], seconds))
                )
                sampler.start()
            times: dict[str, list[float]] = {"direct": [], "gateway": []}
            direct_cpu, gateway_cpu = 0.0, cpu_seconds(PIDS[gateway])
            for _ in range(args.calls):
                for name, fn in (("direct", via_zeep), ("gateway", via_gateway)):
                    cpu, started = time.process_time(), time.perf_counter()
                    fn()
                    times[name].append((time.perf_counter() - started) * 1000)
                    if name == "direct":
                        direct_cpu += time.process_time() - cpu
            gateway_cpu = cpu_seconds(PIDS[gateway]) - gateway_cpu
            if args.profile:
                sampler.join()

    print(
        f"CPU per call: gateway process {gateway_cpu / args.calls * 1e6:6.0f} us, "
        f"zeep direct (client side) {direct_cpu / args.calls * 1e6:6.0f} us"
    )
    if found:
        print_profile(found[0], gateway_cpu / args.calls * 1e6)

    for name, samples in times.items():
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        print(f"{name:8s} p50 {p50:6.3f} ms   p99 {p99:6.3f} ms   ({len(samples)} calls)")
    ratio = statistics.median(times["gateway"]) / statistics.median(times["direct"])
    print(f"P1 gateway/direct = {ratio:.2f}")


if __name__ == "__main__":
    main()
