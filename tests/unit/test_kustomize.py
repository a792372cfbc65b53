"""The install manifests: every kustomization builds, and what it builds fits the operator's settings.

Built with the real kubectl (kustomize inside) from the test dependencies, never the one on PATH.
The checks tie the manifests to the code they deploy: webhook names, paths, Service and ports are
compared with ``Settings`` defaults and API constants, and the manager's args are parsed by the
real ``ray-operator run`` parser, so renaming a flag or a default breaks this test, not a cluster.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from ray_operator.api import constants
from ray_operator.api.crd import build_crd
from ray_operator.cli import build_parser
from ray_operator.settings import Settings, settings_from

CONFIG = Path(__file__).resolve().parents[2] / "config"
KUBECTL = Path(sys.executable).parent / "kubectl"
KUSTOMIZATIONS = sorted(path.parent for path in CONFIG.glob("**/kustomization.yaml"))
NAMESPACE = "ray-system"
CLUSTER_SCOPED = {
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}
SETTINGS = Settings()
MANAGER_ROLE = "ray-operator-manager-role"


def kustomize(directory: Path, cache_dir: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(directory), "--cache-dir", str(cache_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], list[dict[str, Any]]]:
    """kubectl kustomize each directory once per module (each run costs seconds on a shared machine)."""
    cache_dir = tmp_path_factory.mktemp("kubectl-cache")
    built: dict[Path, list[dict[str, Any]]] = {}

    def run(directory: Path) -> list[dict[str, Any]]:
        if directory not in built:
            built[directory] = kustomize(directory, cache_dir)
        return built[directory]

    return run


@pytest.fixture(scope="module")
def default(build: Callable[[Path], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return build(CONFIG / "default")


@pytest.fixture(scope="module")
def certmanager(build: Callable[[Path], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return build(CONFIG / "default-certmanager")


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def manager_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = one(docs, "Deployment")
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    (container,) = [c for c in containers if c["name"] == "manager"]
    return container


def parsed_settings(container: dict[str, Any]) -> Settings:
    """What ``ray-operator run`` would run with: $(VAR) expanded like the kubelet, then the real parser."""
    env = {e["name"]: e.get("value", f"<{e['name']}>") for e in container.get("env", [])}
    assert container["command"] == ["ray-operator", "run"]
    args = [re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env[m.group(1)], arg) for arg in container["args"]]
    parsed = build_parser().parse_args(["run", *args])
    literal_env = {name: value for name, value in env.items() if name.startswith("RAY_OPERATOR_")}
    return settings_from(parsed, environ=literal_env)


def allows(rules: list[dict[str, Any]], group: str, resource: str, verb: str, name: str | None = None) -> bool:
    for rule in rules:
        if group not in rule.get("apiGroups", []) or resource not in rule.get("resources", []):
            continue
        if verb not in rule.get("verbs", []) and "*" not in rule.get("verbs", []):
            continue
        names = rule.get("resourceNames")
        if names is None or (name is not None and name in names):
            return True
    return False


# --- every kustomization ---------------------------------------------------------------------------


def test_kubectl_comes_from_the_test_dependencies() -> None:
    assert KUBECTL.exists(), "pip install -e '.[test]' provides kubectl next to the interpreter"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(CONFIG)))
def test_kustomization_builds(directory: Path, build: Callable[[Path], list[dict[str, Any]]]) -> None:
    assert build(directory)


def test_the_expected_kustomizations_exist() -> None:
    names = {str(path.relative_to(CONFIG)) for path in KUSTOMIZATIONS}
    assert {"crd", "rbac", "manager", "webhook", "certmanager", "prometheus", "default"} <= names
    assert "default-certmanager" in names


@pytest.mark.parametrize("variant", ["default", "certmanager"])
def test_every_namespaced_object_is_in_ray_system(
    variant: str, default: list[dict[str, Any]], certmanager: list[dict[str, Any]]
) -> None:
    docs = default if variant == "default" else certmanager
    for doc in docs:
        namespace = doc["metadata"].get("namespace")
        if doc["kind"] in CLUSTER_SCOPED:
            assert namespace is None, f"{doc['kind']} {doc['metadata']['name']} is cluster-scoped"
        else:
            assert namespace == NAMESPACE, f"{doc['kind']} {doc['metadata']['name']}"
    assert one(docs, "Namespace")["metadata"]["name"] == NAMESPACE


@pytest.mark.parametrize("variant", ["default", "certmanager"])
def test_every_object_has_the_name_prefix(
    variant: str, default: list[dict[str, Any]], certmanager: list[dict[str, Any]]
) -> None:
    """Two operators (or a KubeRay install) in one cluster must not collide on cluster-scoped names."""
    docs = default if variant == "default" else certmanager
    fixed = {("Namespace", NAMESPACE), ("CustomResourceDefinition", f"{constants.PLURAL}.{constants.GROUP}")}
    for doc in docs:
        name = doc["metadata"]["name"]
        if (doc["kind"], name) not in fixed:
            assert name.startswith("ray-operator-"), f"{doc['kind']} {name}"


@pytest.mark.parametrize("variant", ["default", "certmanager"])
def test_every_built_in_object_is_valid_kubernetes(
    variant: str, default: list[dict[str, Any]], certmanager: list[dict[str, Any]]
) -> None:
    # Strict: an unknown or misspelt field anywhere fails (kubectl apply would reject or drop it).
    docs = default if variant == "default" else certmanager
    checked = 0
    for doc in docs:
        if doc["apiVersion"].startswith(("cert-manager.io/", "monitoring.coreos.com/")):
            continue
        kubernetes_validate.validate(doc, "1.32.0", strict=True)
        checked += 1
    assert checked >= 10


# --- config/default --------------------------------------------------------------------------------


def test_default_installs_the_generated_crd(default: list[dict[str, Any]]) -> None:
    crd = one(default, "CustomResourceDefinition")
    assert crd["metadata"]["name"] == constants.CRD_NAME
    assert crd["spec"] == build_crd()["spec"]


def test_default_webhook_configurations(default: list[dict[str, Any]]) -> None:
    expected = {
        "ValidatingWebhookConfiguration": (
            SETTINGS.validating_webhook_name,
            "vraycluster.kb.io",
            constants.VALIDATING_WEBHOOK_PATH,
        ),
        "MutatingWebhookConfiguration": (
            SETTINGS.mutating_webhook_name,
            "mraycluster.kb.io",
            constants.MUTATING_WEBHOOK_PATH,
        ),
    }
    for kind, (config_name, webhook_name, path) in expected.items():
        config = one(default, kind, config_name)
        (webhook,) = config["webhooks"]
        assert webhook["name"] == webhook_name
        assert webhook["clientConfig"]["service"] == {
            "name": SETTINGS.webhook_service_name,
            "namespace": NAMESPACE,
            "path": path,
            "port": 443,
        }
        assert webhook["clientConfig"].get("caBundle", "") == "", "the operator fills caBundle"
        assert webhook["failurePolicy"] == "Fail"
        assert webhook["sideEffects"] == "None"
        assert webhook["admissionReviewVersions"] == ["v1"]
        assert webhook["timeoutSeconds"] == 5
        assert webhook["rules"] == [
            {
                "apiGroups": ["ray.io"],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["rayclusters"],
                "scope": "Namespaced",
            }
        ]
        assert "cert-manager.io/inject-ca-from" not in config["metadata"].get("annotations", {})


def test_webhook_service_reaches_the_manager_pods_and_only_them(default: list[dict[str, Any]]) -> None:
    service = one(default, "Service", SETTINGS.webhook_service_name)
    (port,) = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (443, SETTINGS.webhook_port)
    pod_labels = one(default, "Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = service["spec"]["selector"]
    assert selector.items() <= pod_labels.items()
    ray_pod_labels = {constants.KUBERNETES_APP_NAME_LABEL: constants.APPLICATION_NAME}
    assert not selector.items() <= ray_pod_labels.items(), "must not select Ray pods"
    container_ports = {p["name"]: p["containerPort"] for p in manager_container(default)["ports"]}
    assert container_ports["webhook-server"] == SETTINGS.webhook_port


def test_default_manager_deployment(default: list[dict[str, Any]]) -> None:
    deployment = one(default, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = manager_container(default)
    assert container["image"] == "ray-operator:latest"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"] and container["resources"]["limits"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {
        "webhook-server": SETTINGS.webhook_port,
        "metrics": SETTINGS.metrics_port,
        "health": SETTINGS.probe_port,
    }
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path
        assert ports.get(get["port"], get["port"]) == SETTINGS.probe_port
    namespace_env = next(e for e in container["env"] if e["name"] == "POD_NAMESPACE")
    assert namespace_env["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"


def test_default_manager_uses_built_in_certificates(default: list[dict[str, Any]]) -> None:
    settings = parsed_settings(manager_container(default))
    assert settings.cert_source == "self-signed"
    assert settings.mode == "all", "one process serves the webhooks and reconciles"
    assert settings.namespace == "<POD_NAMESPACE>", "--namespace comes from the downward API"
    assert settings.webhook_service_name == SETTINGS.webhook_service_name
    assert settings.log_format == "json"


def test_service_account_is_bound_to_every_role(default: list[dict[str, Any]]) -> None:
    account = one(default, "ServiceAccount")["metadata"]["name"]
    auth = one(default, "ClusterRoleBinding", "ray-operator-metrics-auth-rolebinding")
    assert auth["roleRef"]["name"] == "ray-operator-metrics-auth-role"
    assert auth["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]
    assert one(default, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == account
    subject = {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
    cluster_binding = one(default, "ClusterRoleBinding", "ray-operator-manager-rolebinding")
    assert subject in cluster_binding["subjects"]
    assert cluster_binding["roleRef"]["name"] == one(default, "ClusterRole", MANAGER_ROLE)["metadata"]["name"]
    roles = {doc["metadata"]["name"] for doc in default if doc["kind"] == "Role"}
    bindings = [doc for doc in default if doc["kind"] == "RoleBinding"]
    assert {b["roleRef"]["name"] for b in bindings} == roles
    assert roles == {"ray-operator-leader-election-role", "ray-operator-cert-role"}
    for binding in bindings:
        assert subject in binding["subjects"] and binding["roleRef"]["kind"] == "Role"
        assert binding["metadata"]["namespace"] == NAMESPACE


# What the operator's calls need cluster-wide: tests/integration/test_least_privilege.py proves it on the
# recorded calls of the integration scenarios; this list keeps the most important grants visible.
REQUIRED_CLUSTER_PERMISSIONS = [
    ("ray.io", "rayclusters", ["get", "list", "watch", "patch"]),
    ("ray.io", "rayclusters/status", ["update"]),
    ("ray.io", "rayclusters/finalizers", ["update"]),
    ("", "pods", ["get", "list", "watch", "create", "delete", "patch"]),
    ("", "pods/resize", ["patch"]),
    ("", "services", ["get", "list", "watch", "create", "delete", "patch"]),
    ("events.k8s.io", "events", ["create", "patch"]),
    ("", "serviceaccounts", ["get", "list", "watch", "create"]),
    ("rbac.authorization.k8s.io", "roles", ["get", "list", "watch", "create", "patch"]),
    ("rbac.authorization.k8s.io", "rolebindings", ["get", "list", "watch", "create", "patch"]),
    ("networking.k8s.io", "ingresses", ["get", "list", "watch", "create", "delete", "patch"]),
    ("", "secrets", ["get", "list", "watch", "create"]),
    ("batch", "jobs", ["list", "watch", "create"]),
]


@pytest.mark.parametrize(("group", "resource", "verbs"), REQUIRED_CLUSTER_PERMISSIONS)
def test_cluster_role_grants(default: list[dict[str, Any]], group: str, resource: str, verbs: list[str]) -> None:
    rules = one(default, "ClusterRole", MANAGER_ROLE)["rules"]
    for verb in verbs:
        assert allows(rules, group, resource, verb), f"{verb} {resource}.{group}"


def test_cabundle_injection_is_allowed_on_exactly_our_webhook_configurations(default: list[dict[str, Any]]) -> None:
    rules = one(default, "ClusterRole", MANAGER_ROLE)["rules"]
    for kind, resource in (
        ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations"),
        ("MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
    ):
        name = one(default, kind)["metadata"]["name"]
        for verb in ("get", "patch"):
            assert allows(rules, "admissionregistration.k8s.io", resource, verb, name), (verb, name)
            assert not allows(rules, "admissionregistration.k8s.io", resource, verb, "someone-elses-webhook")


def test_leader_election_lease_role(default: list[dict[str, Any]]) -> None:
    role = one(default, "Role", "ray-operator-leader-election-role")
    assert role["metadata"]["namespace"] == NAMESPACE
    for verb in ("get", "create", "update"):
        assert allows(role["rules"], "coordination.k8s.io", "leases", verb)
    assert not allows(one(default, "ClusterRole", MANAGER_ROLE)["rules"], "coordination.k8s.io", "leases", "update")


def test_only_the_webhook_certificate_secret_is_updated_and_only_in_the_operators_namespace(
    default: list[dict[str, Any]],
) -> None:
    assert not allows(one(default, "ClusterRole", MANAGER_ROLE)["rules"], "", "secrets", "update")
    role = one(default, "Role", "ray-operator-cert-role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert allows(role["rules"], "", "secrets", "update", SETTINGS.cert_secret_name)
    assert not allows(role["rules"], "", "secrets", "update", "someone-elses-secret")


def test_cert_manager_is_not_required_by_default(default: list[dict[str, Any]]) -> None:
    assert not [doc for doc in default if doc["apiVersion"].startswith("cert-manager.io/")]
    assert not [doc for doc in default if doc["kind"] == "ServiceMonitor"]


# --- config/default-certmanager --------------------------------------------------------------------


def test_certmanager_variant_injects_the_ca_from_its_certificate(certmanager: list[dict[str, Any]]) -> None:
    certificate = one(certmanager, "Certificate")
    reference = f"{certificate['metadata']['namespace']}/{certificate['metadata']['name']}"
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        annotations = one(certmanager, kind)["metadata"]["annotations"]
        assert annotations["cert-manager.io/inject-ca-from"] == reference
    issuer = one(certmanager, "Issuer")
    assert certificate["spec"]["issuerRef"]["name"] == issuer["metadata"]["name"]
    service = one(certmanager, "Service", SETTINGS.webhook_service_name)
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    assert certificate["spec"]["dnsNames"] == [host, f"{host}.cluster.local"]


def test_certmanager_variant_mounts_the_certificate_secret(certmanager: list[dict[str, Any]]) -> None:
    secret_name = one(certmanager, "Certificate")["spec"]["secretName"]
    pod = one(certmanager, "Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == secret_name]
    container = manager_container(certmanager)
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    settings = parsed_settings(container)
    assert settings.cert_source == "files"
    assert mount["mountPath"] == settings.cert_dir == SETTINGS.cert_dir
    assert mount.get("readOnly") is True


def test_certmanager_variant_keeps_everything_else(
    default: list[dict[str, Any]], certmanager: list[dict[str, Any]]
) -> None:
    def identities(docs: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(d["kind"], d["metadata"]["name"]) for d in docs}

    extra = identities(certmanager) - identities(default)
    assert {kind for kind, _ in extra} == {"Certificate", "Issuer"}
    assert identities(default) <= identities(certmanager)


# --- config/prometheus -----------------------------------------------------------------------------


def test_service_monitor_scrapes_the_metrics_service(
    default: list[dict[str, Any]], build: Callable[[Path], list[dict[str, Any]]]
) -> None:
    (monitor,) = [d for d in build(CONFIG / "prometheus") if d["kind"] == "ServiceMonitor"]
    assert monitor["metadata"]["namespace"] == NAMESPACE
    services = [
        s
        for s in default
        if s["kind"] == "Service"
        and monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"].get("labels", {}).items()
    ]
    assert len(services) == 1
    (endpoint,) = monitor["spec"]["endpoints"]
    ports = {p["name"]: p for p in services[0]["spec"]["ports"]}
    assert ports[endpoint["port"]]["targetPort"] == SETTINGS.metrics_port
    assert endpoint["path"] == "/metrics"
    # Secure metrics (the default): HTTPS with Prometheus' token, which the binding lets get /metrics.
    assert SETTINGS.metrics_secure and endpoint["scheme"] == "https" and endpoint["bearerTokenFile"]
    (binding,) = [d for d in build(CONFIG / "prometheus") if d["kind"] == "ClusterRoleBinding"]
    reader = one(default, "ClusterRole", binding["roleRef"]["name"])
    assert reader["rules"] == [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
