"""Where the running demo's estate is, for the CLI's calls on the demo config.

``legacy-gateway demo`` serves its estate on 8801 or, when that port is taken, on a free one,
and sets ``${CUSTOMER_MASTER_URL}``, ``${CRM_URL}``... for its own gateway. The CLI's ``call``,
``map`` and ``validate --connect`` on ``mappings/demo`` read the same config in another process:
without these addresses they would fall back to 8801 and talk to whatever holds that port. So
the demo writes them beside its call record, and the CLI uses them while that demo runs.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

FILE_NAME = "demo-estate.json"
ESTATE_VARIABLES = ("CUSTOMER_MASTER_URL", "FX_RATES_URL", "CRM_URL", "LEDGER_DB")


def write(state_dir: Path) -> Path:
    """Record this process's estate addresses (already in its environment)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / FILE_NAME
    addresses = {name: os.environ[name] for name in ESTATE_VARIABLES if name in os.environ}
    path.write_text(json.dumps({"pid": os.getpid(), "environment": addresses}, indent=2) + "\n")
    return path


def clear(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / FILE_NAME).unlink()


def use(config: Path, demo_config: Path, state_dir: Path) -> dict[str, str]:
    """For the demo config, take the running demo's addresses into this process's environment.

    Addresses the user set explicitly win. Returns what was applied (nothing when no demo runs,
    when its process is gone, or for any other config).
    """
    try:
        if config.resolve() != demo_config.resolve():
            return {}
        recorded = json.loads((state_dir / FILE_NAME).read_text())
        pid = int(recorded["pid"])
        addresses = {str(k): str(v) for k, v in recorded["environment"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not _alive(pid):
        return {}
    applied = {k: v for k, v in addresses.items() if k in ESTATE_VARIABLES and k not in os.environ}
    os.environ.update(applied)
    return applied


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
