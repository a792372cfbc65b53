"""The operator switches the builders read, as one frozen value passed in by the caller.

Why: KubeRay reads these switches from the operator's environment at the point of use
(``os.Getenv`` deep inside pod and service construction), which makes its builders impure and its
tests set process-wide variables. Here the runtime maps its settings onto one ``BuildConfig`` and
passes it down, so a builder's output depends on its arguments only and tests build a config by
keyword.

Each field says which KubeRay environment variable (reference §2.23) or configuration-file entry
(§5) it stands for and what the default does. Decided against: reading ``ray_operator.settings``
here (builders may import only ``ray_operator.api``), and a mutable dict of options (a typo would
be silently ignored; a dataclass field is checked by mypy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ray_operator.api import constants as c

__all__ = ["BuildConfig"]


@dataclass(frozen=True, kw_only=True)
class BuildConfig:
    """Operator-level switches that shape the objects built for every RayCluster."""

    operator_version: str
    """Stamped in the head pod annotation ``ray.io/kuberay-version`` and in ``RAY_USAGE_STATS_EXTRA_TAGS``.

    Required: a Recreate upgrade compares it with the head pod's annotation, so a wrong default would
    recreate or fail to recreate pods after an operator upgrade.
    """

    cluster_domain: str = c.DEFAULT_CLUSTER_DOMAIN
    """DNS suffix of the head Service FQDN (``CLUSTER_DOMAIN``). Default ``cluster.local``."""

    enable_init_container_injection: bool = True
    """Add the ``wait-gcs-ready`` init container to worker pods (``ENABLE_INIT_CONTAINER_INJECTION``). Default on."""

    enable_probes_injection: bool = True
    """Add liveness/readiness probes to Ray containers that have none (``ENABLE_PROBES_INJECTION``). Default on."""

    enable_login_shell: bool = False
    """Run generated commands with ``/bin/bash -cl --`` instead of ``-c`` (``ENABLE_LOGIN_SHELL``). Default off."""

    enable_head_cluster_ip_service: bool = False
    """Give the head Service a cluster IP instead of making it headless (``ENABLE_RAY_HEAD_CLUSTER_IP_SERVICE``).

    Default off: a headless Service resolves straight to the one head pod.
    """

    enable_deterministic_head_pod_name: bool = False
    """Name the head pod ``<cluster>-head`` instead of ``generateName: <cluster>-head-``
    (``ENABLE_DETERMINISTIC_HEAD_POD_NAME``). Default off.
    """

    enable_gcs_ft_redis_cleanup: bool = True
    """Add the Redis cleanup finalizer and run the cleanup Job on deletion (``ENABLE_GCS_FT_REDIS_CLEANUP``).

    Default on.
    """

    enable_random_pod_delete: bool = False
    """Let the operator remove surplus workers itself even with autoscaling on (``ENABLE_RANDOM_POD_DELETE``).

    Default off: with autoscaling, the autoscaler alone chooses which workers go.
    """

    default_pod_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels added to every Ray pod where the user did not set the key (KubeRay's ``defaultPodLabels``)."""

    default_pod_annotations: Mapping[str, str] = field(default_factory=dict)
    """Annotations added to every Ray pod where the user did not set the key (``defaultPodAnnotations``)."""

    default_container_env: Sequence[Mapping[str, Any]] = ()
    """Env vars added to every Ray container whose env lacks the name (``defaultContainerEnvs``)."""

    head_sidecar_containers: Sequence[Mapping[str, Any]] = ()
    """Containers appended to every head pod (``headSidecarContainers``)."""

    worker_sidecar_containers: Sequence[Mapping[str, Any]] = ()
    """Containers appended to every worker pod (``workerSidecarContainers``)."""
