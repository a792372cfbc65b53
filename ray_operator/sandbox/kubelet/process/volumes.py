"""The files of a process-runtime pod: its volumes on disk and each container's bind mounts.

Pure layout from the pod spec (and the Secrets and ConfigMaps it names) onto directories the runtime
owns; kept apart from ``runtime`` so the rules of the kubelet's volume handling read on their own.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
RAY_TMP = "/tmp/ray"


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def write_volumes(
    *,
    directory: Path,
    shm: Path,
    spec: Mapping[str, Any],
    found_secrets: Mapping[str, Any],
    found_maps: Mapping[str, Any],
    service_account: Mapping[str, str],
) -> None:
    """Lay out the pod's volumes under ``directory`` (Memory emptyDirs under ``shm``) and, unless
    ``automountServiceAccountToken`` is false, its service-account files (``service_account``: file
    name → content). RuntimeError names a volume that cannot be made."""
    volumes = directory / "volumes"
    for volume in spec.get("volumes") or []:
        volume = _d(volume)
        name = str(volume.get("name") or "")
        if "emptyDir" in volume:
            medium = _d(volume.get("emptyDir")).get("medium")
            (shm / "volumes" / name if medium == "Memory" else volumes / name).mkdir(
                parents=True, exist_ok=True
            )
        elif "configMap" in volume or "secret" in volume:
            is_secret = "secret" in volume
            source = _d(volume.get("secret" if is_secret else "configMap"))
            obj = (found_secrets if is_secret else found_maps).get(
                str(source.get("secretName" if is_secret else "name") or "")
            )
            if obj is None and source.get("optional") is not True:
                raise RuntimeError(f'volume "{name}": its {"secret" if is_secret else "configmap"} was not found')
            target = volumes / name
            target.mkdir(parents=True, exist_ok=True)
            data = _d(_d(obj).get("data"))
            items = source.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                item = _d(item)
                value = data.get(str(item.get("key")))
                if value is None:
                    continue
                path = target / str(item.get("path") or item.get("key"))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(str(value)) if is_secret else str(value).encode())
        else:
            kinds = sorted(k for k in volume if k != "name")
            raise RuntimeError(
                f'volume "{name}": {", ".join(kinds)} volumes are not supported by the process runtime'
            )
    if spec.get("automountServiceAccountToken") is not False:
        sa = directory / "serviceaccount"
        sa.mkdir(parents=True, exist_ok=True)
        for file_name, content in service_account.items():
            # No trailing newline: the autoscaler sends the token unstripped.
            (sa / file_name).write_text(content)


def container_mounts(
    *, directory: Path, shm: Path, name: str, container: Mapping[str, Any], spec: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The bind mounts of container ``name`` (its spec ``container``): a private ``/tmp/ray`` and
    ``/dev/shm``, its volumeMounts (parents first, subPaths made), the service-account files.

    Only ``/tmp/ray`` (Ray's session directory and sockets) is private, not all of ``/tmp``: hiding
    the host's ``/tmp`` hid this Python environment too whenever the checkout lives there (a CI
    checkout under ``/tmp`` could start no container).
    """
    private = directory / "containers" / name
    tmp = private / "tmp-ray"
    tmp.mkdir(parents=True, exist_ok=True)
    tmp.chmod(0o1777)
    mounts: list[dict[str, Any]] = [{"type": "bind", "source": str(tmp), "target": RAY_TMP}]
    volume_sources: dict[str, Path] = {}
    for volume in spec.get("volumes") or []:
        volume = _d(volume)
        name = str(volume.get("name") or "")
        memory = _d(volume.get("emptyDir")).get("medium") == "Memory"
        volume_sources[name] = shm / "volumes" / name if memory else directory / "volumes" / name
    vm = [m for m in container.get("volumeMounts") or [] if isinstance(m, dict)]
    if not any(m.get("mountPath") == "/dev/shm" for m in vm):
        shm = shm / "containers" / name
        shm.mkdir(parents=True, exist_ok=True)
        mounts.append({"type": "bind", "source": str(shm), "target": "/dev/shm"})
    for m in sorted(vm, key=lambda m: str(m.get("mountPath")).count("/")):
        source = volume_sources.get(str(m.get("name")))
        if source is None or not m.get("mountPath"):
            continue
        if m.get("subPath"):
            source = source / str(m["subPath"])
            source.mkdir(parents=True, exist_ok=True)
        mounts.append(
            {
                "type": "bind",
                "source": str(source),
                "target": str(m["mountPath"]),
                "readonly": bool(m.get("readOnly")),
            }
        )
    if (directory / "serviceaccount").is_dir() and not any(m.get("mountPath") == SA_DIR for m in vm):
        mounts.append(
            {"type": "bind", "source": str(directory / "serviceaccount"), "target": SA_DIR, "readonly": True}
        )
    return mounts
