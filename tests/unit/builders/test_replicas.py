"""Desired worker counts (reference §1.4, §1.5, §2.13)."""

from __future__ import annotations

from ray_operator.api.models import WorkerGroupSpec
from ray_operator.builders import replicas

INT32_MAX = 2**31 - 1


def group(**fields: object) -> WorkerGroupSpec:
    return WorkerGroupSpec.model_validate({"groupName": "g", "template": {}, **fields})


def test_unset_replicas_means_min_replicas() -> None:
    assert replicas.clamp_replicas(group(minReplicas=2, maxReplicas=5)) == 2


def test_replicas_below_min_are_raised_to_min() -> None:
    assert replicas.clamp_replicas(group(replicas=0, minReplicas=2, maxReplicas=5)) == 2


def test_replicas_above_max_are_lowered_to_max() -> None:
    assert replicas.clamp_replicas(group(replicas=9, minReplicas=0, maxReplicas=5)) == 5


def test_unset_min_and_max_are_zero_and_int32_max() -> None:
    assert replicas.clamp_replicas(group(replicas=7)) == 7
    assert replicas.clamp_replicas(group()) == 0


def test_desired_count_multiplies_by_hosts() -> None:
    assert replicas.desired_worker_count(group(replicas=3, maxReplicas=5, numOfHosts=4)) == 12


def test_num_of_hosts_zero_or_negative_counts_as_one() -> None:
    assert replicas.effective_num_of_hosts(group(numOfHosts=0)) == 1
    assert replicas.effective_num_of_hosts(group(numOfHosts=-3)) == 1
    assert replicas.desired_worker_count(group(replicas=2, numOfHosts=0)) == 2


def test_suspended_group_wants_no_pods() -> None:
    assert replicas.desired_worker_count(group(replicas=3, minReplicas=1, suspend=True)) == 0


def test_totals_skip_suspended_groups_for_min_and_max() -> None:
    groups = [
        group(replicas=1, minReplicas=1, maxReplicas=4, numOfHosts=2),
        group(replicas=3, minReplicas=2, maxReplicas=6, suspend=True),
    ]
    assert replicas.total_desired_workers(groups) == 2
    assert replicas.total_min_workers(groups) == 2
    assert replicas.total_max_workers(groups) == 8


def test_total_max_saturates_at_int32_max() -> None:
    groups = [group(numOfHosts=2), group()]  # max defaults to int32 max
    assert replicas.total_max_workers(groups) == INT32_MAX
