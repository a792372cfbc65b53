"""Ray version strings: parsed like Kubernetes' ``version.ParseGeneric``, which KubeRay uses.

Shared with the builders (``ray start`` flags differ by version), so it is public and re-exported by
``ray_operator.api.validation``.
"""

from __future__ import annotations

import re
from typing import Any

_RAY_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+.]?[0-9A-Za-z.+-]*)?$")


def parse_ray_version(value: Any) -> tuple[int, int, int] | None:
    """``"2.52.0"`` → ``(2, 52, 0)``; ``"2.52"`` → ``(2, 52, 0)``; None when unparsable (``"nightly"``, ``"2"``).

    Like Kubernetes' ``version.ParseGeneric``, which KubeRay uses: at least major.minor, optional
    leading ``v``, anything after the numbers ignored.
    """
    if not isinstance(value, str):
        return None
    match = _RAY_VERSION_RE.match(value.strip())
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor or 0), int(patch or 0)


def format_version(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)
