"""Installing with no index, as on an air-gapped host: `make wheelhouse`, then a fresh venv
that gets everything from that directory alone, then the CLI from that venv.

Building the wheelhouse downloads every dependency's wheel (about 20 s with pip's cache
warm), so it is kept under the system's temp directory, keyed by the content of everything
that goes into it: a later run on the same tree reuses it, a change builds a new one (and
drops the old).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(tempfile.gettempdir()) / "legacy-gateway-wheelhouse"
# What `make wheelhouse` reads: the project (its wheel) and its dependency list.
INPUTS = ("pyproject.toml", "Makefile", "README.md", "gateway", "adapters", "estate", "mappings")


def tree_digest() -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        path = ROOT / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    """`make wheelhouse` of this tree, with the Python running the tests as the build venv."""
    target = CACHE / tree_digest()
    if target.is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    building = CACHE / f"{target.name}.{os.getpid()}.building"
    venv = Path(sys.prefix)
    # The venv is the one running these tests: make must not set it up again.
    run(
        ["make", "-o", str(venv / ".installed"), "wheelhouse",
         f"VENV={venv}", f"WHEELHOUSE={building}"],
        ROOT,
        dict(os.environ),
    )  # fmt: skip
    try:
        building.rename(target)
    except OSError:  # another run finished the same wheelhouse first
        shutil.rmtree(building, ignore_errors=True)
    for older in CACHE.iterdir():  # wheelhouses of earlier trees: 35 MB each
        if older != target and not older.name.endswith(".building"):
            shutil.rmtree(older, ignore_errors=True)
    return target


@pytest.mark.timeout(900)
def test_a_fresh_venv_installs_from_the_wheelhouse_alone_and_the_cli_works(
    wheelhouse: Path, tmp_path: Path
) -> None:
    wheels = {wheel.name.split("-")[0].lower() for wheel in wheelhouse.glob("*.whl")}
    assert {"legacy_gateway", "lxml", "xmlsec", "pyodbc", "psycopg_binary"} <= wheels

    venv = tmp_path / "venv"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not key.startswith("PIP_")
    }
    # No pip.conf either: its index or find-links must not help.
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    bin_dir = venv / "bin"
    run(
        [str(bin_dir / "pip"), "install", "--quiet", "--no-index",
         "--find-links", str(wheelhouse), "legacy-gateway"],
        tmp_path,
        env,
    )  # fmt: skip

    env |= {
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "LEGACY_GATEWAY_AUDIT_DB": str(tmp_path / "audit.sqlite"),
    }
    assert "serve" in run([str(bin_dir / "legacy-gateway"), "--help"], tmp_path, env)
    # The gateway runs from the venv, not from this checkout; the demo config came with it,
    # and the native wheels (xmlsec beside lxml, ODBC, PostgreSQL) load.
    where = run(
        [str(bin_dir / "python"), "-c",
         "import pathlib, gateway, xmlsec, pyodbc, psycopg; "
         "print(pathlib.Path(gateway.__file__).parent)"],
        tmp_path,
        env,
    ).strip()  # fmt: skip
    package = Path(where)
    assert package.is_relative_to(venv), package
    validated = run(
        [str(bin_dir / "legacy-gateway"), "validate", str(package / "mappings" / "demo")],
        tmp_path,
        env,
    )
    assert validated.startswith("ok: 5 backend(s), 14 tool(s)"), validated
