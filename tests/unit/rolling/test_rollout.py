"""The RollingUpdate decision (controller.rollout): exhaustive simulations of whole rollouts, and the edge cases.

A simulated pass applies the decision the way the reconciler does: deleted units vanish, created units
appear not Ready, and afterwards the kubelet makes some (or all) new units Ready. The invariants a user
relies on are checked after every pass: Ready units never below ``desired - maxUnavailable`` (when they
started at ``desired``), units never above ``desired + maxSurge``, and every rollout ends with exactly
``desired`` new-revision units.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from ray_operator.api.rollingupdate import Budget
from ray_operator.controller.rollout import RolloutDecision, Unit, plan_rollout

OLD, NEW = "old0000000000000", "new0000000000000"


def unit(key: str, revision: str | None = OLD, *, ready: bool = True, created: str = "2026-01-01T00:00:00Z",
         cost: int = 0, stalled: bool = False) -> Unit:  # fmt: skip
    return Unit(key=key, revision=revision, ready=ready, created=created, deletion_cost=cost, stalled=stalled)


def decide(units: list[Unit], desired: int, surge: int = 1, unavailable: int = 0, **kw: bool) -> RolloutDecision:
    decision = plan_rollout(
        units=units, desired=desired, target_revision=NEW, budget=Budget(surge, unavailable), autoscaling=False, **kw
    )
    assert decision is not None
    return decision


def simulate(
    *,
    old: int,
    desired: int,
    surge: int,
    unavailable: int,
    ready_per_pass: int | None = None,
    autoscaling: bool = False,
) -> tuple[list[Unit], int, int]:
    """Run a rollout to the end; returns the final units, the passes it took and how many old units it deleted."""
    counter = itertools.count()
    units = [unit(f"o{i}", created=f"2026-01-01T00:00:{i:02d}Z") for i in range(old)]
    deleted_old = 0
    for passes in range(1, 200):
        decision = plan_rollout(
            units=units,
            desired=desired,
            target_revision=NEW,
            budget=Budget(surge, unavailable),
            autoscaling=autoscaling,
        )
        if decision is None:  # no old unit left: podplan's normal scaling creates what is missing
            units += [unit(f"n{next(counter)}", NEW) for _ in range(desired - len(units))]
            return units, passes, deleted_old
        gone = set(decision.delete)
        assert all(u.revision != NEW for u in units if u.key in gone), "only old units are deleted by a rollout"
        deleted_old += len(gone)
        units = [u for u in units if u.key not in gone]
        units += [unit(f"n{next(counter)}", NEW, ready=False, created="2026-01-02T00:00:00Z")
                  for _ in range(decision.create)]  # fmt: skip
        assert len(units) <= max(desired, old) + surge, "never more than desired + maxSurge units"
        if old >= desired:
            ready = sum(u.ready for u in units)
            assert ready >= desired - unavailable, f"ready capacity dropped to {ready}"
        # the kubelet: new units become Ready (all of them, or a few per pass)
        becoming = [u for u in units if not u.ready][: ready_per_pass if ready_per_pass is not None else None]
        keys = {u.key for u in becoming}
        units = [replace(u, ready=True) if u.key in keys else u for u in units]
    raise AssertionError("the rollout did not finish in 200 passes")


@pytest.mark.parametrize("desired", [0, 1, 2, 4, 7])
@pytest.mark.parametrize(("surge", "unavailable"), [(1, 0), (2, 0), (0, 1), (1, 1), (3, 2), (10, 0)])
@pytest.mark.parametrize("ready_per_pass", [None, 1])
def test_every_rollout_finishes_with_desired_new_units_and_keeps_its_invariants(
    desired: int, surge: int, unavailable: int, ready_per_pass: int | None
) -> None:
    units, _, deleted = simulate(
        old=desired, desired=desired, surge=surge, unavailable=unavailable, ready_per_pass=ready_per_pass
    )
    assert sorted(u.revision for u in units) == [NEW] * desired
    assert deleted == desired, "each old unit is deleted exactly once"


@pytest.mark.parametrize(("old", "desired"), [(4, 6), (4, 2), (3, 0), (0, 3)])
def test_scale_changes_during_a_rollout_apply_to_the_new_revision(old: int, desired: int) -> None:
    units, _, deleted = simulate(old=old, desired=desired, surge=1, unavailable=0)
    assert [u.revision for u in units] == [NEW] * desired
    assert deleted == old


def test_the_default_budget_surges_one_then_waits_for_it_to_be_ready() -> None:
    olds = [unit(f"o{i}") for i in range(4)]
    first = decide(olds, 4)
    assert (first.create, first.delete) == (1, ())
    waiting = decide([*olds, unit("n0", NEW, ready=False)], 4)
    assert (waiting.create, waiting.delete) == (0, ()), "nothing is deleted while the new pod is not Ready"
    ready = decide([*olds, unit("n0", NEW)], 4)
    assert (ready.create, len(ready.delete)) == (0, 1)
    assert (ready.updated, ready.outdated) == (1, 4)


def test_no_old_unit_left_means_no_rollout() -> None:
    assert plan_rollout(units=[unit("n0", NEW)], desired=1, target_revision=NEW, budget=Budget(1, 0),
                        autoscaling=False) is None  # fmt: skip


def test_old_units_go_not_ready_first_then_low_deletion_cost_then_oldest_revision_then_oldest() -> None:
    units = [
        unit("busy-old", created="2026-01-01T00:00:00Z", cost=100),
        unit("idle-young", created="2026-01-01T00:00:09Z", cost=-5),
        unit("plain-oldest", created="2026-01-01T00:00:01Z"),
        unit("other-rev", revision="mid0000000000000", created="2026-01-01T00:05:00Z"),
        unit("not-ready", created="2026-01-01T00:00:05Z", cost=1000, ready=False),
        *[unit(f"n{i}", NEW) for i in range(5)],
    ]
    decision = decide(units, 5, surge=0, unavailable=5)
    assert decision.delete == ("not-ready", "idle-young", "plain-oldest", "other-rev", "busy-old")


def test_unlabelled_pods_count_as_old() -> None:
    decision = decide([unit("legacy", revision=None), unit("n0", NEW)], 1)
    assert decision.delete == ("legacy",)


def test_an_unready_old_unit_is_deleted_without_budget() -> None:
    decision = decide([unit("o0"), unit("o1", ready=False)], 2, surge=1, unavailable=0)
    assert decision.delete == ("o1",)


def test_a_stalled_new_unit_freezes_the_group() -> None:
    units = [*(unit(f"o{i}") for i in range(4)), unit("bad", NEW, ready=False, stalled=True)]
    decision = decide(units, 4, surge=2, unavailable=1)
    assert (decision.create, decision.delete, decision.stalled) == (0, (), ("bad",))


def test_reverting_after_a_stall_deletes_the_bad_units_and_keeps_the_good_ones() -> None:
    # After the revert the original pods are the target again; the never-Ready ones are now old.
    units = [*(unit(f"o{i}", NEW) for i in range(4)), unit("bad", OLD, ready=False)]
    decision = decide(units, 4)
    assert (decision.create, decision.delete) == (0, ("bad",))


def test_with_the_autoscaler_surplus_units_are_never_chosen_for_it() -> None:
    # replicas was lowered to 4 but workersToDelete does not name the 2 extra pods yet.
    olds = [unit(f"o{i}") for i in range(6)]
    decision = plan_rollout(units=olds, desired=4, target_revision=NEW, budget=Budget(1, 0), autoscaling=True)
    assert decision is not None and (decision.create, decision.delete) == (0, ())
    one_new = [*olds[:4], unit("n0", NEW)]
    decision = plan_rollout(units=one_new, desired=4, target_revision=NEW, budget=Budget(1, 0), autoscaling=True)
    assert decision is not None and len(decision.delete) == 1, "a Ready new unit replaces exactly one old unit"


@pytest.mark.parametrize("desired", [1, 4])
def test_with_the_autoscaler_a_rollout_replaces_one_for_one(desired: int) -> None:
    units, _, deleted = simulate(old=desired, desired=desired, surge=1, unavailable=1, autoscaling=True)
    assert [u.revision for u in units] == [NEW] * desired and deleted == desired
