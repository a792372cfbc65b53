"""``ray-operator sandbox --apply FILE...``: create the objects of YAML manifests, as ``kubectl create -f`` would.

Each document's ``apiVersion``/``kind`` is resolved to its collection through discovery (so any kind
the server serves works, CRDs included), namespaced objects default to ``default``, and an object that
already exists is reported and left alone (a second ``--apply`` of the same file is harmless). Every
object goes through admission, so an invalid RayCluster is refused with the webhook's message.

A file that cannot be read or parsed is refused before anything is created: ``load_manifests`` raises
``ManifestError`` naming the file, and the sandbox exits 2 without starting.

Decided against: server-side apply (kubectl's create is what the samples' comments show) and shelling
out to kubectl (the package must work without it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ray_operator.kube.client import ApiError, api_path, request_json

__all__ = ["ManifestError", "Outcome", "apply_manifests", "load_manifests"]


class ManifestError(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    reference: str
    """``kind/name`` (with ``-n namespace`` when namespaced)."""
    result: str
    """``created``, ``unchanged (exists)`` or the server's refusal."""
    ok: bool


def load_manifests(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Every non-empty document of every file, in order; ``ManifestError`` for an unusable file."""
    docs: list[dict[str, Any]] = []
    for path in paths:
        try:
            loaded = list(yaml.safe_load_all(path.read_text()))
        except (OSError, yaml.YAMLError) as exc:
            raise ManifestError(f"cannot read {path}: {exc}") from None
        for doc in loaded:
            if doc is None:
                continue
            if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
                raise ManifestError(f"{path}: every document needs apiVersion and kind")
            docs.append(doc)
    return docs


async def _resource(api_client: Any, api_version: str, kind: str, cache: dict[str, Any]) -> tuple[str, bool]:
    group, _, version = api_version.rpartition("/")
    base = api_path(group, version)
    if base not in cache:
        cache[base] = (await request_json(api_client, "GET", base, timeout=10)).body
    for resource in cache[base].get("resources") or ():
        if resource.get("kind") == kind and "/" not in resource.get("name", ""):
            return f"{base}/{resource['name']}", bool(resource.get("namespaced"))
    raise ApiError(code=404, reason="NotFound", message=f'no kind "{kind}" is registered for version "{api_version}"')


async def apply_manifests(api_client: Any, docs: Sequence[dict[str, Any]]) -> list[Outcome]:
    """Create each object; refusals are reported in the outcome, never raised."""
    outcomes: list[Outcome] = []
    discovery: dict[str, Any] = {}
    for doc in docs:
        meta = doc.get("metadata") or {}
        kind, name = str(doc["kind"]), str(meta.get("name") or meta.get("generateName") or "")
        reference = f"{kind.lower()}/{name}"
        try:
            collection, namespaced = await _resource(api_client, str(doc["apiVersion"]), kind, discovery)
            if namespaced:
                namespace = str(meta.get("namespace") or "default")
                reference += f" -n {namespace}"
                base, _, plural = collection.rpartition("/")
                collection = f"{base}/namespaces/{namespace}/{plural}"
            await request_json(api_client, "POST", collection, timeout=30, body=doc)
        except ApiError as exc:
            if exc.code == 409 and exc.reason == "AlreadyExists":
                outcomes.append(Outcome(reference, "unchanged (exists)", True))
            else:
                outcomes.append(Outcome(reference, f"refused: {exc.message or exc}", False))
            continue
        outcomes.append(Outcome(reference, "created", True))
    return outcomes
