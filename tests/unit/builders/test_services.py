"""Head, headless and serve Services, and Service drift (reference §2.4, §2.5)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ray_operator.builders import services
from tests.unit.builders.helpers import CONFIG, cluster, deep, head, head_container, worker

SELECTOR = {
    "ray.io/cluster": "demo",
    "ray.io/node-type": "head",
    "ray.io/identifier": "demo-head",
    "app.kubernetes.io/name": "kuberay",
    "app.kubernetes.io/created-by": "kuberay-operator",
}


def head_service(edit: Any = None, config: Any = CONFIG) -> dict[str, Any]:
    return services.build_head_service(cluster=cluster(edit), config=config)


def ports(service: dict[str, Any]) -> list[tuple[str, int]]:
    return [(p["name"], p["port"]) for p in service["spec"]["ports"]]


def container_ports(*entries: dict[str, Any]) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        head_container(raw)["ports"] = list(entries)

    return edit


def test_default_head_service_is_headless_with_default_ports() -> None:
    service = head_service()
    assert service["metadata"]["name"] == "demo-head-svc"
    assert service["metadata"]["namespace"] == "ray"
    assert service["metadata"]["labels"] == SELECTOR
    assert service["spec"]["selector"] == SELECTOR
    assert (service["spec"]["type"], service["spec"]["clusterIP"], service["spec"]["publishNotReadyAddresses"]) == (
        "ClusterIP",
        "None",
        True,
    )
    # No container ports: the five defaults, sorted by name, each with appProtocol tcp.
    assert ports(service) == [
        ("client", 10001),
        ("dashboard", 8265),
        ("gcs-server", 6379),
        ("metrics", 8080),
        ("serve", 8000),
    ]
    assert {p["appProtocol"] for p in service["spec"]["ports"]} == {"tcp"}
    assert service["metadata"]["ownerReferences"][0]["kind"] == "RayCluster"


def test_ports_come_from_the_head_container_with_metrics_added() -> None:
    service = head_service(container_ports({"name": "gcs", "containerPort": 6379}, {"containerPort": 9000}))
    assert ports(service) == [("9000-port", 9000), ("gcs", 6379), ("metrics", 8080)]


def test_cluster_ip_switch_and_other_types_are_not_headless() -> None:
    spec = head_service(config=replace(CONFIG, enable_head_cluster_ip_service=True))["spec"]
    assert "clusterIP" not in spec and "publishNotReadyAddresses" not in spec
    spec = head_service(lambda raw: head(raw).update(serviceType="NodePort"))["spec"]
    assert spec["type"] == "NodePort" and "clusterIP" not in spec


def test_head_service_annotations() -> None:
    service = head_service(lambda raw: raw["spec"].update(headServiceAnnotations={"a": "1"}))
    assert service["metadata"]["annotations"] == {"a": "1"}
    assert "annotations" not in head_service()["metadata"]


def test_selector_follows_the_head_pods_overridden_labels() -> None:
    def edit(raw: dict[str, Any]) -> None:
        head(raw)["template"]["metadata"] = {"labels": {"app.kubernetes.io/name": "mine", "ray.io/identifier": "x"}}

    selector = head_service(edit)["spec"]["selector"]
    assert (selector["app.kubernetes.io/name"], selector["ray.io/identifier"]) == ("mine", "x")
    assert services.head_service_match_labels(cluster(edit)) == {
        "ray.io/cluster": "demo",
        "ray.io/node-type": "head",
        "ray.io/identifier": "x",
    }


def custom(service: dict[str, Any], **spec: Any) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        head(raw)["headService"] = service
        raw["spec"].update(spec)

    return edit


def test_custom_head_service_merge_rules() -> None:
    user = {
        "metadata": {
            "name": "my-head",
            "namespace": "other",
            "labels": {"team": "a", "ray.io/cluster": "wrong"},
            "annotations": {"x": "user", "y": "user"},
            "uid": "stale",
        },
        "spec": {"type": "LoadBalancer", "selector": {"app": "x"}, "ports": [{"name": "extra", "port": 12345}]},
        "status": {"loadBalancer": {}},
    }
    service = head_service(custom(user, headServiceAnnotations={"y": "cluster"}))
    meta = service["metadata"]
    assert (meta["name"], meta["namespace"], "uid" in meta) == ("my-head", "ray", False)
    assert meta["labels"] == {"team": "a", **SELECTOR}
    assert meta["annotations"] == {"x": "user", "y": "cluster"}
    assert service["spec"]["selector"] == SELECTOR
    assert service["spec"]["type"] == "LoadBalancer"
    assert "clusterIP" not in service["spec"] and "status" not in service
    assert ports(service)[0] == ("extra", 12345)
    assert ("dashboard", 8265) in ports(service) and len(ports(service)) == 6


def test_custom_head_service_defaults_name_and_type_and_skips_clashing_ports() -> None:
    user = {"spec": {"ports": [{"name": "dashboard", "port": 18265}, {"name": "mine", "port": 8080}]}}
    service = head_service(custom(user))
    assert service["metadata"]["name"] == "demo-head-svc"
    assert service["spec"]["type"] == "ClusterIP"
    # Ray's dashboard (name taken) and metrics (8080 taken) are not appended a second time.
    assert ports(service) == [
        ("dashboard", 18265),
        ("mine", 8080),
        ("client", 10001),
        ("gcs-server", 6379),
        ("serve", 8000),
    ]

    typed = head_service(lambda raw: (custom({"spec": {}})(raw), head(raw).update(serviceType="NodePort")))
    assert typed["spec"]["type"] == "NodePort"


def test_headless_worker_service_only_for_multi_host_groups() -> None:
    assert services.build_headless_worker_service(cluster()) is None
    service = services.build_headless_worker_service(cluster(lambda raw: worker(raw).update(numOfHosts=2)))
    assert service is not None
    assert service["metadata"]["name"] == "demo-headless"
    assert service["metadata"]["labels"] == {"ray.io/headless-worker-svc": "demo"}
    assert service["spec"] == {
        "type": "ClusterIP",
        "clusterIP": "None",
        "selector": {"ray.io/cluster": "demo", "ray.io/node-type": "worker"},
        "publishNotReadyAddresses": True,
    }


def serve_enabled(raw: dict[str, Any]) -> None:
    raw["metadata"]["annotations"] = {"ray.io/enable-serve-service": "true"}


def test_serve_service_needs_the_annotation() -> None:
    assert services.build_serve_service(cluster()) is None


def test_serve_service_exposes_serve_ports() -> None:
    def edit(raw: dict[str, Any]) -> None:
        serve_enabled(raw)
        container_ports(
            {"name": "serve", "containerPort": 8000},
            {"name": "serve-grpc", "containerPort": 9000},
            {"name": "server", "containerPort": 1},
        )(raw)

    service = services.build_serve_service(cluster(edit))
    assert service is not None
    assert service["metadata"]["name"] == "demo-serve-svc"
    assert service["metadata"]["labels"] == {
        "ray.io/originated-from-cr-name": "demo",
        "ray.io/originated-from-crd": "RayCluster",
        "ray.io/serve": "demo-serve",
    }
    assert service["spec"] == {
        "type": "ClusterIP",
        "selector": {"ray.io/cluster": "demo"},
        "ports": [{"name": "serve", "port": 8000}, {"name": "serve-grpc", "port": 9000}],
    }


def test_serve_service_without_a_serve_port_is_an_error() -> None:
    def edit(raw: dict[str, Any]) -> None:
        serve_enabled(raw)
        container_ports({"name": "dashboard", "containerPort": 8265})(raw)

    with pytest.raises(ValueError, match="no port named 'serve'"):
        services.build_serve_service(cluster(edit))


# --- drift ---------------------------------------------------------------------------------------------


def as_served(desired: dict[str, Any], *, node_ports: bool = False) -> dict[str, Any]:
    """What the API server would return for ``desired``: its defaults and allocations filled in."""
    live = deep(desired)
    live["metadata"].update(uid="svc-uid", resourceVersion="7", annotations={"cloud.example/lb": "x"})
    spec = live["spec"]
    spec.setdefault("clusterIP", "10.0.0.12")
    spec.update(
        clusterIPs=[spec["clusterIP"]], ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack", sessionAffinity="None"
    )
    for index, port in enumerate(spec["ports"]):
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port["port"])
        if node_ports:
            port.setdefault("nodePort", 30000 + index)
    return live


def test_a_served_service_is_in_sync() -> None:
    desired = head_service()
    assert services.service_merge_patch(live=as_served(desired), desired=desired) is None
    nodeport = head_service(lambda raw: head(raw).update(serviceType="NodePort"))
    assert services.service_merge_patch(live=as_served(nodeport, node_ports=True), desired=nodeport) is None


def test_changed_ports_are_resent_whole_keeping_allocated_node_ports() -> None:
    before = head_service(lambda raw: head(raw).update(serviceType="NodePort"))
    live = as_served(before, node_ports=True)
    after = head_service(
        lambda raw: (
            head(raw).update(serviceType="NodePort"),
            container_ports({"name": "dashboard", "containerPort": 8265}, {"name": "new", "containerPort": 7000})(raw),
        )
    )
    patch = services.service_merge_patch(live=live, desired=after)
    assert patch is not None and set(patch) == {"spec"} and set(patch["spec"]) == {"ports"}
    dashboard_node_port = next(p["nodePort"] for p in live["spec"]["ports"] if p["name"] == "dashboard")
    assert patch["spec"]["ports"] == [
        {"name": "dashboard", "port": 8265, "appProtocol": "tcp", "nodePort": dashboard_node_port},
        {"name": "metrics", "port": 8080, "appProtocol": "tcp", "nodePort": 30003},
        {"name": "new", "port": 7000, "appProtocol": "tcp"},
    ]


def test_annotation_label_and_type_drift() -> None:
    desired = head_service(lambda raw: raw["spec"].update(headServiceAnnotations={"a": "2"}))
    live = as_served(head_service(lambda raw: raw["spec"].update(headServiceAnnotations={"a": "1"})))
    live["metadata"]["labels"]["app.kubernetes.io/name"] = "edited"
    live["spec"]["type"] = "NodePort"
    patch = services.service_merge_patch(live=live, desired=desired)
    assert patch == {
        "metadata": {"labels": {"app.kubernetes.io/name": "kuberay"}, "annotations": {"a": "2"}},
        "spec": {"type": "ClusterIP"},
    }


def test_selector_must_match_exactly() -> None:
    desired = head_service()
    live = as_served(desired)
    live["spec"]["selector"]["extra"] = "narrowing"
    assert services.service_merge_patch(live=live, desired=desired) == {"spec": {"selector": {"extra": None}}}


def test_publish_not_ready_addresses_drift() -> None:
    desired = head_service()
    live = as_served(desired)
    live["spec"]["publishNotReadyAddresses"] = False
    assert services.service_merge_patch(live=live, desired=desired) == {"spec": {"publishNotReadyAddresses": True}}


def test_switching_headless_needs_a_recreate_not_a_patch() -> None:
    headless = head_service()
    with_ip = head_service(config=replace(CONFIG, enable_head_cluster_ip_service=True))
    assert services.service_needs_recreate(live=as_served(headless), desired=with_ip)
    assert services.service_needs_recreate(live=as_served(with_ip), desired=headless)
    assert not services.service_needs_recreate(live=as_served(headless), desired=headless)
    assert services.service_merge_patch(live=as_served(with_ip), desired=headless) == {
        "spec": {"publishNotReadyAddresses": True}
    }
