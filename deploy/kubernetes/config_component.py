"""Write the Kustomize component that mounts a gateway config directory, subdirectories included.

A ConfigMap holds flat keys only: ``kubectl create configmap --from-file=DIR`` takes the top-level
files and drops ``wsdl/`` and ``copybooks/``, and the gateway starts without its WSDLs. This
copies the directory into the component, generates one ConfigMap per directory, and mounts them
as one projected volume that puts every file back at its own path under /etc/legacy-gateway:

    python3 deploy/kubernetes/config_component.py my-config \
        deploy/kubernetes/overlays/production/config

Run it again after changing the config: the ConfigMaps' names carry a hash of their content,
so ``kubectl apply -k`` rolls the replicas onto the new config. Needs only Python's standard
library; the files are written as JSON, which Kustomize reads as YAML.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

MOUNT = "/etc/legacy-gateway"
PREFIX = "legacy-gateway-config"
# A ConfigMap holds at most 1 MiB; past that, bake the config into an image layer instead.
MAX_CONFIGMAP_BYTES = 1024 * 1024
KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
SKIPPED = {"__pycache__", ".git"}


def config_files(source: Path) -> dict[Path, list[Path]]:
    """The files to mount, by directory (relative to ``source``); hidden files left out."""
    found: dict[Path, list[Path]] = {}
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if not path.is_file() or any(p.startswith(".") or p in SKIPPED for p in relative.parts):
            continue
        if not KEY.match(path.name):
            raise SystemExit(
                f"{relative}: a ConfigMap key may hold only letters, digits, -, _ and ."
            )
        found.setdefault(relative.parent, []).append(relative)
    if not found.get(Path(".")):
        raise SystemExit(f"{source}: no config files at its top level (*.yaml)")
    return found


def configmap_name(directory: Path) -> str:
    if directory == Path("."):
        return PREFIX
    slug = re.sub(r"[^a-z0-9]+", "-", str(directory).lower()).strip("-")
    return f"{PREFIX}-{slug}"


def component(found: dict[Path, list[Path]], source: Path) -> dict[str, object]:
    generators = []
    sources = []
    for directory, files in found.items():
        size = sum((source / f).stat().st_size for f in files)
        if size > MAX_CONFIGMAP_BYTES:
            raise SystemExit(
                f"{directory}: {size} bytes is more than a ConfigMap holds (1 MiB); "
                "bake the config into an image layer (FROM legacy-gateway, COPY) instead"
            )
        name = configmap_name(directory)
        generators.append({"name": name, "files": [f"files/{f.as_posix()}" for f in files]})
        items = [{"key": f.name, "path": f.as_posix()} for f in files]
        sources.append({"configMap": {"name": name, "items": items}})
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "legacy-gateway"},
        "spec": {
            "template": {
                "spec": {
                    "volumes": [{"name": "config", "projected": {"sources": sources}}],
                    "containers": [
                        {
                            "name": "gateway",
                            "volumeMounts": [
                                {"name": "config", "mountPath": MOUNT, "readOnly": True}
                            ],
                        }
                    ],
                }
            }
        },
    }
    return {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "configMapGenerator": generators,
        "patches": [{"patch": json.dumps(patch, indent=1)}],
    }


def write(source: Path, target: Path) -> None:
    found = config_files(source)
    files = target / "files"
    if files.exists():
        shutil.rmtree(files)
    for paths in found.values():
        for relative in paths:
            (files / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / relative, files / relative)
    target.mkdir(parents=True, exist_ok=True)
    text = json.dumps(component(found, source), indent=2) + "\n"
    (target / "kustomization.yaml").write_text(text)
    count = sum(len(paths) for paths in found.values())
    print(f"{target}: {count} files in {len(found)} ConfigMap(s), mounted at {MOUNT}")


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    source, target = Path(argv[0]), Path(argv[1])
    if not source.is_dir():
        raise SystemExit(f"{source}: not a directory")
    write(source, target)


if __name__ == "__main__":
    main(sys.argv[1:])
