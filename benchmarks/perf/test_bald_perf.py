"""BALD's query time over one plain inference pass, side by side with Mean STD's.

The setting is that of ``test_baselines_perf.py`` (the phantom pool, 358 unlabeled slices of
48 x 48, query batch 64, the width-8 model of ``benchmarks/configs/synthetic.toml`` and then the
plain U-Net of that width). Target: ``(T + 0.5)x`` one inference pass for ``T = 10`` passes,
recorded, not asserted, as Mean STD's (the two share the MC-dropout passes; only the
accumulator differs: running sums of ``p`` and of its entropy instead of Welford's moments).
The three runs are interleaved (inference, mean_std, bald, inference, ...) and the fastest of
each kept, so that a busy machine slows all of them alike.
"""

from __future__ import annotations

import torch

from alstrategies.baselines.bald import BALDStrategy
from alstrategies.baselines.mean_std import MeanSTDStrategy
from benchmarks.perf.conftest import interleaved
from benchmarks.perf.test_baselines_perf import _query, inference_pass, setting  # noqa: F401 (fixture)


def test_bald_query_over_inference(benchmark, report_ratio, setting):  # noqa: F811
    """BALD (T = 10) within (T + 0.5)x one inference pass (recorded), and its cost beside Mean STD's."""
    label, context = setting
    benchmark.extra_info["model"] = label
    print(f"\n[{label}] torch threads {torch.get_num_threads()}", end="")
    bald, mean_std = BALDStrategy(), MeanSTDStrategy()  # T = 10 each
    inference_pass(context)  # warm-up
    times = interleaved(
        {
            "inference": lambda: inference_pass(context),
            "mean_std": lambda: _query(mean_std, context),
            "bald": lambda: _query(bald, context),
        },
        repeats=3,
    )
    ratio = report_ratio("bald_query_over_inference", times["bald"], times["inference"])
    report_ratio("mean_std_query_over_inference", times["mean_std"], times["inference"])
    report_ratio("bald_over_mean_std", times["bald"], times["mean_std"])
    target = bald.passes + 0.5
    benchmark.extra_info.update(target=target, passes=bald.passes, meets_target=bool(ratio <= target))
    benchmark.extra_info["per_pass_over_inference"] = round(ratio / bald.passes, 3)
    print(
        f"bald: {ratio / bald.passes:.3f}x inference per pass; target {target}x -> "
        f"{'met' if ratio <= target else 'missed'}"
    )
    benchmark.pedantic(_query, args=(bald, context), rounds=1, iterations=1)
