"""Validation of RayCluster objects: one implementation for the webhook, the controller and the tests.

Why: KubeRay checks most of a RayCluster only inside its controller (a Warning event, no
reconcile), and its webhook checks three things. Here every rule is a pure function of the object,
so the validating webhook rejects a bad RayCluster at ``kubectl apply`` time with every problem
listed, and the controller (when webhooks are off) refuses the same objects with the same words.

``validate(new, old=None)`` takes the whole object as a dict and never raises: input that does not
even fit the models becomes errors carrying the offending field's path (pydantic's ``loc`` rendered
as a Kubernetes field path, map keys in brackets: ``spec.headGroupSpec.rayStartParams[num-cpus]``).
The semantic rules read the raw dict through type-checking accessors, so they still run (and every
error is reported, not the first) when some other field failed to parse.

Rules (KubeRay numbering of ``reference/kuberay-raycluster.md`` §3):

* identity: apiVersion ``ray.io/v1`` and kind ``RayCluster`` when present;
* metadata: name required (or generateName), at most 53 characters (W1/C1; child names such as
  ``<name>-serve-svc`` must stay valid 63-character labels), a DNS-1035 label (W2/C1);
* worker groups: groupName required, a DNS-1123 label of at most 63 characters (it is a label value
  and part of pod names), unique (W3: reported as ``Duplicate`` at ``spec.workerGroupSpecs[i].groupName``,
  the field to change, where KubeRay's webhook reports ``Invalid`` at ``spec.workerGroupSpecs[i]`` with the
  whole group as the value); minReplicas/maxReplicas set when autoscaling is off (C7),
  non-negative (C8), min ≤ max (C9);
* templates: head and each group have at least one container (C5, C6), every container has a name
  and image (a pod without them cannot be created);
* rayStartParams: keys without leading dashes, the ports the operator reads (port, dashboard-port,
  metrics-export-port, dashboard-agent-listen-port) are port numbers;
* group resources/labels: no num-cpus/num-gpus/memory/resources in rayStartParams next to
  ``resources`` (C10), no ``labels`` in rayStartParams, label keys/values valid (C11), resource
  values are quantities;
* autoscaler v2: idleTimeoutSeconds ≥ 0 and only with v2 (C12), non-zero priority needs v2 and Ray
  ≥ 2.56 (C13), RAY_enable_autoscaler_v2 without autoscaling (C20), suspended groups / version+env
  conflicts / restartPolicy with autoscaling (C21), autoscalerOptions.idleTimeoutSeconds ≥ 0 (C22),
  reserved autoscaler env (C23);
* GCS fault tolerance: C14-C18, plus redisAddress required for the redis backend; ``rocksdb`` is
  refused (alpha in KubeRay, not supported here);
* upgradeStrategy not on RayJob/RayService-owned clusters (C4; C3 is the enum, checked by parsing);
* authOptions version gates (C25);
* status: Suspending and Suspended never both True (C2);
* KubeRay alpha-gated fields (networkPolicy, tlsOptions, historyServerOptions) are refused like
  KubeRay does with its default feature gates.

Update rules (``old`` given): ``spec.managedBy`` and ``spec.gcsFaultToleranceOptions.backend`` are
immutable, reported as ``Invalid: field is immutable`` like Kubernetes' ValidateImmutableField.
Unset ``managedBy`` means ``ray.io/kuberay-operator`` and an unset backend means ``redis`` (when the
options exist), so defaulting them is not a change; but unlike KubeRay's CEL rule (which skips a
field absent on either side) handing an existing cluster to another manager by *adding*
``managedBy: kueue.x-k8s.io/multikueue`` is refused too: its pods would be orphaned. Errors the stored object
already had are ratcheted: reported as warnings, not refusals, so an object that predates a rule can
still be updated (the Ray autoscaler must always be able to patch ``replicas``). Nothing else is
immutable; instead, updates that will not reach running pods (template changes without
``upgradeStrategy: Recreate``, head Service settings, turning GCS fault tolerance on) get warnings.

Warnings (the request is accepted) where KubeRay silently surprises users: replicas clamped into
[minReplicas, maxReplicas] (replicas 0, the default, means "minReplicas" and is not warned about),
numOfHosts ≤ 0 treated as 1, the deprecated ``ray.io/ft-enabled`` annotation, fractional CPU limits
(or group ``resources`` CPU/GPU) rounded up for ``--num-cpus``/``--num-gpus``, a memory request
without a limit (``--memory`` comes from the limit only), autoscaler v1 with a restartPolicy other
than Never, ``autoscaling-config`` in head params,
settings that are ignored (ingressOptions without enableIngress, autoscalerOptions without
autoscaling), ``authOptions`` without a mode, a Ray container that is apparently not
``containers[0]``, workersToDelete names that are not this group's pods, a group named
``headgroup``, and unknown fields (the API server prunes them).

Decided against: raising exceptions (a webhook must answer, a controller must emit an event);
validating the embedded Kubernetes objects beyond what the operator needs (the API server validates
pods when they are created); feature-gate switches (KubeRay's beta gates are on, alpha ones off).

Layout: ``errors`` (FieldError, CauseType, the report), ``paths`` (pydantic errors as field paths),
``accessors`` (typed reads of the raw dict), one module per area - ``names``, ``groups``,
``autoscaling``, ``gcsft``, ``auth``, ``cluster`` (the spec put together, status, unknown fields) -
``update`` (immutability and ratcheting), ``rayversion``, and ``entry`` (``validate``).
"""

from ray_operator.api.validation.autoscaling import autoscaler_v2_enabled
from ray_operator.api.validation.entry import validate
from ray_operator.api.validation.errors import CauseType, FieldError, ValidationResult
from ray_operator.api.validation.rayversion import parse_ray_version
from ray_operator.apimachinery.quantity import parse_quantity

__all__ = [
    "CauseType",
    "FieldError",
    "ValidationResult",
    "autoscaler_v2_enabled",
    "parse_quantity",
    "parse_ray_version",
    "validate",
]
