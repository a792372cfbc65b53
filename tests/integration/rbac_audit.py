"""Recorded API calls against ``config/rbac``: what was made but not granted, what is granted but never made.

The sandbox's request log records, for every request, the RBAC attributes its authorizer decided on
(user, verb, group, resource, subresource, namespace, name). ``calls_of`` keeps the operator's;
``ungranted`` replays them through the same RBAC rules code the emulator enforces, over the objects of
``config/rbac`` alone; ``unused`` breaks every rule into (group, resource, verb) atoms and keeps those
no call exercised. An unused atom is acceptable only when its rule carries a comment line

    # untested: <verb>[, <verb>...] - <the feature that needs it>

directly above it in the YAML; ``untested_marks`` reads those (and a mark on a verb that *is* used is
reported too, so the comments stay true).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ray_operator.sandbox.auth.rbac import Attributes, StaticPolicy, authorize

MARK = re.compile(r"^#\s*untested:\s*([a-z*,\s]+?)\s+-\s+\S")
RULE_START = re.compile(r"^- (apiGroups|nonResourceURLs|resources|verbs|resourceNames):")


@dataclass(frozen=True)
class Call:
    verb: str
    api_group: str
    resource: str
    subresource: str
    namespace: str
    name: str
    resource_request: bool = True
    path: str = ""

    def __str__(self) -> str:
        if not self.resource_request:
            return f"{self.verb} {self.path}"
        resource = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.verb} {resource}.{self.api_group or 'core'}{f' {self.name}' if self.name else ''}{where}"


@dataclass(frozen=True)
class Atom:
    """One verb on one resource of one rule: ``(kind, role, index)`` name the rule in ``config/rbac``."""

    kind: str
    role: str
    index: int
    namespace: str
    verb: str
    api_group: str = ""
    resource: str = ""
    names: tuple[str, ...] = ()
    url: str = ""


def calls_of(log: Iterable[dict[str, Any]], user: str) -> set[Call]:
    return {
        Call(
            verb=e["verb"],
            api_group=e["api_group"],
            resource=e["resource"],
            subresource=e["subresource"],
            namespace=e["namespace"],
            name=e["name"],
            resource_request=e["resource_request"],
            path="" if e["resource_request"] else e["path"],
        )
        for e in log
        if e.get("user") == user
    }


def ungranted(calls: Iterable[Call], objects: list[dict[str, Any]], user: str, groups: tuple[str, ...]) -> list[Call]:
    """The calls ``objects`` (config/rbac plus the bootstrap policy) do not allow ``user`` to make."""
    policy = StaticPolicy(objects)
    out = []
    for c in calls:
        attrs = Attributes(
            user=user,
            groups=groups,
            verb=c.verb,
            resource_request=c.resource_request,
            api_group=c.api_group,
            resource=c.resource,
            subresource=c.subresource,
            namespace=c.namespace,
            name=c.name,
            path=c.path,
        )
        if not authorize(policy, attrs).allowed:
            out.append(c)
    return sorted(out, key=str)


def bound_roles(objects: list[dict[str, Any]], namespace: str, name: str) -> set[tuple[str, str, str]]:
    """``(kind, namespace, name)`` of the roles bound to ServiceAccount ``namespace/name``."""
    out = set()
    for binding in objects:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        where = binding["metadata"].get("namespace", "")
        for subject in binding.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount" and (subject.get("namespace") or where, subject["name"]) == (
                namespace,
                name,
            ):
                ref = binding["roleRef"]
                out.add((ref["kind"], where if ref["kind"] == "Role" else "", ref["name"]))
    return out


def atoms(objects: list[dict[str, Any]], bound: set[tuple[str, str, str]] | None = None) -> list[Atom]:
    """Every (verb, group, resource) of the roles in ``objects`` (only those in ``bound``, when given)."""
    out = []
    for obj in objects:
        if obj["kind"] not in ("Role", "ClusterRole"):
            continue
        meta = obj["metadata"]
        if bound is not None and (obj["kind"], meta.get("namespace", ""), meta["name"]) not in bound:
            continue
        namespace = obj["metadata"].get("namespace", "") if obj["kind"] == "Role" else ""
        for index, rule in enumerate(obj.get("rules") or []):
            for verb in rule.get("verbs") or []:
                for url in rule.get("nonResourceURLs") or []:
                    out.append(Atom(obj["kind"], obj["metadata"]["name"], index, namespace, verb, url=url))
                for group in rule.get("apiGroups") or []:
                    for resource in rule.get("resources") or []:
                        names = tuple(rule.get("resourceNames") or ())
                        out.append(
                            Atom(obj["kind"], obj["metadata"]["name"], index, namespace, verb, group, resource, names)
                        )
    return out


def _covers(atom: Atom, call: Call) -> bool:
    if atom.verb not in ("*", call.verb) or atom.namespace not in ("", call.namespace):
        return False
    if atom.url:
        prefix_match = atom.url.endswith("*") and call.path.startswith(atom.url[:-1])
        return not call.resource_request and (atom.url == call.path or prefix_match)
    combined = f"{call.resource}/{call.subresource}" if call.subresource else call.resource
    return (
        call.resource_request
        and atom.api_group in ("*", call.api_group)
        and atom.resource in ("*", combined)
        and (not atom.names or call.name in atom.names)
    )


def unused(all_atoms: list[Atom], calls: Iterable[Call]) -> list[Atom]:
    made = list(calls)
    return [a for a in all_atoms if not any(_covers(a, c) for c in made)]


def untested_marks(rbac_dir: Path) -> dict[tuple[str, str, int], set[str]]:
    """``(kind, name, rule index) -> verbs`` named by ``# untested: ...`` comments above the rules."""
    kustomization = yaml.safe_load((rbac_dir / "kustomization.yaml").read_text())
    marks: dict[tuple[str, str, int], set[str]] = {}
    for resource in kustomization.get("resources") or []:
        text = (rbac_dir / resource).read_text()
        roles = [d for d in yaml.safe_load_all(text) if d and d.get("kind") in ("Role", "ClusterRole")]
        if not roles:
            continue
        if len(roles) != 1:
            raise AssertionError(f"{resource}: one Role or ClusterRole per file, so comments map to rules")
        role = roles[0]
        index = -1
        comments: list[str] = []
        for line in text.splitlines():
            if line.startswith("#"):
                comments.append(line)
                continue
            if RULE_START.match(line):
                index += 1
                verbs = {
                    v.strip() for c in comments if (m := MARK.match(c)) for v in m.group(1).split(",") if v.strip()
                }
                if verbs:
                    marks[(role["kind"], role["metadata"]["name"], index)] = verbs
            comments = []
        if index + 1 != len(role.get("rules") or []):
            raise AssertionError(f"{resource}: found {index + 1} rule starts for {len(role['rules'])} rules")
    return marks


def unexplained(
    all_atoms: list[Atom], calls: Iterable[Call], marks: dict[tuple[str, str, int], set[str]], prefix: str = ""
) -> tuple[list[Atom], list[str]]:
    """Unused atoms without an ``untested`` mark, and marks on verbs some call did use (stale comments)."""
    made = list(calls)
    idle = unused(all_atoms, made)
    idle_keys = {(a.kind, a.role, a.index, a.verb) for a in idle}
    bare = [a for a in idle if a.verb not in marks.get((a.kind, a.role.removeprefix(prefix), a.index), set())]
    stale = []
    for (kind, role, index), verbs in sorted(marks.items()):
        for verb in sorted(verbs):
            if (kind, prefix + role, index, verb) not in idle_keys:
                stale.append(f"{kind} {role} rule {index}: {verb} is marked untested but a scenario used it")
    return bare, stale
