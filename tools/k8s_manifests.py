"""Generate deploy/k8s/base/services.yaml: each service's Deployment, Service, PDB, NetworkPolicy and autoscaler.

python -m tools.k8s_manifests           # write the file
python -m tools.k8s_manifests --check   # exit 1 if the committed file is stale

The six workloads differ only in name, port, queues and a few numbers, so they are written from one table here
rather than by hand six times; docs/deploy.md explains every object and every number.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "deploy" / "k8s" / "base" / "services.yaml"
PART_OF = "deliberation-hall"
IMAGE = "deliberation-hall:0.1.0"  # the project's version; overlays pin the registry and tag, never "latest"
UID = 10001  # the image's numeric user (deploy/Dockerfile): runAsNonRoot needs a number to check


@dataclass(frozen=True)
class Svc:
    """One workload and the numbers chosen for it (docs/deploy.md, "Numbers and where they come from")."""

    name: str
    port: int
    queues: tuple[str, ...] = ()  # its consumer queues (services/<name>/app.py subscriptions)
    database: bool = True
    cpu_request: str = "250m"
    memory_request: str = "256Mi"
    memory_limit: str = "512Mi"
    max_replicas: int = 4
    queue_target: int = 200  # ready messages per replica before KEDA adds one
    cpu_target: int | None = None  # a CPU trigger too (intake: the HTTP front door)
    notices: bool = False  # sends notices (WeCom, SMTP, SMS) out of the cluster


SERVICES = (
    Svc("intake", 8001, ("intake.channels", "intake.status"), max_replicas=6, queue_target=300, cpu_target=70),
    Svc("triage", 8002, ("triage.reports", "triage.matters"), memory_request="640Mi", memory_limit="1Gi",
        max_replicas=6, queue_target=200),
    Svc("meeting", 8003, ("meeting.matters",), max_replicas=3, queue_target=500, notices=True),
    Svc("ledger", 8004, ("ledger.events", "ledger.workcal"), max_replicas=6, queue_target=200, notices=True),
    Svc("feedback", 8005, ("feedback.events", "feedback.workcal"), max_replicas=3, queue_target=500, notices=True),
    Svc("console", 8000, database=False, cpu_target=70, max_replicas=4),
)  # fmt: skip
BACKENDS = [s for s in SERVICES if s.name != "console"]


def labels(svc: Svc) -> dict:
    """The selector labels of a workload."""
    return {"app.kubernetes.io/name": svc.name, "app.kubernetes.io/part-of": PART_OF}


# Checkov findings accepted on purpose (docs/deploy.md, "Validation"); checkov reads these annotations.
ACCEPTED = {
    "checkov.io/skip1": "CKV_K8S_43=overlays may pin a digest (images[].digest); the base pins a version tag",
    "checkov.io/skip2": "CKV_K8S_15=version tags are immutable, so IfNotPresent pulls the same image",
    "checkov.io/skip3": "CKV_K8S_35=the services read their keys from the environment (README configuration)",
}


def meta(name: str, svc: Svc, **extra) -> dict:
    """Object metadata with the workload's labels."""
    return {"name": name, "labels": {**labels(svc), "app.kubernetes.io/component": "service"}, **extra}


def secret_env(name: str, secret: str, key: str, optional: bool = False) -> dict:
    """An environment variable read from a Secret."""
    ref = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def env(svc: Svc) -> list[dict]:
    """The container's environment: the README's configuration table, values from Secrets where secret."""
    up = svc.name.upper()
    items = [
        {"name": "HALL_ENV", "value": "production"},
        {"name": "HALL_HOST", "value": "0.0.0.0"},
        {"name": "HALL_VAR_DIR", "value": "/app/var"},
        {"name": "HALL_DIRECTORY", "value": "/etc/hall/county.yaml"},
        {"name": "HALL_REDIS_URL", "value": "redis://redis:6379/0"},
        {"name": "HALL_JWT_PRIVATE_KEY_FILE", "value": "/run/hall-keys/jwt_private.pem"},
        {"name": "HALL_PUBLIC_URL", "valueFrom": {"configMapKeyRef": {"name": "hall-settings", "key": "public-url"}}},
        # The console and the ingress controller forward the client's address: trust the cluster's pod network.
        {
            "name": "HALL_TRUSTED_PROXIES",
            "valueFrom": {"configMapKeyRef": {"name": "hall-settings", "key": "trusted-proxies"}},
        },
        secret_env("HALL_PII_KEY", "hall-keys", "pii-key"),
        secret_env("HALL_PSEUDONYM_KEY", "hall-keys", "pseudonym-key"),
        secret_env("HALL_LINK_KEY", "hall-keys", "link-key"),
        secret_env("HALL_SIGNING_SECRET", "hall-keys", "signing-secret"),
        # The service's own broker user (deploy/rabbitmq/definitions.json); KEDA reads the same key (keda.yaml).
        secret_env(f"{up}_AMQP_URL", "hall-broker", f"{svc.name}-url"),
        {"name": "HALL_AMQP_URL", "value": f"$({up}_AMQP_URL)"},  # $(VAR): the same URL, for code reading this name
        # The broker's nodes, each tried in turn (services/runtime/amqp.py), and the replicas of every quorum queue;
        # per overlay (ConfigMap hall-settings): the demo's single node, production's three. docs/deploy.md.
        {
            "name": "HALL_AMQP_NODES",
            "valueFrom": {"configMapKeyRef": {"name": "hall-settings", "key": "amqp-nodes", "optional": True}},
        },
        {
            "name": "HALL_QUORUM_GROUP_SIZE",
            "valueFrom": {"configMapKeyRef": {"name": "hall-settings", "key": "quorum-group-size", "optional": True}},
        },
        {"name": "HALL_DELIVERY_LIMIT", "value": "10"},  # x-delivery-limit of every queue (the settings' default)
        {"name": f"{up}_PORT", "value": str(svc.port)},
    ]
    if svc.database:
        # CloudNativePG makes <cluster>-app with the service's own role and a generated alphanumeric password.
        items += [
            secret_env("DB_USER", f"{svc.name}-db-app", "username"),
            secret_env("DB_PASSWORD", f"{svc.name}-db-app", "password"),
            {
                "name": f"{up}_DATABASE_URL",
                "value": f"postgresql+asyncpg://$(DB_USER):$(DB_PASSWORD)@{svc.name}-db-rw:5432/{svc.name}",
            },
        ]
    if svc.name == "console":
        items += [{"name": f"{b.name.upper()}_URL", "value": f"http://{b.name}:{b.port}"} for b in BACKENDS]
        items += [
            secret_env("CONSOLE_INTAKE_API_KEY", "hall-console", "intake-api-key", optional=True),
            {
                "name": "CONSOLE_IDP_LOGIN_URL",
                "valueFrom": {"configMapKeyRef": {"name": "hall-settings", "key": "idp-login-url", "optional": True}},
            },
        ]
    return items


def container_security() -> dict:
    """Nothing a compromised process could use to climb: no root, no new privileges, no writes outside volumes."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def probe(path: str, port: int, **timing) -> dict:
    """An HTTP probe on the service's port."""
    return {"httpGet": {"path": path, "port": "http"}, "timeoutSeconds": 3, **timing}


def resources(svc: Svc, cpu_limit: str = "1") -> dict:
    """Requests for scheduling and the CPU trigger; limits cap one replica at about one core (the bench's unit)."""
    return {
        "requests": {"cpu": svc.cpu_request, "memory": svc.memory_request},
        "limits": {"cpu": cpu_limit, "memory": svc.memory_limit},
    }


def init_containers(svc: Svc) -> list[dict]:
    """Migrations before the process starts (pg advisory lock: replicas migrate one at a time); triage's model."""
    out = []
    common = {
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "securityContext": container_security(),
        "resources": resources(svc),
    }
    if svc.database:
        out.append(
            {
                "name": "migrate",
                "command": ["python", "-m", f"services.{svc.name}", "migrate"],
                "env": env(svc),
                "volumeMounts": [{"name": "var", "mountPath": "/app/var"}, {"name": "tmp", "mountPath": "/tmp"}],
                **common,
            }
        )
    if svc.name == "triage":
        # The image carries the model trained at build time in /app/var; copy it into the pod's var volume.
        out.append(
            {
                "name": "model",
                "command": ["cp", "/app/var/triage-model.pkl", "/var-volume/triage-model.pkl"],
                "volumeMounts": [{"name": "var", "mountPath": "/var-volume"}],
                **common,
            }
        )
    return out


def deployment(svc: Svc) -> dict:
    """The workload: probes, resources, spread over nodes and zones, read-only, non-root."""
    mounts = [
        {"name": "var", "mountPath": "/app/var"},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "jwt", "mountPath": "/run/hall-keys", "readOnly": True},
        {"name": "county", "mountPath": "/etc/hall", "readOnly": True},
    ]
    volumes = [
        {"name": "var", "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        {"name": "jwt", "secret": {"secretName": "hall-jwt", "defaultMode": 0o440}},
        {"name": "county", "configMap": {"name": "hall-county"}},
    ]
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": labels(svc)},
        }
        for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
    ]
    pod = {
        "serviceAccountName": svc.name,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 45,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "topologySpreadConstraints": spread,
        "initContainers": init_containers(svc),
        "containers": [
            {
                "name": svc.name,
                "image": IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "command": ["python", "-m", f"services.{svc.name}"],
                "ports": [{"name": "http", "containerPort": svc.port, "protocol": "TCP"}],
                "env": env(svc),
                "resources": resources(svc),
                "securityContext": container_security(),
                # Start-up parses the county directory and runs migrations before the port opens.
                "startupProbe": probe("/healthz", svc.port, periodSeconds=5, failureThreshold=60),
                "livenessProbe": probe("/healthz", svc.port, periodSeconds=10, failureThreshold=3),
                "readinessProbe": probe("/readyz", svc.port, periodSeconds=5, failureThreshold=2),
                # Let the endpoints drop this pod before it stops taking requests.
                "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
                "volumeMounts": mounts,
            }
        ],
        "volumes": volumes,
    }
    annotations = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(svc.port),
        "prometheus.io/path": "/metrics",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(svc.name, svc, annotations=ACCEPTED),
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": labels(svc)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": {**labels(svc), "app.kubernetes.io/component": "service"},
                    "annotations": annotations,
                },
                "spec": pod,
            },
        },
    }


def service(svc: Svc) -> dict:
    """The in-cluster address the console (and Prometheus) use: http://<name>:<port>."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(svc.name, svc),
        "spec": {
            "selector": labels(svc),
            "ports": [{"name": "http", "port": svc.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def service_account(svc: Svc) -> dict:
    """Its own identity, with no API token mounted: the services never talk to the Kubernetes API."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(svc.name, svc),
        "automountServiceAccountToken": False,
    }


def pdb(svc: Svc) -> dict:
    """A drain or upgrade of nodes takes at most one replica at a time."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(svc.name, svc),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(svc)}},
    }


def port_rule(port: int) -> list[dict]:
    return [{"protocol": "TCP", "port": port}]


def network_policy(svc: Svc) -> dict:
    """Who may call the service, and the only places it may reach: broker, its own database, Redis, DNS."""
    rabbit = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "hall-rabbitmq"}}}
    redis = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}}}
    dns = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    egress = [
        dns,
        {"to": [rabbit], "ports": port_rule(5672)},
        {"to": [redis], "ports": port_rule(6379)},
    ]
    if svc.database:
        own_db = {"podSelector": {"matchLabels": {"cnpg.io/cluster": f"{svc.name}-db"}}}
        egress.append({"to": [own_db], "ports": port_rule(5432)})
    if svc.name == "console":
        egress.append(
            {
                "to": [{"podSelector": {"matchLabels": labels(b)}} for b in BACKENDS],
                "ports": [{"protocol": "TCP", "port": b.port} for b in BACKENDS],
            }
        )
    if svc.notices:
        # WeCom bots and SMS gateways (HTTPS) and mail relays are outside the cluster; never the cluster's ranges.
        egress.append(
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
                "ports": [{"protocol": "TCP", "port": p} for p in (443, 25, 465, 587)],
            }
        )
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    if svc.name == "console":
        # The Ingress controller's namespace (overlays name it) and Prometheus.
        callers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}, monitoring]
    else:
        callers = [{"podSelector": {"matchLabels": labels(SERVICES[-1])}}, monitoring]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(svc.name, svc),
        "spec": {
            "podSelector": {"matchLabels": labels(svc)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": callers, "ports": port_rule(svc.port)}],
            "egress": egress,
        },
    }


def autoscaler(svc: Svc) -> dict:
    """KEDA on queue length (plus CPU for intake), or a plain HPA on CPU for the console (it has no queue)."""
    behavior = {
        # Scale up at once, scale down slowly: a burst of reports often comes in waves (a storm, a power cut).
        "scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 2, "periodSeconds": 30}]},
        "scaleDown": {
            "stabilizationWindowSeconds": 300,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        },
    }
    if not svc.queues:
        return {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta(svc.name, svc),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": svc.name},
                "minReplicas": 2,
                "maxReplicas": svc.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": svc.cpu_target},
                        },
                    }
                ],
                "behavior": behavior,
            },
        }
    triggers = [
        {
            "type": "rabbitmq",
            "name": queue.replace(".", "-"),
            "metadata": {
                # AMQP with the service's own user (a passive declare of its own queue): counts ready messages
                # only, so the prefetch each replica holds does not look like a backlog.
                "protocol": "amqp",
                "queueName": queue,
                "vhostName": "/",  # explicit: a URL ending in "/" means the empty vhost to some AMQP clients
                "mode": "QueueLength",
                "value": str(svc.queue_target),
            },
            "authenticationRef": {"name": f"hall-broker-{svc.name}"},
        }
        for queue in svc.queues
    ]
    if svc.cpu_target:
        # One autoscaler per Deployment: a separate HPA would fight KEDA's; KEDA folds this into its HPA.
        triggers.append({"type": "cpu", "metricType": "Utilization", "metadata": {"value": str(svc.cpu_target)}})
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": meta(svc.name, svc),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": svc.name},
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "minReplicaCount": 2,
            "maxReplicaCount": svc.max_replicas,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior}},
            "triggers": triggers,
        },
    }


def documents() -> list[dict]:
    """Every generated object, service by service."""
    out = []
    for svc in SERVICES:
        out += [service_account(svc), deployment(svc), service(svc), pdb(svc), network_policy(svc), autoscaler(svc)]
    return out


def render() -> str:
    """The YAML text of deploy/k8s/base/services.yaml."""
    head = "# Generated by `python -m tools.k8s_manifests` from its SERVICES table: edit that, not this file.\n"
    return head + yaml.safe_dump_all(documents(), sort_keys=False, allow_unicode=True, width=120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.k8s_manifests")
    p.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    args = p.parse_args(argv)
    text = render()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT.relative_to(ROOT)} is stale: run python -m tools.k8s_manifests", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(documents())} objects)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
