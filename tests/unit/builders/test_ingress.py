"""The dashboard Ingress and its drift (reference §2.5)."""

from __future__ import annotations

from typing import Any

from ray_operator.builders import ingress
from tests.unit.builders.helpers import cluster, deep, head, head_container


def enabled(annotations: dict[str, str] | None = None, **options: Any) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        head(raw)["enableIngress"] = True
        if options:
            head(raw)["ingressOptions"] = options
        if annotations is not None:
            raw["metadata"]["annotations"] = annotations

    return edit


def build(edit: Any) -> dict[str, Any]:
    result = ingress.build_head_ingress(cluster(edit))
    assert result is not None
    return result


def test_no_ingress_unless_enabled() -> None:
    assert ingress.build_head_ingress(cluster()) is None


def test_default_ingress() -> None:
    result = build(enabled())
    assert result["apiVersion"] == "networking.k8s.io/v1"
    assert result["metadata"]["name"] == "demo-head-ingress"
    assert result["metadata"]["labels"] == {
        "ray.io/cluster": "demo",
        "ray.io/identifier": "demo-head",
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/created-by": "kuberay-operator",
    }
    assert "annotations" not in result["metadata"]
    assert result["spec"] == {
        "rules": [
            {
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "demo-head-svc", "port": {"number": 8265}}},
                        }
                    ]
                }
            }
        ]
    }


def test_options_host_path_type_tls_and_dashboard_port() -> None:
    def edit(raw: dict[str, Any]) -> None:
        enabled(host="ray.example.com", path="/ray", pathType="Exact", tls=[{"hosts": ["ray.example.com"]}])(raw)
        head_container(raw)["ports"] = [{"name": "dashboard", "containerPort": 9265}]

    spec = build(edit)["spec"]
    rule = spec["rules"][0]
    assert rule["host"] == "ray.example.com"
    assert (rule["http"]["paths"][0]["path"], rule["http"]["paths"][0]["pathType"]) == ("/ray", "Exact")
    assert rule["http"]["paths"][0]["backend"]["service"]["port"] == {"number": 9265}
    assert spec["tls"] == [{"hosts": ["ray.example.com"]}]


def test_ingress_class_annotation_becomes_ingress_class_name() -> None:
    result = build(enabled({"kubernetes.io/ingress.class": "nginx"}))
    assert result["spec"]["ingressClassName"] == "nginx"
    assert "annotations" not in result["metadata"]


def test_only_ingress_related_annotations_are_copied() -> None:
    annotations = {
        "nginx.ingress.kubernetes.io/rewrite-target": "/",
        "alb.ingress.kubernetes.io/scheme": "internal",
        "kubernetes.io/ingress.global-static-ip-name": "ip",
        "kubernetes.io/tls-acme": "true",
        "cert-manager.io/cluster-issuer": "letsencrypt",
        "ray.io/overwrite-container-cmd": "true",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "example.com/owner": "team",
    }
    copied = build(enabled(annotations))["metadata"]["annotations"]
    assert set(copied) == {
        "nginx.ingress.kubernetes.io/rewrite-target",
        "alb.ingress.kubernetes.io/scheme",
        "kubernetes.io/ingress.global-static-ip-name",
        "kubernetes.io/tls-acme",
        "cert-manager.io/cluster-issuer",
    }


def served(desired: dict[str, Any]) -> dict[str, Any]:
    live = deep(desired)
    live["metadata"].update(uid="x", resourceVersion="3")
    live["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
    return live


def test_served_ingress_is_in_sync() -> None:
    desired = build(enabled({"nginx.ingress.kubernetes.io/x": "1"}, host="a.example"))
    assert ingress.ingress_merge_patch(live=served(desired), desired=desired) is None


def test_live_ingress_class_is_kept_when_none_is_wanted() -> None:
    desired = build(enabled())
    live = served(desired)
    live["spec"]["ingressClassName"] = "default-class"
    assert ingress.ingress_merge_patch(live=live, desired=desired) is None


def test_rule_and_class_drift() -> None:
    desired = build(enabled({"kubernetes.io/ingress.class": "nginx"}, path="/new"))
    live = served(build(enabled({"kubernetes.io/ingress.class": "traefik"})))
    patch = ingress.ingress_merge_patch(live=live, desired=desired)
    assert patch == {"spec": {"ingressClassName": "nginx", "rules": desired["spec"]["rules"]}}


def test_removed_ingress_annotations_are_deleted_but_foreign_ones_kept() -> None:
    desired = build(enabled({"nginx.ingress.kubernetes.io/a": "1"}))
    live = served(build(enabled({"nginx.ingress.kubernetes.io/a": "1", "nginx.ingress.kubernetes.io/b": "2"})))
    live["metadata"]["annotations"]["other.example/note"] = "someone else's"
    patch = ingress.ingress_merge_patch(live=live, desired=desired)
    assert patch == {"metadata": {"annotations": {"nginx.ingress.kubernetes.io/b": None}}}


def test_tls_is_removed_when_no_longer_wanted() -> None:
    desired = build(enabled())
    live = served(build(enabled(tls=[{"hosts": ["a"]}])))
    assert ingress.ingress_merge_patch(live=live, desired=desired) == {"spec": {"tls": None}}
