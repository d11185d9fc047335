"""Import and load times of the largest WSDL the tests carry, and the memory they take.

Imports ``tests/fixtures/wsdl/bingads/campaignmanagement_service.xml`` (Microsoft Bing Ads
campaign management, 1.5 MB, the largest real WSDL in the fixtures) into a fresh directory,
then loads the config the way ``serve`` does (YAML, models, mappings, the WSDL through zeep,
every tool prepared). Each step runs in its own process, so that peak memory (max RSS) is
that step's alone. Prints seconds, MiB, operations, and the time per operation.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WSDL = ROOT / "tests/fixtures/wsdl/bingads/campaignmanagement_service.xml"


def _step(kind: str, wsdl: str, out: str) -> None:
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    if kind == "import":
        from gateway.importers.run import wsdl_to_config

        wsdl_to_config(wsdl, Path(out))
        count = -1
    else:
        from adapters.installed import INSTALLED
        from gateway.config.loader import load_config
        from gateway.mapping.redaction import Commitments
        from gateway.tools import build_registry

        count = len(
            build_registry(load_config(Path(out), INSTALLED), Commitments.throwaway()).tools
        )
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib, "tools": count}))


def _run(kind: str, wsdl: str, out: str) -> dict[str, float]:
    args = [sys.executable, __file__, "--step", kind, "--wsdl", wsdl, "--out", out]
    result = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wsdl", default=str(DEFAULT_WSDL))
    parser.add_argument("--out", default="")
    parser.add_argument("--step", choices=["import", "load"])
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    if options.step:
        _step(options.step, options.wsdl, options.out)
        return
    imports, loads = [], []
    for _ in range(options.rounds):
        with tempfile.TemporaryDirectory() as out:
            imports.append(_run("import", options.wsdl, out))
            loads.append(_run("load", options.wsdl, out))
            size = sum(p.stat().st_size for p in Path(out).glob("*.yaml"))
    tools = loads[0]["tools"]
    best_import = min(r["seconds"] for r in imports)
    best_load = min(r["seconds"] for r in loads)
    print(f"WSDL {Path(options.wsdl).name}: {Path(options.wsdl).stat().st_size / 2**20:.1f} MiB, "
          f"{tools} operations, config {size / 2**20:.1f} MiB of YAML")  # fmt: skip
    print(f"import: {best_import:.2f} s ({best_import / tools * 1000:.1f} ms/operation), "
          f"peak {max(r['peak_mib'] for r in imports):.0f} MiB")  # fmt: skip
    print(f"load:   {best_load:.2f} s ({best_load / tools * 1000:.1f} ms/tool), "
          f"peak {max(r['peak_mib'] for r in loads):.0f} MiB")  # fmt: skip
    print(f"load/import = {best_load / best_import:.2f}")


if __name__ == "__main__":
    main()
