"""upgradeStrategy RollingUpdate end to end (issue 10): the operator against the emulator and the fake kubelet.

The fake kubelet makes pods Ready as soon as they are scheduled, unless a test says otherwise: pods of a
"bad" image never become Ready (``set_image_mode``), and single pods are made Ready by hand. Every claim
is read from the API as a user would (pods, status, events, ``kubectl apply``'s output) and from the
emulator's request log (which writes the operator made).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ray_operator.kube.client import open_stream, request_json
from ray_operator.sandbox.server import Sandbox
from ray_operator.sandbox.testing import Kubectl
from tests.integration.conftest import OperatorStack, StackFactory
from tests.integration.rayclusters import Api, fast_settings, sample, wait_until

pytestmark = pytest.mark.kubelet

SAMPLE = "ray_v1_raycluster.rolling-update.yaml"
NAME = "raycluster-rolling"
GOOD, BAD = "rayproject/ray:2.53.0", "rayproject/ray:broken"
POD_WRITES = ("POST", "PUT", "PATCH", "DELETE")


def body(*, ft: bool = False, deadline: int = 600) -> dict[str, Any]:
    """The sample with the cluster's defaults for every group (maxSurge 1, maxUnavailable 0)."""
    obj = sample(SAMPLE)
    obj["spec"]["workerGroupSpecs"][0].pop("rollingUpdate")
    obj["spec"]["upgradeStrategy"]["rollingUpdate"]["progressDeadlineSeconds"] = deadline
    if ft:
        obj["spec"]["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}
    return obj


async def started(start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, obj: dict[str, Any]) -> Api:
    await start_operator(settings=fast_settings(kubeconfig_path))
    api = Api(api_client)
    await api.create_cluster(obj)
    await wait_until(lambda: api.ready(NAME, workers=4), what="4 Ready workers")
    return api


def is_worker(pod: dict[str, Any]) -> bool:
    return bool(pod["metadata"]["labels"].get("ray.io/node-type") == "worker")


def is_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ()
    )


def revision(pod: dict[str, Any]) -> str | None:
    value = pod["metadata"]["labels"].get("ray.io/template-revision")
    return str(value) if value is not None else None


async def workers(api: Api) -> list[dict[str, Any]]:
    return [pod for pod in await api.pods(NAME) if is_worker(pod)]


async def head(api: Api) -> dict[str, Any]:
    (found,) = [pod for pod in await api.pods(NAME) if not is_worker(pod)]
    return found


async def group_status(api: Api) -> dict[str, Any]:
    cluster = await api.cluster(NAME) or {}
    groups = (cluster.get("status") or {}).get("workerGroups") or [{}]
    return dict(groups[0])


async def upgrading(api: Api) -> dict[str, Any]:
    cluster = await api.cluster(NAME) or {}
    found = [c for c in (cluster.get("status") or {}).get("conditions") or () if c["type"] == "RayClusterUpgrading"]
    return dict(found[0]) if found else {}


async def set_worker_image(api: Api, image: str) -> None:
    path = "/spec/workerGroupSpecs/0/template/spec/containers/0/image"
    await api.patch_cluster(NAME, [{"op": "replace", "path": path, "value": image}], json_patch=True)


async def rolled_out(api: Api, count: int = 4) -> bool:
    """The status is of the current spec, every live worker on its target revision and Ready, condition False."""
    cluster = await api.cluster(NAME) or {}
    status = cluster.get("status") or {}
    if status.get("observedGeneration") != cluster["metadata"].get("generation"):
        return False  # a status of the previous spec would still call the old pods up to date
    group = dict((status.get("workerGroups") or [{}])[0])
    pods = await workers(api)
    target = group.get("targetRevision")
    return (
        len(pods) == count
        and all(revision(pod) == target and is_ready(pod) for pod in pods)
        and group.get("updatedReplicas") == count
        and (await upgrading(api)).get("status") == "False"
    )


def operator_pod_writes(sandbox: Sandbox, since: int) -> list[dict[str, Any]]:
    return [
        r
        for r in sandbox.control.request_log()[since:]
        if r["method"] in POD_WRITES and "/pods" in r["path"] and r["user_agent"].startswith("ray-operator")
    ]


def deleted_names(writes: list[dict[str, Any]]) -> list[str]:
    return [r["path"].rsplit("/", 1)[-1] for r in writes if r["method"] == "DELETE"]


class ReadyWatch:
    """Watches every pod event of the cluster and records the Ready, not-terminating worker count after each."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.counts: list[int] = []
        self.pods: dict[str, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()

    def worker_names(self) -> set[str]:
        return {name for name, pod in self.pods.items() if is_worker(pod)}

    def _record(self) -> None:
        live = [p for p in self.pods.values() if is_worker(p) and not p["metadata"].get("deletionTimestamp")]
        self.counts.append(sum(is_ready(p) for p in live))

    async def _run(self) -> None:
        path = f"/api/v1/namespaces/{self.api.namespace}/pods"
        selector = f"ray.io/cluster={NAME}"
        query = [("labelSelector", selector)]
        listed = (await request_json(self.api.client, "GET", path, timeout=10, query=query)).body
        self.pods = {p["metadata"]["name"]: p for p in listed["items"]}
        version = listed["metadata"]["resourceVersion"]
        self._record()
        while True:  # the emulator ends watches after timeoutSeconds: resume from the last version seen
            query = [("watch", "true"), ("labelSelector", selector), ("resourceVersion", version),
                     ("timeoutSeconds", "30"), ("allowWatchBookmarks", "true")]  # fmt: skip
            response = await open_stream(self.api.client, path, connect_timeout=10, query=query)
            self._started.set()  # the stream is open: nothing the test does next can be missed
            try:
                async for line in _lines(response):
                    event = json.loads(line)
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        raise AssertionError(f"the pod watch failed: {obj}")
                    version = obj["metadata"].get("resourceVersion", version)
                    if event["type"] == "BOOKMARK":
                        continue
                    if event["type"] == "DELETED":
                        self.pods.pop(obj["metadata"]["name"], None)
                    else:
                        self.pods[obj["metadata"]["name"]] = obj
                    self._record()
            finally:
                response.release()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ReadyWatch]:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait({self._task, asyncio.create_task(self._started.wait())}, return_when="FIRST_COMPLETED")
        try:
            yield self
        finally:
            if self._task.done():
                self._task.result()  # the watch died: say why instead of judging a partial record
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _lines(response: Any) -> AsyncIterator[bytes]:
    """Newline-separated watch events of any size (``readline`` refuses lines above 64 KiB)."""
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            if line.strip():
                yield line


async def test_an_image_change_rolls_four_workers_without_ever_dropping_below_four_ready(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    api = await started(start_operator, kubeconfig_path, api_client, body())
    before = {pod["metadata"]["name"] for pod in await workers(api)}
    since = len(sandbox.control.request_log())
    async with ReadyWatch(api).running() as watch:
        await set_worker_image(api, GOOD)
        await wait_until(lambda: rolled_out(api), seconds=60, what="4 workers on the new revision")
        final = {pod["metadata"]["name"] for pod in await workers(api)}
        await wait_until(lambda: watch.worker_names() == final, what="the watch caught up with the last event")
    assert min(watch.counts) >= 4, f"Ready workers dropped to {min(watch.counts)} during the rollout"
    assert max(watch.counts) <= 5, "never more than maxSurge extra Ready workers"
    assert len(watch.counts) > 10, "the watch saw the rollout's pod events"
    writes = operator_pod_writes(sandbox, since)
    assert sorted(deleted_names(writes)) == sorted(before), "each old worker deleted exactly once, nothing else"
    assert {pod["spec"]["containers"][0]["image"] for pod in await workers(api)} == {GOOD}
    assert "RayClusterUpgrading" in json.dumps((await api.cluster(NAME) or {}).get("status"))


async def test_new_pods_that_never_get_ready_stop_the_rollout_and_a_revert_completes(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    sandbox.kubelet.fake.set_image_mode(BAD, "unready")
    api = await started(start_operator, kubeconfig_path, api_client, body(deadline=2))
    before = {pod["metadata"]["name"] for pod in await workers(api)}
    since = len(sandbox.control.request_log())
    await set_worker_image(api, BAD)
    condition = await wait_until(
        lambda: _reason_is(api, "RolloutStalled"), seconds=30, what="the rollout reported stalled"
    )
    pods = await workers(api)
    bad = [pod["metadata"]["name"] for pod in pods if pod["spec"]["containers"][0]["image"] == BAD]
    assert len(bad) == 1, "maxSurge 1: exactly one new pod"
    assert {pod["metadata"]["name"] for pod in pods} == before | set(bad), "no old pod deleted"
    assert f"Pod {bad[0]} did not become Ready within 2s" in condition["message"]
    events = [e for e in await api.events() if e["reason"] == "RolloutStalled"]
    assert events and bad[0] in events[-1]["note"] and events[-1]["type"] == "Warning"
    await asyncio.sleep(1.0)  # a stalled group stays as it is: no create, no delete
    writes = operator_pod_writes(sandbox, since)
    assert deleted_names(writes) == [] and sum(r["method"] == "POST" for r in writes) == 1
    # Roll back: apply the old image; the never-Ready pod is now the old revision and goes, the originals stay.
    await set_worker_image(api, "rayproject/ray:2.52.0")
    await wait_until(lambda: rolled_out(api), seconds=30, what="the revert completed")
    assert {pod["metadata"]["name"] for pod in await workers(api)} == before
    assert deleted_names(operator_pod_writes(sandbox, since)) == bad


async def _reason_is(api: Api, reason: str) -> dict[str, Any] | None:
    condition = await upgrading(api)
    return condition if condition.get("reason") == reason else None


async def test_an_operator_restarted_mid_rollout_resumes_without_deleting_an_extra_pod(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    slow = "rayproject/ray:2.53.0-slow"
    sandbox.kubelet.fake.set_image_mode(slow, "unready")  # new pods wait until the test makes them Ready
    first: OperatorStack = await start_operator(settings=fast_settings(kubeconfig_path))
    api = Api(api_client)
    await api.create_cluster(body())
    await wait_until(lambda: api.ready(NAME, workers=4), what="4 Ready workers")
    before = {pod["metadata"]["name"] for pod in await workers(api)}
    since = len(sandbox.control.request_log())
    await set_worker_image(api, slow)
    (surge,) = await wait_until(lambda: _new_pods(api, slow, 1), what="the first new pod")
    await sandbox.kubelet.make_ready("default", surge)  # lets one old pod go, and the next new pod come
    await wait_until(lambda: _new_pods(api, slow, 2), what="the second new pod")
    await wait_until(lambda: _count_old(api, slow, 3), what="one old pod replaced")
    first.state.stop.set()
    await asyncio.wait_for(first.task, 20)
    # While no operator runs, the second new pod becomes Ready and later new pods will be Ready at once.
    sandbox.kubelet.fake.set_image_mode(slow, None)
    for name in await _new_pods(api, slow, 2) or []:
        await sandbox.kubelet.make_ready("default", name)
    await start_operator(settings=fast_settings(kubeconfig_path))
    await wait_until(lambda: rolled_out(api), seconds=60, what="the rollout finished after the restart")
    writes = operator_pod_writes(sandbox, since)
    assert sorted(deleted_names(writes)) == sorted(before), "exactly the four old workers were deleted"
    assert sum(r["method"] == "POST" for r in writes) == 4, "exactly four new workers were created"


async def _new_pods(api: Api, image: str, count: int) -> list[str] | None:
    names = sorted(p["metadata"]["name"] for p in await workers(api) if p["spec"]["containers"][0]["image"] == image)
    return names if len(names) == count else None


async def _count_old(api: Api, image: str, count: int) -> bool:
    return sum(p["spec"]["containers"][0]["image"] != image for p in await workers(api)) == count


async def test_a_head_change_with_gcs_ft_replaces_only_the_head(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    api = await started(start_operator, kubeconfig_path, api_client, body(ft=True))
    before_workers = {pod["metadata"]["name"] for pod in await workers(api)}
    old_head = (await head(api))["metadata"]["name"]
    since = len(sandbox.control.request_log())
    path = "/spec/headGroupSpec/template/spec/containers/0/image"
    await api.patch_cluster(NAME, [{"op": "replace", "path": path, "value": GOOD}], json_patch=True)

    async def replaced() -> bool:
        cluster = await api.cluster(NAME) or {}
        info = (cluster.get("status") or {}).get("head") or {}
        pods = await api.pods(NAME)
        heads = [pod for pod in pods if not is_worker(pod)]
        return (
            len(heads) == 1
            and heads[0]["metadata"]["name"] != old_head
            and is_ready(heads[0])
            and info.get("revision") == info.get("targetRevision") == revision(heads[0])
        )

    await wait_until(replaced, seconds=30, what="a new head on the new revision")
    assert {pod["metadata"]["name"] for pod in await workers(api)} == before_workers, "workers kept running"
    assert deleted_names(operator_pod_writes(sandbox, since)) == [old_head]


async def test_a_head_change_without_gcs_ft_warns_at_apply_and_recreates_the_cluster(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, kubectl: Kubectl, tmp_path: Path
) -> None:
    await start_operator(settings=fast_settings(kubeconfig_path))
    api = Api(api_client)
    manifest = tmp_path / "cluster.yaml"
    obj = body()
    manifest.write_text(yaml.safe_dump(obj))
    assert (await kubectl("apply", "-f", str(manifest))).returncode == 0
    await wait_until(lambda: api.ready(NAME, workers=4), what="4 Ready workers")
    before = {pod["metadata"]["name"] for pod in await api.pods(NAME)}
    obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] = GOOD
    manifest.write_text(yaml.safe_dump(obj))
    done = await kubectl("apply", "-f", str(manifest))
    assert done.returncode == 0, done.stderr
    assert (
        "Warning: changing the head template restarts the whole cluster; enable gcsFaultToleranceOptions to keep "
        "workers" in done.stderr.splitlines()
    )

    async def recreated() -> bool:
        pods = await api.pods(NAME)
        return not ({pod["metadata"]["name"] for pod in pods} & before) and await api.ready(NAME, workers=4)

    await wait_until(recreated, seconds=30, what="every pod recreated")
    heads = [pod for pod in await api.pods(NAME) if not is_worker(pod)]
    assert heads[0]["spec"]["containers"][0]["image"] == GOOD
    assert "RestartingCluster" in await api.reasons()


async def test_applying_the_unchanged_spec_again_writes_no_pod(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, kubectl: Kubectl, sandbox: Sandbox,
    tmp_path: Path,
) -> None:  # fmt: skip
    await start_operator(settings=fast_settings(kubeconfig_path, resync_seconds=0.5))
    api = Api(api_client)
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text(yaml.safe_dump(body()))
    assert (await kubectl("apply", "-f", str(manifest))).returncode == 0
    await wait_until(lambda: api.ready(NAME, workers=4), what="4 Ready workers")
    await wait_until(lambda: rolled_out(api), what="a settled status")
    since = len(sandbox.control.request_log())
    again = await kubectl("apply", "-f", str(manifest))
    assert again.returncode == 0, again.stderr
    await asyncio.sleep(2.0)  # several resyncs of the cluster
    assert operator_pod_writes(sandbox, since) == []


async def test_with_the_autoscaler_on_the_rollout_replaces_and_never_writes_the_spec(
    start_operator: StackFactory, kubeconfig_path: Path, api_client: Any, sandbox: Sandbox
) -> None:
    obj = body()
    obj["spec"]["enableInTreeAutoscaling"] = True
    api = await started(start_operator, kubeconfig_path, api_client, obj)
    before = {pod["metadata"]["name"] for pod in await workers(api)}
    since = len(sandbox.control.request_log())
    await set_worker_image(api, GOOD)
    await wait_until(lambda: rolled_out(api), seconds=60, what="4 workers on the new revision")
    cluster_writes = [
        r
        for r in sandbox.control.request_log()[since:]
        if r["method"] in POD_WRITES and "/rayclusters/" in r["path"] and r["user_agent"].startswith("ray-operator")
    ]
    assert all(r["path"].endswith("/status") for r in cluster_writes), "replicas stays the autoscaler's"
    assert (await api.cluster(NAME) or {})["spec"]["workerGroupSpecs"][0]["replicas"] == 4
    assert sorted(deleted_names(operator_pod_writes(sandbox, since))) == sorted(before)


async def test_kubectl_explain_teaches_the_rolling_update_fields(
    operator_stack: OperatorStack, kubectl: Kubectl
) -> None:
    done = await kubectl("explain", "rayclusters.spec.upgradeStrategy.rollingUpdate")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    for field in ("maxSurge", "maxUnavailable", "progressDeadlineSeconds"):
        assert field in text
    assert "so capacity never drops" in text
    group = await kubectl("explain", "rayclusters.spec.workerGroupSpecs.rollingUpdate")
    assert group.returncode == 0 and "overriding spec.upgradeStrategy.rollingUpdate" in " ".join(group.stdout.split())
