"""kube-apiserver's Table printers for the built-in kinds other than pods (services, workloads, events...).

One entry per (group, kind) in ``PRINTERS``: the column definitions and a function from an object to
its cells, matching ``pkg/printers/internalversion`` — always including the ``priority: 1`` columns
that only ``-o wide`` shows. Kinds without a printer (CRDs among them) get ``Name`` and ``Created At``.
Kept as one table so a missing kind is easy to spot and to add.
Decided against: deriving columns from the OpenAPI definitions (upstream's columns are hand-chosen).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ray_operator.apimachinery.selectors import format_label_selector
from ray_operator.sandbox.tables.columns import (
    CREATED_AT,
    Cells,
    Obj,
    PrinterFn,
    age,
    age_column,
    as_int,
    as_list,
    created_at,
    define_column,
    human_duration,
    meta_description,
    metadata_of,
    named,
    parse_time,
    path_get,
    simple,
)


def _format_labels(selector: Any) -> str:
    if not isinstance(selector, Mapping) or not selector:
        return "<none>"
    return ",".join(f"{k}={selector[k]}" for k in sorted(selector))


def _service_cells(svc: Obj, now: datetime) -> Cells:
    spec = path_get(svc, "spec") or {}
    svc_type = spec.get("type") or "ClusterIP"
    cluster_ips = as_list(spec.get("clusterIPs"))
    internal = cluster_ips[0] if cluster_ips else spec.get("clusterIP") or "<none>"
    external_ips = [str(i) for i in as_list(spec.get("externalIPs"))]
    ingress = as_list(path_get(svc, "status", "loadBalancer", "ingress"))
    lb = [
        str(i.get("ip") or i.get("hostname"))
        for i in ingress
        if isinstance(i, Mapping) and (i.get("ip") or i.get("hostname"))
    ]
    if svc_type in ("ClusterIP", "NodePort"):
        external = ",".join(external_ips) or "<none>"
    elif svc_type == "LoadBalancer":
        external = ",".join(lb + external_ips) or "<pending>"
    elif svc_type == "ExternalName":
        external = str(spec.get("externalName", ""))
    else:
        external = "<unknown>"
    pieces = []
    for port in as_list(spec.get("ports")):
        if not isinstance(port, Mapping):
            continue
        protocol = port.get("protocol") or "TCP"
        node_port = port.get("nodePort")
        pieces.append(f"{port.get('port')}:{node_port}/{protocol}" if node_port else f"{port.get('port')}/{protocol}")
    return [
        metadata_of(svc).get("name", ""),
        svc_type,
        internal,
        external,
        ",".join(pieces) or "<none>",
        age(metadata_of(svc).get("creationTimestamp"), now),
        _format_labels(spec.get("selector")),
    ]


def _containers_images(template_spec: Any) -> tuple[str, str]:
    containers = [c for c in as_list(path_get(template_spec, "containers")) if isinstance(c, Mapping)]
    return ",".join(str(c.get("name", "")) for c in containers), ",".join(str(c.get("image", "")) for c in containers)


def _deployment_cells(obj: Obj, now: datetime) -> Cells:
    spec = path_get(obj, "spec") or {}
    status = path_get(obj, "status") or {}
    desired = spec.get("replicas", 1)
    names, images = _containers_images(path_get(spec, "template", "spec"))
    return [
        metadata_of(obj).get("name", ""),
        f"{as_int(status.get('readyReplicas'))}/{as_int(desired)}",
        as_int(status.get("updatedReplicas")),
        as_int(status.get("availableReplicas")),
        age(metadata_of(obj).get("creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _or_na(value: Any) -> Any:
    return "N/A" if value is None else value


def _statefulset_cells(obj: Obj, now: datetime) -> Cells:
    spec = path_get(obj, "spec") or {}
    names, images = _containers_images(path_get(spec, "template", "spec"))
    ready = f"{as_int(path_get(obj, 'status', 'readyReplicas'))}/{as_int(spec.get('replicas', 1))}"
    return [metadata_of(obj).get("name", ""), ready, age(metadata_of(obj).get("creationTimestamp"), now), names, images]


def _replicaset_cells(obj: Obj, now: datetime) -> Cells:
    spec = path_get(obj, "spec") or {}
    status = path_get(obj, "status") or {}
    names, images = _containers_images(path_get(spec, "template", "spec"))
    return [
        metadata_of(obj).get("name", ""),
        as_int(spec.get("replicas", 1)),
        as_int(status.get("replicas")),
        as_int(status.get("readyReplicas")),
        age(metadata_of(obj).get("creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _daemonset_cells(obj: Obj, now: datetime) -> Cells:
    spec = path_get(obj, "spec") or {}
    status = path_get(obj, "status") or {}
    names, images = _containers_images(path_get(spec, "template", "spec"))
    return [
        metadata_of(obj).get("name", ""),
        as_int(status.get("desiredNumberScheduled")),
        as_int(status.get("currentNumberScheduled")),
        as_int(status.get("numberReady")),
        as_int(status.get("updatedNumberScheduled")),
        as_int(status.get("numberAvailable")),
        _format_labels(path_get(spec, "template", "spec", "nodeSelector")),
        age(metadata_of(obj).get("creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _job_cells(obj: Obj, now: datetime) -> Cells:
    spec = path_get(obj, "spec") or {}
    status = path_get(obj, "status") or {}
    completions = spec.get("completions")
    parallelism = spec.get("parallelism", 1)
    succeeded = as_int(status.get("succeeded"))
    if completions is not None:
        completions_text = f"{succeeded}/{completions}"
    else:
        completions_text = f"{succeeded}/1 of {parallelism}" if parallelism and parallelism > 1 else f"{succeeded}/1"
    conditions = {c.get("type"): c.get("status") for c in as_list(status.get("conditions")) if isinstance(c, Mapping)}
    if conditions.get("Complete") == "True":
        state = "Complete"
    elif conditions.get("Failed") == "True":
        state = "Failed"
    elif metadata_of(obj).get("deletionTimestamp"):
        state = "Terminating"
    elif conditions.get("Suspended") == "True":
        state = "Suspended"
    elif conditions.get("FailureTarget") == "True":
        state = "FailureTarget"
    else:
        state = "Running"
    start = parse_time(status.get("startTime"))
    end = parse_time(status.get("completionTime")) or now
    duration = human_duration((end - start).total_seconds()) if start else ""
    names, images = _containers_images(path_get(spec, "template", "spec"))
    return [
        metadata_of(obj).get("name", ""),
        state,
        completions_text,
        duration,
        age(metadata_of(obj).get("creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def _event_view(obj: Obj) -> dict[str, Any]:
    """An events.k8s.io/v1 Event seen through the core/v1 fields the printer reads."""
    if not str(obj.get("apiVersion", "")).startswith("events.k8s.io/"):
        return dict(obj)
    return {
        "metadata": metadata_of(obj),
        "type": obj.get("type"),
        "reason": obj.get("reason"),
        "message": obj.get("note"),
        "involvedObject": obj.get("regarding") or {},
        "source": obj.get("deprecatedSource") or {},
        "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp"),
        "count": obj.get("deprecatedCount"),
        "eventTime": obj.get("eventTime"),
        "series": obj.get("series"),
        "reportingComponent": obj.get("reportingController"),
        "reportingInstance": obj.get("reportingInstance"),
    }


def _event_cells(raw: Obj, now: datetime) -> Cells:
    obj = _event_view(raw)
    first = age(obj.get("firstTimestamp"), now) if obj.get("firstTimestamp") else age(obj.get("eventTime"), now)
    last = age(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else first
    count = obj.get("count") or 0
    series = obj.get("series")
    if isinstance(series, Mapping):
        last = age(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif not count:
        count = 1
    involved = obj.get("involvedObject") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    host = source.get("host") or (obj.get("reportingInstance") if not source.get("component") else "") or ""
    source_text = f"{component}, {host}" if host else str(component)
    return [
        last,
        obj.get("type") or "",
        obj.get("reason") or "",
        target,
        involved.get("fieldPath") or "",
        source_text,
        str(obj.get("message") or "").strip(),
        first,
        as_int(count),
        metadata_of(obj).get("name", ""),
    ]


def _node_cells(obj: Obj, now: datetime) -> Cells:
    status = path_get(obj, "status") or {}
    conditions = {c.get("type"): c.get("status") for c in as_list(status.get("conditions")) if isinstance(c, Mapping)}
    ready = conditions.get("Ready")
    state = "Unknown" if ready is None else "Ready" if ready == "True" else "NotReady"
    if path_get(obj, "spec", "unschedulable"):
        state += ",SchedulingDisabled"
    labels = metadata_of(obj).get("labels") or {}
    role_set = {k.removeprefix("node-role.kubernetes.io/") for k in labels if k.startswith("node-role.kubernetes.io/")}
    if labels.get("kubernetes.io/role"):
        role_set.add(str(labels["kubernetes.io/role"]))
    roles = sorted(role_set)
    addresses = [a for a in as_list(status.get("addresses")) if isinstance(a, Mapping)]
    internal = next((a.get("address") for a in addresses if a.get("type") == "InternalIP"), "<none>")
    external = next((a.get("address") for a in addresses if a.get("type") == "ExternalIP"), "<none>")
    info = status.get("nodeInfo") or {}
    return [
        metadata_of(obj).get("name", ""),
        state,
        ",".join(r for r in roles if r) or "<none>",
        age(metadata_of(obj).get("creationTimestamp"), now),
        info.get("kubeletVersion", ""),
        internal,
        external,
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _endpoints_text(obj: Obj) -> str:
    pieces: list[str] = []
    for subset in as_list(obj.get("subsets")):
        if not isinstance(subset, Mapping):
            continue
        ports = [p for p in as_list(subset.get("ports")) if isinstance(p, Mapping)] or [{}]
        for address in as_list(subset.get("addresses")):
            if not isinstance(address, Mapping):
                continue
            for port in ports:
                pieces.append(f"{address.get('ip')}:{port['port']}" if "port" in port else str(address.get("ip")))
    if not pieces:
        return "<none>"
    if len(pieces) > 3:
        return ",".join(pieces[:3]) + f" + {len(pieces) - 3} more..."
    return ",".join(pieces)


def _ingress_cells(obj: Obj, now: datetime) -> Cells:
    spec = path_get(obj, "spec") or {}
    rules = [r for r in as_list(spec.get("rules")) if isinstance(r, Mapping)]
    hosts = [str(r.get("host")) for r in rules[:3] if r.get("host")]
    hosts_text = ",".join(hosts) or "*"
    if len(rules) > 3 and hosts:
        hosts_text += f" + {len(rules) - 3} more..."
    ingress = as_list(path_get(obj, "status", "loadBalancer", "ingress"))
    address = ",".join(str(i.get("ip") or i.get("hostname")) for i in ingress if isinstance(i, Mapping))
    return [
        metadata_of(obj).get("name", ""),
        spec.get("ingressClassName") or "<none>",
        hosts_text,
        address,
        "80, 443" if spec.get("tls") else "80",
        age(metadata_of(obj).get("creationTimestamp"), now),
    ]


def _binding_cells(obj: Obj, now: datetime) -> Cells:
    role = obj.get("roleRef") or {}
    subjects = [s for s in as_list(obj.get("subjects")) if isinstance(s, Mapping)]
    users = ", ".join(str(s.get("name")) for s in subjects if s.get("kind") == "User")
    groups = ", ".join(str(s.get("name")) for s in subjects if s.get("kind") == "Group")
    accounts = ", ".join(
        f"{s.get('namespace', '')}/{s.get('name')}" for s in subjects if s.get("kind") == "ServiceAccount"
    )
    return [
        metadata_of(obj).get("name", ""),
        f"{role.get('kind', '')}/{role.get('name', '')}",
        age(metadata_of(obj).get("creationTimestamp"), now),
        users,
        groups,
        accounts,
    ]


PRINTERS: dict[tuple[str, str], tuple[list[dict[str, Any]], PrinterFn]] = {
    ("", "Service"): (
        named(
            define_column("Type", description="Type of the service."),
            define_column("Cluster-IP", description="The IP address of the service inside the cluster."),
            define_column("External-IP", description="The external addresses of the service."),
            define_column("Port(s)", description="The ports the service exposes."),
            age_column(),
            define_column("Selector", description="The labels of the pods behind the service.", priority=1),
        ),
        _service_cells,
    ),
    ("", "Namespace"): (
        named(define_column("Status", description="The phase of the namespace."), age_column()),
        simple(lambda o: path_get(o, "status", "phase") or ""),
    ),
    ("", "Secret"): (
        named(
            define_column("Type", description="The type of the secret."),
            define_column("Data", description="The number of data entries."),
            age_column(),
        ),
        simple(lambda o: o.get("type") or "Opaque", lambda o: len(o.get("data") or {})),
    ),
    ("", "ConfigMap"): (
        named(define_column("Data", description="The number of data entries."), age_column()),
        simple(lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
    ),
    ("", "ServiceAccount"): (
        named(define_column("Secrets", description="The number of secrets of the service account."), age_column()),
        simple(lambda o: len(as_list(o.get("secrets")))),
    ),
    ("", "Endpoints"): (
        named(define_column("Endpoints", description="The addresses and ports of the endpoints."), age_column()),
        simple(_endpoints_text),
    ),
    ("", "Node"): (
        named(
            define_column("Status", description="The status of the node."),
            define_column("Roles", description="The roles of the node."),
            age_column(),
            define_column("Version", description="The kubelet version of the node."),
            define_column("Internal-IP", description="The internal IP of the node.", priority=1),
            define_column("External-IP", description="The external IP of the node.", priority=1),
            define_column("OS-Image", description="The OS image of the node.", priority=1),
            define_column("Kernel-Version", description="The kernel version of the node.", priority=1),
            define_column("Container-Runtime", description="The container runtime of the node.", priority=1),
        ),
        _node_cells,
    ),
    ("coordination.k8s.io", "Lease"): (
        named(define_column("Holder", description="The holder of the lease."), age_column()),
        simple(lambda o: path_get(o, "spec", "holderIdentity") or ""),
    ),
    ("apps", "Deployment"): (
        named(
            define_column("Ready", description="Number of the pod with ready state."),
            define_column(
                "Up-to-date",
                "string",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            define_column(
                "Available",
                "string",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            age_column(),
            define_column("Containers", description="Names of each container in the template.", priority=1),
            define_column("Images", description="Images referenced by each container in the template.", priority=1),
            define_column("Selector", description="Label selector for pods.", priority=1),
        ),
        _deployment_cells,
    ),
    ("batch", "Job"): (
        named(
            define_column("Status", description="Status of the job."),
            define_column(
                "Completions",
                description="The desired number of successfully finished pods the job should be run with.",
            ),
            define_column("Duration", description="Time required to complete the job."),
            age_column(),
            define_column("Containers", description="Names of each container in the template.", priority=1),
            define_column("Images", description="Images referenced by each container in the template.", priority=1),
            define_column("Selector", description="Label selector for pods.", priority=1),
        ),
        _job_cells,
    ),
    ("networking.k8s.io", "Ingress"): (
        named(
            define_column("Class", description="The name of the IngressClass."),
            define_column("Hosts", description="Hosts that incoming requests are matched against."),
            define_column("Address", description="Address is a list containing ingress points for the load-balancer."),
            define_column("Ports", description="Ports of TLS configurations that open."),
            age_column(),
        ),
        _ingress_cells,
    ),
    ("policy", "PodDisruptionBudget"): (
        named(
            define_column("Min Available", description="The minimum number or percentage of available pods."),
            define_column("Max Unavailable", description="The maximum number or percentage of unavailable pods."),
            define_column("Allowed Disruptions", "integer", "The number of pod disruptions currently allowed."),
            age_column(),
        ),
        simple(
            lambda o: _or_na(path_get(o, "spec", "minAvailable")),
            lambda o: _or_na(path_get(o, "spec", "maxUnavailable")),
            lambda o: as_int(path_get(o, "status", "disruptionsAllowed")),
        ),
    ),
    ("apps", "StatefulSet"): (
        named(
            define_column("Ready", description="Number of the pod with ready state."),
            age_column(),
            define_column("Containers", description="Names of each container in the template.", priority=1),
            define_column("Images", description="Images referenced by each container in the template.", priority=1),
        ),
        _statefulset_cells,
    ),
    ("apps", "ReplicaSet"): (
        named(
            define_column("Desired", "integer", "Number of desired pods."),
            define_column("Current", "integer", "Number of actually running pods."),
            define_column("Ready", "integer", "Number of ready pods."),
            age_column(),
            define_column("Containers", description="Names of each container in the template.", priority=1),
            define_column("Images", description="Images referenced by each container in the template.", priority=1),
            define_column("Selector", description="Label selector for pods.", priority=1),
        ),
        _replicaset_cells,
    ),
    ("apps", "DaemonSet"): (
        named(
            define_column("Desired", "integer", "The desired number of daemon pods."),
            define_column("Current", "integer", "The current number of daemon pods."),
            define_column("Ready", "integer", "The number of ready daemon pods."),
            define_column("Up-to-date", "integer", "The number of daemon pods running the current template."),
            define_column("Available", "integer", "The number of available daemon pods."),
            define_column("Node Selector", description="The node selector of the daemon pods."),
            age_column(),
            define_column("Containers", description="Names of each container in the template.", priority=1),
            define_column("Images", description="Images referenced by each container in the template.", priority=1),
            define_column("Selector", description="Label selector for pods.", priority=1),
        ),
        _daemonset_cells,
    ),
    ("networking.k8s.io", "NetworkPolicy"): (
        named(define_column("Pod-Selector", description="The pods the policy applies to."), age_column()),
        simple(lambda o: format_label_selector(path_get(o, "spec", "podSelector"))),
    ),
    ("rbac.authorization.k8s.io", "Role"): (named(CREATED_AT), created_at),
    ("rbac.authorization.k8s.io", "ClusterRole"): (named(CREATED_AT), created_at),
}


_EVENT_PRINTER: tuple[list[dict[str, Any]], PrinterFn] = (
    [
        define_column(
            "Last Seen", description="The time at which the most recent occurrence of this event was recorded."
        ),
        define_column("Type", description="Type of this event (Normal, Warning)."),
        define_column(
            "Reason", description="A short, machine understandable string that gives the reason for the event."
        ),
        define_column("Object", description="The object that this event is about."),
        define_column("Subobject", description="The field of the object this event is about.", priority=1),
        define_column("Source", description="The component reporting this event.", priority=1),
        define_column("Message", description="A human-readable description of the status of this operation."),
        define_column("First Seen", description="The time at which the event was first recorded.", priority=1),
        define_column("Count", description="The number of times this event has occurred.", priority=1),
        define_column("Name", description=meta_description("name"), priority=1, format_="name"),
    ],
    _event_cells,
)


PRINTERS[("", "Event")] = _EVENT_PRINTER


PRINTERS[("events.k8s.io", "Event")] = _EVENT_PRINTER


for _binding in ("RoleBinding", "ClusterRoleBinding"):
    PRINTERS[("rbac.authorization.k8s.io", _binding)] = (
        named(
            define_column("Role", description="Role referenced by this binding."),
            age_column(),
            define_column("Users", description="Users in the binding.", priority=1),
            define_column("Groups", description="Groups in the binding.", priority=1),
            define_column("ServiceAccounts", description="ServiceAccounts in the binding.", priority=1),
        ),
        _binding_cells,
    )


for _webhook in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
    PRINTERS[("admissionregistration.k8s.io", _webhook)] = (
        named(define_column("Webhooks", "integer", "Webhooks indicates the number of webhooks."), age_column()),
        simple(lambda o: len(as_list(o.get("webhooks")))),
    )
