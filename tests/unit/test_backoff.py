"""Replacement back-off: which failure waits how long, and what forgets the failures."""

from __future__ import annotations

from ray_operator.controller.backoff import ReplacementBackoff


def test_two_failures_are_free_then_the_wait_doubles_up_to_five_minutes() -> None:
    backoff = ReplacementBackoff()
    assert [backoff.delay(n) for n in range(1, 10)] == [0, 0, 10, 20, 40, 80, 160, 300, 300]


def test_the_wait_counts_from_the_last_failure() -> None:
    backoff = ReplacementBackoff()
    for now in (100.0, 101.0):
        backoff.failed("ns/a", "workers", now)
    assert backoff.remaining("ns/a", "workers", 101.0) == 0  # two failures: replaced at once
    assert backoff.failed("ns/a", "workers", 102.0) == 3
    assert backoff.remaining("ns/a", "workers", 102.0) == 10
    assert backoff.remaining("ns/a", "workers", 111.5) == 0.5
    assert backoff.remaining("ns/a", "workers", 112.0) == 0


def test_groups_and_clusters_count_separately() -> None:
    backoff = ReplacementBackoff()
    for now in (1.0, 2.0, 3.0):
        backoff.failed("ns/a", "", now)
    assert backoff.remaining("ns/a", "", 3.0) == 10
    assert backoff.remaining("ns/a", "workers", 3.0) == 0
    assert backoff.remaining("ns/b", "", 3.0) == 0


def test_a_healthy_group_starts_again_from_no_wait() -> None:
    backoff = ReplacementBackoff()
    for now in (1.0, 2.0, 3.0):
        backoff.failed("ns/a", "workers", now)
    backoff.healthy("ns/a", "workers")
    assert backoff.failures("ns/a", "workers") == 0
    assert backoff.failed("ns/a", "workers", 4.0) == 1 and backoff.remaining("ns/a", "workers", 4.0) == 0


def test_forgetting_a_cluster_drops_all_its_groups_and_only_them() -> None:
    backoff = ReplacementBackoff()
    for key, group in (("ns/a", ""), ("ns/a", "workers"), ("ns/b", "")):
        backoff.failed(key, group, 1.0)
    backoff.forget_cluster("ns/a")
    assert backoff.failures("ns/a", "") == backoff.failures("ns/a", "workers") == 0
    assert backoff.failures("ns/b", "") == 1
