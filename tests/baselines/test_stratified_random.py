"""``stratified_random``: the batch spread evenly over thirds of the slice positions, checked
against a slow reference that follows the module docstring's rule literally."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies.baselines.stratified_random import StratifiedRandomStrategy, position_strata
from alstrategies.errors import ConfigError
from alstrategies.registry import STRATEGIES
from alstrategies.strategy import QueryContext
from alstrategies.types import slice_positions

#: An imbalanced pool: volumes of very different depths, listed out of slicing order.
DEPTHS = {"a": 3, "b": 7, "c": 12, "d": 4, "e": 10}


def make_context(labeled: list[int] | None = None, shuffle: int = 0) -> QueryContext:
    groups = np.array([name for name, depth in DEPTHS.items() for _ in range(depth)])
    positions = np.concatenate([np.arange(depth) for depth in DEPTHS.values()])
    order = np.random.default_rng(shuffle).permutation(groups.size) if shuffle else np.arange(groups.size)
    groups, positions = groups[order], positions[order]
    depths = np.array([DEPTHS[g] for g in groups])
    labeled_array = np.asarray(labeled or [], dtype=np.int64)
    return QueryContext(
        model=nn.Identity(),
        pool_images=torch.zeros(groups.size, 1, 4, 4),
        labeled=labeled_array,
        unlabeled=np.setdiff1d(np.arange(groups.size), labeled_array),
        num_classes=2,
        pool_groups=groups,
        pool_positions=positions,
        pool_depths=depths,
    )


def reference_stratum(z: int, n: int) -> int:
    """The third of ``(z + 0.5) / n``, exactly."""
    relative = (Fraction(z) + Fraction(1, 2)) / n
    return 0 if relative < Fraction(1, 3) else 1 if relative < Fraction(2, 3) else 2


def reference_query(context: QueryContext, k: int, rng: np.random.Generator) -> list[int]:
    """The docstring's rule, one step at a time, with the same generator calls."""
    left = {
        (stratum, volume): sorted(
            int(i)
            for i in context.unlabeled
            if context.pool_groups[i] == volume
            and reference_stratum(int(context.pool_positions[i]), int(context.pool_depths[i])) == stratum
        )
        for stratum in range(3)
        for volume in sorted(set(context.pool_groups.tolist()))
    }
    cycle = list(rng.permutation(3))
    chosen, turn = [], 0
    while len(chosen) < min(k, context.unlabeled.size):
        stratum = cycle[turn % 3]
        turn += 1
        volumes = [v for (s, v), slices in sorted(left.items()) if s == stratum and slices]
        if not volumes:
            continue
        volume = volumes[int(rng.integers(len(volumes)))]
        slices = left[(stratum, volume)]
        chosen.append(slices.pop(int(rng.integers(len(slices)))))
    return chosen


def strata_of(context: QueryContext, indices: np.ndarray) -> list[int]:
    return [reference_stratum(int(context.pool_positions[i]), int(context.pool_depths[i])) for i in indices]


def test_strata_are_the_thirds_of_the_relative_position() -> None:
    for n in range(1, 40):
        z = np.arange(n)
        assert position_strata(z, np.full(n, n)).tolist() == [reference_stratum(i, n) for i in range(n)]


@pytest.mark.parametrize("shuffle", [0, 7])
def test_matches_the_reference_rule(shuffle: int) -> None:
    context = make_context(labeled=[0, 5, 11, 20, 33], shuffle=shuffle)
    for seed in range(40):
        for k in (1, 4, 9, 17):
            got = StratifiedRandomStrategy().query(context, k, np.random.default_rng(seed)).indices
            assert got.tolist() == reference_query(context, k, np.random.default_rng(seed)), (seed, k)


def test_per_stratum_counts_are_balanced_within_one_and_only_unlabeled_slices() -> None:
    context = make_context(labeled=[1, 2, 9, 15, 16, 30])
    for seed in range(100):
        for k in (2, 5, 10, 13):
            chosen = StratifiedRandomStrategy().query(context, k, np.random.default_rng(seed)).indices
            assert len(set(chosen.tolist())) == k and not np.isin(chosen, context.labeled).any()
            counts = Counter(strata_of(context, chosen))
            per_stratum = [counts.get(s, 0) for s in range(3)]
            assert max(per_stratum) - min(per_stratum) <= 1, (seed, k, per_stratum)


def test_a_stratum_that_runs_out_is_skipped_and_the_whole_pool_can_be_taken() -> None:
    context = make_context()
    first_third = [i for i in range(context.pool_images.shape[0]) if strata_of(context, [i]) == [0]]
    context = make_context(labeled=first_third[:-1])  # one slice left in the first third
    chosen = StratifiedRandomStrategy().query(context, 20, np.random.default_rng(3)).indices
    counts = Counter(strata_of(context, chosen))
    assert counts[0] == 1 and abs(counts[1] - counts[2]) <= 1
    everything = StratifiedRandomStrategy().query(context, 1000, np.random.default_rng(3)).indices
    assert sorted(everything.tolist()) == context.unlabeled.tolist()


def test_volumes_are_drawn_uniformly_within_a_stratum() -> None:
    context = make_context()
    seen: Counter[str] = Counter()
    for seed in range(1500):
        (index,) = StratifiedRandomStrategy().query(context, 1, np.random.default_rng(seed)).indices
        seen[str(context.pool_groups[index])] += 1
    # every volume holds slices in every third, so each volume is drawn with probability 1/5
    for volume in DEPTHS:
        assert seen[volume] / 1500 == pytest.approx(0.2, abs=0.04), seen


def test_deterministic_given_the_generator() -> None:
    context = make_context(labeled=[3, 4])
    a = StratifiedRandomStrategy().query(context, 8, np.random.default_rng(5)).indices
    b = StratifiedRandomStrategy().query(context, 8, np.random.default_rng(5)).indices
    c = StratifiedRandomStrategy().query(context, 8, np.random.default_rng(6)).indices
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_needs_the_slice_layout() -> None:
    context = make_context()
    context.pool_positions = None
    with pytest.raises(ConfigError, match="pool_positions"):
        StratifiedRandomStrategy().query(context, 3, np.random.default_rng(0))


def test_registered_as_a_label_free_random_baseline() -> None:
    factory = STRATEGIES.get("stratified_random")
    assert factory is StratifiedRandomStrategy and factory.family == "random" and not factory.is_control()
    assert "Burmeister" in factory.source and factory.forward_passes == "0"


def test_slice_positions_follow_the_pool_order_within_each_group() -> None:
    positions, depths = slice_positions(np.array(["b", "a", "b", "b", "a"]))
    assert positions.tolist() == [0, 0, 1, 2, 1] and depths.tolist() == [3, 2, 3, 3, 2]
