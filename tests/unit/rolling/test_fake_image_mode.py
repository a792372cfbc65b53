"""The fake kubelet's image rule that the rolling-update tests use for a "bad image" (pods never Ready)."""

from __future__ import annotations

from typing import Any

import pytest

from ray_operator.sandbox.kubelet.fake import FakeRuntime


def pod(image: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u"},
        "spec": {"containers": [{"name": "ray", "image": image}]},
        "status": {"phase": "Pending"},
    }


async def ready_of(runtime: FakeRuntime, image: str) -> str:
    report = await runtime.sync_pod(("default", "p"), pod(image), host_ip="10.0.0.1", now="2026-01-01T00:00:00Z",
                                    allocate_ip=lambda: "10.1.0.9")  # fmt: skip
    assert report.status is not None
    return next(c["status"] for c in report.status["conditions"] if c["type"] == "Ready")


async def test_pods_of_a_marked_image_start_unready_until_told_otherwise() -> None:
    runtime = FakeRuntime()
    runtime.set_image_mode("bad:1", "unready")
    assert await ready_of(runtime, "bad:1") == "False"
    assert await ready_of(runtime, "good:1") == "True"
    runtime.set_mode(("default", "p"), "running", "")  # a per-pod mode wins over the image rule
    assert await ready_of(runtime, "bad:1") == "True"
    runtime.forget(("default", "p"))
    runtime.set_image_mode("bad:1", None)
    assert await ready_of(runtime, "bad:1") == "True"
    with pytest.raises(ValueError, match="mode must be one of"):
        runtime.set_image_mode("x", "sleepy")
