"""RayCluster admission end to end: the real kubectl, the emulator's admission chain, our webhooks.

Expected texts come from the project's own rules (``validate``/``apply_defaults``), never from a
copy, so these tests check the path from rule to terminal: status shape, patch, warnings, dry run.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from ray_operator.api.defaulting import apply_defaults
from ray_operator.api.validation import validate
from ray_operator.sandbox.testing import Kubectl
from tests.integration.conftest import OperatorStack
from webhook.patch import diff

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def mini() -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((SAMPLES / "ray_v1_raycluster.mini.yaml").read_text())
    return obj


def broken() -> dict[str, Any]:
    obj = mini()
    obj["metadata"]["name"] = "broken"
    obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"] = []
    group = obj["spec"]["workerGroupSpecs"][0]
    group["minReplicas"], group["maxReplicas"] = 5, 1
    obj["spec"]["workerGroupSpecs"].append(copy.deepcopy(group))  # a duplicate group name
    return obj


async def test_several_broken_fields_are_refused_with_one_line_per_field(
    operator_stack: OperatorStack, kubectl: Kubectl
) -> None:
    obj = broken()
    expected = validate(apply_defaults(obj)).errors
    assert len(expected) >= 3
    done = await kubectl("create", "-f", "-", input=json.dumps(obj))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0] == 'The RayCluster "broken" is invalid: ', done.stderr
    bullet_lines = [line for line in lines[1:] if line.startswith("* ")]
    assert len(bullet_lines) == len({e.text for e in expected})
    for error in expected:
        assert f"* {error.path}: {error.message}" in lines
    gone = await kubectl("get", "raycluster", "broken")
    assert gone.returncode == 1 and "NotFound" in gone.stderr


async def test_a_valid_sample_is_stored_with_the_defaults(operator_stack: OperatorStack, kubectl: Kubectl) -> None:
    sample = mini()
    done = await kubectl("create", "-f", str(SAMPLES / "ray_v1_raycluster.mini.yaml"))
    assert done.returncode == 0, done.stderr
    got = await kubectl("get", "raycluster", sample["metadata"]["name"], "-o", "yaml")
    stored = yaml.safe_load(got.stdout)
    ops = diff(sample, apply_defaults(sample))
    assert ops, "the mini sample should need at least one default"
    for op in ops:
        assert op["op"] in ("add", "replace")
        node: Any = stored
        for token in op["path"].lstrip("/").split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        assert node == op["value"], op["path"]
    calls = [c for c in operator_stack.sandbox.admission_log if c["name"] == sample["metadata"]["name"]]
    assert any(c["webhook"] == "mraycluster.kb.io" and c["patched"] for c in calls)


async def test_changing_an_immutable_field_is_refused(operator_stack: OperatorStack, kubectl: Kubectl) -> None:
    assert (await kubectl("create", "-f", str(SAMPLES / "ray_v1_raycluster.mini.yaml"))).returncode == 0
    name = mini()["metadata"]["name"]
    current = yaml.safe_load((await kubectl("get", "raycluster", name, "-o", "yaml")).stdout)
    changed = copy.deepcopy(current)
    changed["spec"]["managedBy"] = "kueue.x-k8s.io/multikueue"
    expected = validate(changed, current).errors
    assert [e.path for e in expected] == ["spec.managedBy"]
    done = await kubectl(
        "patch",
        "raycluster",
        name,
        "--type",
        "merge",
        "-p",
        json.dumps({"spec": {"managedBy": "kueue.x-k8s.io/multikueue"}}),
    )
    assert done.returncode == 1
    assert f'The RayCluster "{name}" is invalid: spec.managedBy: ' in done.stderr
    assert "immutable" in done.stderr
    after = yaml.safe_load((await kubectl("get", "raycluster", name, "-o", "yaml")).stdout)
    assert "managedBy" not in after["spec"]
    updates = [c for c in operator_stack.sandbox.admission_log if c["operation"] == "UPDATE" and c["name"] == name]
    assert [c["allowed"] for c in updates if c["webhook"] == "vraycluster.kb.io"] == [False]  # refused by our webhook


async def test_server_dry_run_is_admitted_and_stores_nothing(operator_stack: OperatorStack, kubectl: Kubectl) -> None:
    before = len(operator_stack.sandbox.admission_log)
    done = await kubectl("create", "--dry-run=server", "-f", str(SAMPLES / "ray_v1_raycluster.mini.yaml"))
    assert done.returncode == 0, done.stderr
    assert "created (server dry run)" in done.stdout
    calls = operator_stack.sandbox.admission_log[before:]
    assert {c["webhook"] for c in calls} == {"mraycluster.kb.io", "vraycluster.kb.io"}
    assert all(c["dry_run"] and c["allowed"] for c in calls)
    listed = await kubectl("get", "rayclusters", "-o", "json")
    assert json.loads(listed.stdout)["items"] == []
    refused = await kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(broken()))
    assert refused.returncode == 1 and 'The RayCluster "broken" is invalid:' in refused.stderr


async def test_warnings_are_printed_as_warning_lines(operator_stack: OperatorStack, kubectl: Kubectl) -> None:
    obj = mini()
    obj["metadata"]["name"] = "warned"
    obj["spec"].pop("enableInTreeAutoscaling", None)
    obj["spec"]["autoscalerOptions"] = {"idleTimeoutSeconds": 60}
    warnings = validate(apply_defaults(obj)).warnings
    assert any("autoscalerOptions" in w for w in warnings)
    done = await kubectl("create", "-f", "-", input=json.dumps(obj))
    assert done.returncode == 0, done.stderr
    for warning in warnings:
        assert f"Warning: {warning}" in done.stderr.splitlines()


async def test_which_layer_refuses_an_immutable_change(operator_stack: OperatorStack, kubectl: Kubectl) -> None:
    """Changing managedBy from one value to another is refused by the CRD's CEL rule, which the API server
    runs before validating webhooks (our webhook is never asked); adding it where it was unset is a change
    the CEL transition rule cannot see (no oldSelf), and only our webhook refuses it."""
    sample = mini()
    sample["metadata"]["name"] = "managed"
    sample["spec"]["managedBy"] = "ray.io/kuberay-operator"
    assert (await kubectl("create", "-f", "-", input=json.dumps(sample))).returncode == 0
    before = len(operator_stack.sandbox.admission_log)
    done = await kubectl(
        "patch", "raycluster", "managed", "--type", "merge",
        "-p", json.dumps({"spec": {"managedBy": "kueue.x-k8s.io/multikueue"}}),
    )  # fmt: skip
    assert done.returncode == 1 and "the managedBy field is immutable" in done.stderr, done.stderr
    later = operator_stack.sandbox.admission_log[before:]
    assert [c["webhook"] for c in later if c["operation"] == "UPDATE"] == ["mraycluster.kb.io"]  # no validation call
    stored = yaml.safe_load((await kubectl("get", "raycluster", "managed", "-o", "yaml")).stdout)
    assert stored["spec"]["managedBy"] == "ray.io/kuberay-operator"
