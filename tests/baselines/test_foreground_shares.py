"""The foreground-aware baselines on an imbalanced pool, end to end: a run records the share of
empty (no-foreground) slices each batch holds, round by round (``empty_share`` of the batch
diagnostic), and each strategy's share is the one its rule implies.

The pool: the phantom with 5 slices a volume, slices 0, 1 and 4 of every volume emptied (label
erased, image flattened to its mean), so 60 % of the pool is empty (CHAOS T2: 55 % hold no
kidney). Slice strata of ``stratified_random`` are then ``0, 0, 1, 2, 2``: stratum 0 is all
empty, stratum 1 all foreground, stratum 2 half and half.

A network this small learns nothing in a test's few iterations (it predicts no foreground
anywhere), which would leave ``random_foreground``'s rule untested; so every network of the run
has :func:`bright_is_foreground` put on its output: it predicts class 1 wherever the image is bright:
exactly on the foreground slices.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from alstrategies.baselines.clasp_pe import ClaSPPEStrategy
from alstrategies.baselines.random_foreground import RandomForegroundStrategy, foreground_quota
from alstrategies.baselines.stratified_random import position_strata
from alstrategies.config import load_config
from alstrategies.data import load_synthetic
from alstrategies.engine.layout import RunLayout
from alstrategies.engine.loop import Experiment
from alstrategies.engine.records import read_record
from alstrategies.report.batch_diagnostics import batch_diagnostics_table
from alstrategies.training.round import RoundTrainer
from alstrategies.types import ModelOutput

EMPTY_POSITIONS = (0, 1, 4)
STRATEGIES = ["random", "random_foreground", "random_foreground_oracle", "stratified_random", "clasp_pe"]
K = 3  # 10 % of the 30-slice pool


BRIGHT = 0.8  # every foreground slice has a pixel above it; no flattened slice has


def bright_is_foreground(network: nn.Module) -> nn.Module:
    """``network`` whose logits gain a large class-1 term wherever the image exceeds ``BRIGHT``
    and a large background term elsewhere: it predicts foreground on the bright pixels only."""
    forward = network.forward

    def thresholded(x: torch.Tensor) -> ModelOutput:
        out = forward(x)
        bright = (x[:, 0] > BRIGHT).to(out.logits.dtype)
        boost = torch.zeros_like(out.logits)
        boost[:, 0], boost[:, 1] = 50.0 * (1 - bright), 50.0 * bright
        return dataclasses.replace(out, logits=out.logits + boost)

    network.forward = thresholded
    return network


def imbalanced_pool():
    data = load_synthetic(image_size=32, train_patients=6, test_patients=2, slices_per_patient=5)
    empty = np.isin(data.pool_positions, EMPTY_POSITIONS)
    data.pool_labels[empty] = 0
    data.pool_images[empty] = data.pool_images[empty].mean(axis=(2, 3), keepdims=True)
    return data, ~empty


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_overrides):
    """One run of the five strategies over three queries (20 % -> 50 %), with spies on the
    decisions of ``random_foreground`` and ``clasp_pe`` (they record, and change nothing)."""
    data, foreground = imbalanced_pool()
    seen: dict[str, list] = {"predicted": [], "clasp": []}
    has_foreground = RandomForegroundStrategy.has_foreground
    new_model = RoundTrainer.new_model
    select = ClaSPPEStrategy.select

    def spy_foreground(self, context):
        flags = has_foreground(self, context)
        seen["predicted"].append((context.unlabeled.copy(), flags.copy()))
        return flags

    def spy_select(self, context, k, rng):
        result = select(self, context, k, rng)
        seen["clasp"].append(result)
        return result

    config = load_config(None, [*tiny_overrides, "protocol.final_fraction=0.5", "protocol.seeds=[0,1]"])
    out = tmp_path_factory.mktemp("imbalanced")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RandomForegroundStrategy, "has_foreground", spy_foreground)
        patch.setattr(ClaSPPEStrategy, "select", spy_select)
        patch.setattr(RoundTrainer, "new_model", lambda *a, **k: bright_is_foreground(new_model(*a, **k)))
        Experiment(config, out, strategies=STRATEGIES, progress=False, data=data).run()
    return out, data, foreground, seen


def queries(out, strategy: str) -> list[dict]:
    """The round records of ``strategy`` that queried, in (seed, round) order."""
    layout = RunLayout(out)
    records = [read_record(p) for p in sorted(layout.root.glob(f"strategies/{strategy}/seed*/round*.json"))]
    return sorted((r for r in records if r["queried"]), key=lambda r: (r["seed"], r["round"]))


def test_every_round_of_every_strategy_records_its_empty_share(run) -> None:
    out, data, foreground, _ = run
    assert foreground.mean() == pytest.approx(0.4)
    table = batch_diagnostics_table(out)
    assert sorted(set(table["strategy"])) == sorted(STRATEGIES)
    for strategy in STRATEGIES:
        rows = table[table["strategy"] == strategy].set_index(["seed", "round"])
        records = queries(out, strategy)
        assert [(r["seed"], r["round"]) for r in records] == [(s, r) for s in (0, 1) for r in (0, 1, 2)]
        for record in records:
            picked = np.asarray(record["queried"])
            assert picked.size == K
            by_hand = sum(not foreground[i] for i in picked) / K
            assert rows.loc[(record["seed"], record["round"]), "empty_share"] == pytest.approx(by_hand)


def test_the_oracle_queries_no_empty_slice_while_foreground_remains(run) -> None:
    out, _, foreground, _ = run
    for record in queries(out, "random_foreground_oracle"):
        unlabeled = np.setdiff1d(np.arange(foreground.size), record["labeled"])
        remaining = int(foreground[unlabeled].sum())
        empty = sum(not foreground[i] for i in record["queried"])
        assert empty == max(0, K - remaining), record["round"]


def test_stratified_random_takes_one_slice_a_stratum_so_its_empty_share_is_a_third_or_two(run) -> None:
    out, data, foreground, _ = run
    strata = position_strata(data.pool_positions, data.pool_depths)
    assert strata[:5].tolist() == [0, 0, 1, 2, 2]
    for record in queries(out, "stratified_random"):
        unlabeled = np.setdiff1d(np.arange(foreground.size), record["labeled"])
        assert set(strata[unlabeled]) == {0, 1, 2}  # no stratum has run out on this pool
        assert sorted(strata[record["queried"]]) == [0, 1, 2]
        empty = sum(not foreground[i] for i in record["queried"])
        assert empty in (1, 2)


def test_random_foreground_takes_its_quota_from_predicted_foreground(run) -> None:
    out, _, foreground, seen = run
    records = queries(out, "random_foreground")
    assert len(seen["predicted"]) == len(records)
    quota = foreground_quota(K, RandomForegroundStrategy().foreground_share)
    assert quota == 2
    for record, (unlabeled, flags) in zip(records, seen["predicted"], strict=True):
        assert np.array_equal(unlabeled, np.setdiff1d(np.arange(30), record["labeled"]))
        assert np.array_equal(flags, foreground[unlabeled])  # the network finds the foreground slices
        assert sum(foreground[i] for i in record["queried"]) >= quota  # so at most 1 of 3 is empty


def test_clasp_pe_splits_each_batch_into_its_class_and_overall_strata(run) -> None:
    out, _, _, seen = run
    records = queries(out, "clasp_pe")
    assert len(seen["clasp"]) == len(records)
    class_quota = int(np.floor(ClaSPPEStrategy().class_share * K + 1e-9))  # split over RV, MYO, LV
    for record, result in zip(records, seen["clasp"], strict=True):
        assert sorted(result.indices.tolist()) == sorted(record["queried"])
        stratum = pd.Series(result.details["stratum"])
        assert (stratum > 0).sum() == class_quota and (stratum == 0).sum() == K - class_quota
