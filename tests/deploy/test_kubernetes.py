"""The Kubernetes overlays, rendered with kustomize and validated against the API schemas."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
DEMO_CONFIG = ROOT / "mappings" / "demo"
KUBECTL = Path(sys.executable).parent / "kubectl"


def last_minor_versions(count: int = 3) -> list[str]:
    """The newest ``count`` Kubernetes minor versions kubernetes-validate has schemas for."""
    newest: dict[str, str] = {}
    for version in all_versions():
        newest[".".join(version.split(".")[:2])] = version
    return list(newest.values())[-count:]


def render(overlay: Path) -> list[dict[str, Any]]:
    rendered = subprocess.run(
        [str(KUBECTL), "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert rendered.returncode == 0, rendered.stderr
    return [doc for doc in YAML(typ="safe").load_all(rendered.stdout) if doc]


@pytest.fixture(scope="module")
def demo() -> list[dict[str, Any]]:
    return render(KUSTOMIZE / "overlays" / "demo")


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The production overlay with the demo config written into it, as the README says."""
    copy = tmp_path_factory.mktemp("kubernetes") / "kubernetes"
    shutil.copytree(KUSTOMIZE, copy)
    subprocess.run(
        [sys.executable, str(copy / "config_component.py"), str(DEMO_CONFIG),
         str(copy / "overlays" / "production" / "config")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return render(copy / "overlays" / "production")


def one(docs: list[dict[str, Any]], kind: str, name: str = "legacy-gateway") -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            yield doc["spec"]["template"]["spec"]


@pytest.mark.parametrize("version", last_minor_versions())
@pytest.mark.parametrize("overlay", ["demo", "production"])
def test_every_manifest_is_valid_for_the_last_three_kubernetes_versions(
    overlay: str, version: str, request: pytest.FixtureRequest
) -> None:
    docs = request.getfixturevalue(overlay)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validation_covers_three_minor_versions() -> None:
    versions = last_minor_versions()
    assert len({v.rsplit(".", 1)[0] for v in versions}) == 3, versions


@pytest.mark.parametrize("overlay", ["demo", "production"])
def test_every_pod_runs_locked_down(overlay: str, request: pytest.FixtureRequest) -> None:
    docs = request.getfixturevalue(overlay)
    for spec in pod_specs(docs):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, container["name"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])


@pytest.mark.parametrize("overlay", ["demo", "production"])
def test_readiness_is_the_replica_s_own_and_the_workers_follow_the_cpu_limit(
    overlay: str, request: pytest.FixtureRequest
) -> None:
    deployment = one(request.getfixturevalue(overlay), "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    (gateway,) = spec["containers"]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e for e in gateway["env"]}
    assert env["LEGACY_GATEWAY_WORKERS"]["valueFrom"]["resourceFieldRef"]["resource"] == (
        "limits.cpu"
    )
    assert "cpu" in gateway["resources"]["limits"]
    grace = float(env["LEGACY_GATEWAY_DRAIN_GRACE_S"]["value"])
    assert spec["terminationGracePeriodSeconds"] > grace + 5  # the drain, after preStop


def test_the_demo_is_one_replica_on_sqlite_on_a_persistent_volume(
    demo: list[dict[str, Any]],
) -> None:
    deployment = one(demo, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    (gateway,) = deployment["spec"]["template"]["spec"]["containers"]
    assert gateway["args"][0] == "demo"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
    assert one(demo, "PersistentVolumeClaim", claim)
    assert one(demo, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_production_is_three_replicas_on_postgresql(production: list[dict[str, Any]]) -> None:
    deployment = one(production, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    (gateway,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in gateway["env"]}
    assert env["LEGACY_GATEWAY_AUDIT_STORE"]["valueFrom"]["secretKeyRef"]["key"] == "store-url"
    assert gateway["image"] == "registry.example.com/legacy-gateway:0.1.0"
    assert one(production, "PodDisruptionBudget")["spec"] == {
        "minAvailable": 2,
        "selector": deployment["spec"]["selector"],
    }
    store = one(production, "StatefulSet", "legacy-gateway-postgres")
    assert store["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == 5432
    assert one(production, "Service", "legacy-gateway-postgres")


def test_each_replica_is_reachable_for_scrapes_through_a_headless_service(
    production: list[dict[str, Any]],
) -> None:
    """Every worker and replica keeps its own counters: Prometheus scrapes each pod."""
    pods = one(production, "Service", "legacy-gateway-pods")
    assert pods["metadata"]["namespace"] == "legacy-gateway"
    assert pods["spec"]["clusterIP"] == "None"
    assert (
        pods["spec"]["selector"] == one(production, "Deployment")["spec"]["selector"]["matchLabels"]
    )
    assert pods["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http"}]
    scrape = (ROOT / "deploy" / "prometheus" / "prometheus.yaml").read_text()
    assert "legacy-gateway-pods.legacy-gateway.svc.cluster.local" in scrape


def test_production_mounts_every_config_file_at_its_own_path(
    production: list[dict[str, Any]],
) -> None:
    deployment = one(production, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    (config,) = [v for v in spec["volumes"] if v["name"] == "config"]
    configmaps = {d["metadata"]["name"]: d["data"] for d in production if d["kind"] == "ConfigMap"}
    mounted: dict[str, str] = {}
    for source in config["projected"]["sources"]:
        data = configmaps[source["configMap"]["name"]]  # the generated (hashed) name
        for item in source["configMap"]["items"]:
            mounted[item["path"]] = data[item["key"]]
    expected = {
        str(p.relative_to(DEMO_CONFIG)): p.read_text()
        for p in DEMO_CONFIG.rglob("*")
        if p.is_file()
    }
    assert mounted == expected
    assert any(path.startswith("wsdl/") for path in mounted)
    assert any(path.startswith("copybooks/") for path in mounted)
    (gateway,) = spec["containers"]
    mounts = {m["name"]: m for m in gateway["volumeMounts"]}
    assert mounts["config"]["mountPath"] == "/etc/legacy-gateway"


def test_the_network_policy_lets_out_only_dns_the_legacy_hosts_and_the_store(
    production: list[dict[str, Any]],
) -> None:
    policy = one(production, "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    egress = policy["spec"]["egress"]
    assert all(rule.get("to") and rule.get("ports") for rule in egress)  # nothing open-ended
    destinations = [peer for rule in egress for peer in rule["to"]]
    assert {"ipBlock": {"cidr": "10.20.0.0/16"}} in destinations
    assert {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "legacy-gateway-postgres"}}
    } in destinations
    assert len(destinations) == 3  # DNS, the legacy range, the store


def test_a_config_file_name_a_configmap_cannot_hold_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "config"
    (source / "wsdl").mkdir(parents=True)
    (source / "backends.yaml").write_text("backends: {}\n")
    (source / "wsdl" / "customer master.wsdl").write_text("<definitions/>")
    refused = subprocess.run(
        [sys.executable, str(KUSTOMIZE / "config_component.py"), str(source), str(tmp_path / "c")],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "customer master.wsdl" in refused.stderr
    assert "letters, digits" in refused.stderr
