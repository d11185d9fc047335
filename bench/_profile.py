"""Where a serving process's CPU goes: py-spy samples it, each sample is put in a component.

A sample belongs to the innermost frame of a named component (standard library frames are
passed over: ``json`` called by the mapping is the mapping's time); samples only in the
standard library are the event loop's, named by their innermost file: under uvloop,
``asyncio/runners.py`` innermost is time in the native loop itself (socket reads and writes,
callbacks scheduled), below any Python frame.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

# Innermost match wins; the order breaks ties inside one frame's path.
COMPONENTS = (
    ("HTTP server (uvicorn, httptools)", ("/uvicorn/", "/httptools/", "/h11/", "/uvloop/")),
    ("FastAPI/Starlette routing", ("/fastapi/", "/starlette/")),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("tracing (OpenTelemetry)", ("/opentelemetry/", "/gateway/trace.py")),
    ("metrics (Prometheus)", ("/prometheus_client/", "/gateway/metrics.py")),
    ("audit store (append, commit, tree)", ("/gateway/audit/",)),
    ("mapping", ("/gateway/mapping/",)),
    (
        "adapters (their HTTP client, envelopes)",
        ("/httpx/", "/httpcore/", "/anyio/", "/h2/", "/httptools/", "/adapters/"),
    ),
    ("call pipeline", ("/gateway/pipeline/",)),
    ("API (fast path, auth)", ("/gateway/api/",)),
    ("gateway other", ("/gateway/",)),
    ("other libraries", ("site-packages",)),
)
EVENT_LOOP = "event loop, sockets (asyncio, stdlib)"


# Frames at the bottom of every stack (uvicorn's asyncio.run): they name no component.
ROOTS = ("/uvicorn/_compat.py", "/uvicorn/server.py", "/uvicorn/main.py", "/gateway/serving.py",
         "/gateway/cli/", "/typer/", "/click/", "/gateway/workers.py")  # fmt: skip


def component(stack: list[str]) -> tuple[str, str]:
    """The sample's component, and the innermost non-stdlib file it ran in."""
    for frame in reversed(stack):
        if any(root in frame for root in ROOTS):
            continue
        for label, marks in COMPONENTS:
            if any(mark in frame for mark in marks):
                where = frame.rpartition("(")[2].rpartition(":")[0]
                for root in ("site-packages/", "/scale/", "/work/"):
                    where = where.rpartition(root)[2] if root in where else where
                return label, where
    # The standard library's own: name its innermost file (selectors, asyncio, threading...).
    innermost = stack[-1].rpartition("(")[2].rpartition(":")[0] if stack else ""
    return EVENT_LOOP, "stdlib " + innermost.rpartition("/lib/python3.11/")[2]


Shares = tuple[Counter[str], Counter[str]]


def profile(pid: int, seconds: float) -> Shares | str:
    """Samples ``pid`` (and its worker processes) for ``seconds``: samples by component, or
    why it could not."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return "py-spy is not installed (pip install py-spy)"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stacks.txt"
        done = subprocess.run(
            [spy, "record", "--pid", str(pid), "--subprocesses", "--duration", str(int(seconds)),
             "--rate", "200", "--format", "raw", "--full-filenames", "--nonblocking",
             "--output", str(out)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not out.exists():
            return f"py-spy failed: {done.stderr.strip()[-300:]}"
        shares: Counter[str] = Counter()
        files: Counter[str] = Counter()
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                label, where = component(stack.split(";"))
                shares[label] += int(count)
                files[where or label] += int(count)
        return shares, files


def print_profile(found: Shares | str, us_per_call: float | None = None) -> None:
    """The shares of the samples; with the CPU a call measured meanwhile, each share of it
    in µs too."""
    if isinstance(found, str):
        print(f"profile: {found}")
        return
    shares, files = found
    total = sum(shares.values()) or 1
    per_call = f", {us_per_call:.0f} µs of CPU a call" if us_per_call else ""
    print(f"where the gateway's CPU goes ({total} samples{per_call}):")

    def line(count: int, label: str) -> str:
        share = count / total
        spent = f"  {share * us_per_call:5.0f} µs" if us_per_call else ""
        return f"  {share:6.1%}{spent}  {label}"

    for label, count in shares.most_common():
        print(line(count, label))
    print("  by file (innermost outside the standard library):")
    for where, count in files.most_common(12):
        print(line(count, where))
