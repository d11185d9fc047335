"""The Dockerfile and its build context, checked without building (`make image-test` builds)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    linted = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, check=False, timeout=60
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_final_stage_has_no_build_tools_and_carries_oci_labels() -> None:
    final = DOCKERFILE.read_text().rsplit("\nFROM ", 1)[1]
    assert not re.search(r"\b(gcc|g\+\+|build-essential|make|-dev)\b", final)
    for label in ("title", "version", "revision", "licenses", "source", "base.name"):
        assert f"org.opencontainers.image.{label}=" in final, label
    assert "USER 10001" in final
    assert "HEALTHCHECK" in final


def test_the_base_image_digest_is_written_down() -> None:
    assert re.search(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", DOCKERFILE.read_text())


def test_the_build_context_leaves_tests_and_caches_out() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"  # everything out, then only what the image needs back in
    included = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert included == {"pyproject.toml", "README.md", "gateway", "adapters", "estate", "mappings"}
    assert "**/__pycache__" in rules
