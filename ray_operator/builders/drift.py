"""Comparing a live object with the desired one, and the smallest JSON merge patch that fixes it.

Why: KubeRay creates the head Service once and never looks at it again (§2.4, §7.3), so a changed
port or annotation never arrives. We reconcile it — but the live object is full of values the
API server or other controllers filled in (``clusterIP``, ``nodePort``, ``targetPort``, ``protocol``,
``sessionAffinity``, ``ipFamilies``, cloud load-balancer annotations…). Comparing whole objects would
patch forever; so the rule is **the desired object states what it cares about, and the live object
only has to contain it**:

* a desired mapping is matched key by key, recursively; keys the desired object does not set are
  someone else's and are ignored;
* a desired list must have the same length and match element by element (a port list the server
  defaulted still matches), and is sent whole when it differs, since merge patches replace lists;
* scalars must be equal.

What this cannot do is remove something: a label or annotation the operator set earlier and no
longer wants stays (the operator does not remember what it wrote). Callers that own a whole key
space say so (``owned_map_patch``) and get deletions inside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["contains", "map_patch", "owned_map_patch", "replace_map_patch"]


def contains(live: Any, desired: Any) -> bool:
    """Whether ``live`` has everything ``desired`` states (see the module docstring)."""
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return False
        return all(key in live and contains(live[key], value) for key, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return False
        return all(contains(item, want) for item, want in zip(live, desired, strict=True))
    if isinstance(desired, bool) or isinstance(live, bool):
        return live is desired  # JSON true is not 1, although Python's True == 1
    return bool(live == desired)


def map_patch(live: Mapping[str, Any] | None, desired: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Entries of ``desired`` that ``live`` lacks or holds with another value; None when there are none."""
    live = live or {}
    patch = {key: value for key, value in (desired or {}).items() if key not in live or live[key] != value}
    return patch or None


def replace_map_patch(live: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> dict[str, Any] | None:
    """A patch making the map exactly ``desired`` (extra live keys set to null); None when it already is."""
    live = live or {}
    patch: dict[str, Any] = {key: None for key in live if key not in desired}
    patch.update(map_patch(live, desired) or {})
    return patch or None


def owned_map_patch(
    live: Mapping[str, Any] | None, desired: Mapping[str, Any], *, owned: Callable[[str], bool]
) -> dict[str, Any] | None:
    """Like ``map_patch``, and also deletes live keys the caller owns (``owned(key)``) that ``desired`` dropped."""
    live = live or {}
    patch: dict[str, Any] = {key: None for key in live if owned(key) and key not in desired}
    patch.update(map_patch(live, desired) or {})
    return patch or None
