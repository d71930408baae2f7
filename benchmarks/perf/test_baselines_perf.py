"""Each baseline's query time over one plain inference pass on the same pool, side by side.

The pool is the phantom benchmark's (384 slices of 48 x 48, query batch 64) and the model that
of ``benchmarks/configs/synthetic.toml`` (width 8, its ``model.heads``), then the plain U-Net of
the same width. Targets: max_entropy, least_confidence
and margin within 1.1x of one inference pass (asserted); mean_std within (T + 0.5)x (recorded,
with page faults: see its test); VAAL's per-round cost (it trains a VAE and a discriminator) is
reported as a ratio and in seconds. Timings are
the fastest of interleaved repeats, so that a busy machine slows both sides alike.
"""

from __future__ import annotations

import resource
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch

from alstrategies.baselines.mean_std import MeanSTDStrategy
from alstrategies.baselines.uncertainty import LeastConfidenceStrategy, MarginStrategy, MaxEntropyStrategy
from alstrategies.baselines.vaal import VAALStrategy
from alstrategies.data.synthetic import load_synthetic
from alstrategies.models import build_model
from alstrategies.strategy import QueryContext, QueryStrategy, ScoreStrategy, reduce_pixels
from alstrategies.types import ModelOutput

SIZE = 48
QUERY_BATCH = 64
LABELED = 26  # 6.67 % of the 384-slice pool
K = 13  # + 3.33 %


PHANTOM_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "synthetic.toml"


def phantom_model_config() -> dict:
    """The ``[model]`` section of the phantom benchmark's config (width 8; its heads)."""
    return tomllib.loads(PHANTOM_CONFIG.read_text())["model"]


class Setting(NamedTuple):
    label: str  # the model's heads: "sbc_heads" or "plain_heads"
    context: QueryContext


@pytest.fixture(scope="module", params=["config", "plain"])
def setting(request) -> Setting:
    """The phantom pool with the benchmark config's model, then with the plain U-Net of that width."""
    images = torch.from_numpy(load_synthetic(image_size=SIZE).pool_images)
    labeled = np.sort(np.random.default_rng(0).choice(images.shape[0], LABELED, replace=False))
    model_config = phantom_model_config()
    if request.param == "plain":
        if model_config.get("heads", "plain") == "plain":
            pytest.skip("the benchmark config's model already has plain heads")
        model_config = {**model_config, "heads": "plain"}
    model = build_model(model_config, 4, seed=0).eval()
    context = QueryContext(
        model=model,
        pool_images=images,
        labeled=labeled,
        unlabeled=np.setdiff1d(np.arange(images.shape[0]), labeled),
        num_classes=4,
        batch_size=QUERY_BATCH,
    )
    return Setting(f"{model_config.get('heads', 'plain')}_heads", context)


def inference_pass(context: QueryContext) -> None:
    """The reference: one plain eval-mode forward pass over the unlabeled pool, nothing else."""
    with torch.inference_mode():
        for _, images in context.batches():
            context.model(images)


def interleaved_best(
    reference: Callable[[], object], ours: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Fastest of ``repeats`` alternating runs of each (seconds): ``(ours, reference)``."""
    best_ref = best_ours = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        reference()
        best_ref = min(best_ref, time.perf_counter() - start)
        start = time.perf_counter()
        ours()
        best_ours = min(best_ours, time.perf_counter() - start)
    return best_ours, best_ref


def _query(strategy: QueryStrategy, context: QueryContext) -> None:
    torch.manual_seed(0)
    strategy.query(context, K, np.random.default_rng(0))


def _score_only(strategy: ScoreStrategy, outputs: list[ModelOutput]) -> None:
    """Only the strategy's own work on precomputed model outputs: score maps and reduction."""
    with torch.inference_mode():
        for output in outputs:
            reduce_pixels(strategy.compute_score(output), strategy.reduction).cpu()


@pytest.mark.parametrize(
    ("name", "factory"),
    [
        ("max_entropy", MaxEntropyStrategy),
        ("least_confidence", LeastConfidenceStrategy),
        ("margin", MarginStrategy),
    ],
)
def test_uncertainty_query_over_inference(benchmark, report_ratio, setting, name, factory):
    """Target <= 1.1x: the score maps and reduction cost next to nothing beside the forward pass.

    The whole query is timed against the inference pass (wall clock, noisy on a shared machine),
    and the scoring alone on precomputed outputs (``*_scoring_over_inference``: the overhead).
    """
    label, pool_context = setting
    benchmark.extra_info["model"] = label
    print(f"\n[{label}]", end="")
    strategy = factory()
    inference_pass(pool_context)  # warm-up
    ours, reference = interleaved_best(
        lambda: inference_pass(pool_context), lambda: _query(strategy, pool_context), repeats=15
    )
    ratio = report_ratio(f"{name}_query_over_inference", ours, reference)
    with torch.inference_mode():
        outputs = [pool_context.model(images) for _, images in pool_context.batches()]
    scoring, reference = interleaved_best(
        lambda: inference_pass(pool_context), lambda: _score_only(strategy, outputs), repeats=5
    )
    report_ratio(f"{name}_scoring_over_inference", scoring, reference)
    benchmark.extra_info.update(target=1.1, meets_target=bool(ratio <= 1.1))
    benchmark.pedantic(_query, args=(strategy, pool_context), rounds=3, iterations=1)
    assert ratio <= 1.1


def test_mean_std_query_over_inference(benchmark, report_ratio, setting):
    """Target (T + 0.5)x for T stochastic passes; recorded, not asserted: on this CPU a pass
    costs 1.00-1.06x (SBC heads) and 1.03-1.12x (plain heads) an eval-mode pass, so the target
    is met or missed by a few percent, within the timing noise of the shared machine
    (docs/baselines.md, "Speed").

    Also recorded: the minor page faults of one query per pass and of one inference pass, since
    glibc returning memory to the system between passes and faulting it back in costs up to a
    fifth of a pass on this virtual machine, on either side.
    """
    label, pool_context = setting
    benchmark.extra_info["model"] = label
    print(f"\n[{label}]", end="")
    strategy = MeanSTDStrategy()  # T = 10
    ours, reference = interleaved_best(
        lambda: inference_pass(pool_context), lambda: _query(strategy, pool_context), repeats=3
    )
    ratio = report_ratio("mean_std_query_over_inference", ours, reference)
    target = strategy.passes + 0.5
    benchmark.extra_info.update(target=target, passes=strategy.passes, meets_target=bool(ratio <= target))
    benchmark.extra_info["per_pass_over_inference"] = round(ratio / strategy.passes, 3)
    before = _minor_faults()
    inference_pass(pool_context)
    faults = _minor_faults() - before
    benchmark.extra_info["inference_page_faults"] = faults
    print(
        f"mean_std: {ratio / strategy.passes:.3f}x inference per pass; target {target}x -> "
        f"{'met' if ratio <= target else 'missed'}"
    )
    before = _minor_faults()
    benchmark.pedantic(_query, args=(strategy, pool_context), rounds=1, iterations=1)
    per_pass = (_minor_faults() - before) // strategy.passes
    benchmark.extra_info["query_page_faults_per_pass"] = per_pass
    print(f"minor page faults: {per_pass} per stochastic pass, {faults} per inference pass")


def _minor_faults() -> int:
    """Minor page faults of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def test_vaal_round_over_inference(benchmark, report_ratio, setting):
    """Reported, no target: a VAAL round trains a VAE and a discriminator from scratch (it never
    runs the segmentation model, so one setting is enough)."""
    label, pool_context = setting
    if label == "plain_heads" and phantom_model_config().get("heads", "plain") != "plain":
        pytest.skip("VAAL does not use the segmentation model: measured with the config's model only")
    benchmark.extra_info["model"] = label
    print(f"\n[{label}]", end="")
    strategy = VAALStrategy()
    ours, reference = interleaved_best(
        lambda: inference_pass(pool_context), lambda: _query(strategy, pool_context), repeats=2
    )
    report_ratio("vaal_round_over_inference", ours, reference)
    benchmark.extra_info["vaal_round_seconds"] = round(ours, 3)
    benchmark.extra_info["vaal_iterations"] = strategy.history.iterations
    benchmark.extra_info["inference_seconds"] = round(reference, 4)
    print(f"vaal round: {ours:.2f}s for {strategy.history.iterations} iterations; inference {reference:.3f}s")
    benchmark.pedantic(_query, args=(strategy, pool_context), rounds=1, iterations=1)
