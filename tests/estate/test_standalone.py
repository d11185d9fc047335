"""The demo estate stands for a legacy system: it runs without the gateway's code."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import estate

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("gateway", "adapters")


def test_every_estate_module_loads_without_importing_the_product() -> None:
    modules = sorted(f"estate.{m.name}" for m in pkgutil.iter_modules(estate.__path__))
    assert "estate.soap_service" in modules and "estate.orders" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {PRODUCT!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_estate_serves_the_demo_configs_wsdls() -> None:
    from estate.soap_service import DEFAULT_WSDL_DIR

    assert DEFAULT_WSDL_DIR == ROOT / "mappings" / "demo" / "wsdl"
    assert (DEFAULT_WSDL_DIR / "customer_master.wsdl").is_file()
