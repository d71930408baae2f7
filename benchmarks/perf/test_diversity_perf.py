"""CoreSet and TypiClust at ACDC's pool size against one inference pass, side by side; and memory.

The pool has ACDC's 1312 training slices at the working size of the CPU ACDC presets
(``data.image_size`` of ``benchmarks/configs/acdc_cpu.toml``, now 64 x 64; ``ALS_PERF_SIZE``
overrides it) and the model is a plain width-16 U-Net (DESIGN's width; ``D = 16 * 16 = 256``
pooled bottleneck features). The query is the protocol's last one (30 % labeled, k = 3.33 % of
the pool), where CoreSet has the most centres and TypiClust the most clusters. Three figures per
strategy, interleaved with the fastest of the repeats kept:

- ``*_selection_over_inference``: the strategy's own work on random features of the right
  ``D`` (k-center; k-means + typicality + picks) over one inference pass of the whole pool;
- ``*_query_over_inference``: the whole query (its inference pass for the embeddings included);
- memory: the numpy peak of the selection (``tracemalloc``) and the process's peak RSS
  (``ru_maxrss``), both under 1 GB. The distance matrices are chunked (``pool x 256`` floats at
  a time), never ``pool x pool``.

The selection's cost depends on the pool size and ``D`` only, the inference pass's on the image
size too: at 256 x 256 the pass is about 30x longer on this CPU, so the ratios shrink further.
"""

from __future__ import annotations

import os
import resource
import sys
import tomllib
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from alstrategies.baselines.coreset import CoreSetStrategy, coreset_selection
from alstrategies.baselines.typiclust import TypiClustStrategy
from alstrategies.models import build_model
from alstrategies.strategy import QueryContext
from benchmarks.perf.conftest import interleaved

POOL = 1312  # ACDC's 70 training patients, ED and ES frames, all slices
WIDTH = 16
FEATURES = 16 * WIDTH
LABELED = round(0.30 * POOL)  # before the last query (30 % -> 33.33 %)
K = round(0.0333 * POOL)
QUERY_BATCH = 64
GIB = 1024**3
ACDC_CPU = Path(__file__).resolve().parents[1] / "configs" / "acdc_cpu.toml"


def working_size() -> int:
    """``ALS_PERF_SIZE``, else ``data.image_size`` of the CPU ACDC preset."""
    if "ALS_PERF_SIZE" in os.environ:
        return int(os.environ["ALS_PERF_SIZE"])
    return int(tomllib.loads(ACDC_CPU.read_text())["data"]["image_size"])


@pytest.fixture(scope="module")
def pool_context() -> QueryContext:
    size = working_size()
    generator = torch.Generator().manual_seed(0)
    images = torch.rand((POOL, 1, size, size), generator=generator)
    labeled = np.sort(np.random.default_rng(0).choice(POOL, LABELED, replace=False))
    model = build_model({"width": WIDTH, "heads": "plain"}, 4, seed=0).eval()
    return QueryContext(
        model=model,
        pool_images=images,
        labeled=labeled,
        unlabeled=np.setdiff1d(np.arange(POOL), labeled),
        num_classes=4,
        batch_size=QUERY_BATCH,
    )


def inference_pass(context: QueryContext) -> None:
    """The reference: one eval-mode forward pass over the whole pool (labeled and unlabeled)."""
    with torch.inference_mode():
        for _, images in context.batches(np.arange(POOL)):
            context.model(images)


def peak_rss_bytes() -> int:
    """The process's peak resident set size so far (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def numpy_peak(function) -> int:
    """Peak bytes traced by ``tracemalloc`` (numpy's allocations included) while ``function`` runs."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def random_features() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(POOL, FEATURES))


STRATEGIES = {
    "coreset": (
        CoreSetStrategy,
        lambda f: coreset_selection(f[:LABELED], f[LABELED:], K, np.random.default_rng(0)),
    ),
    "typiclust": (
        TypiClustStrategy,
        lambda f: TypiClustStrategy().select_embeddings(f, LABELED, K, np.random.default_rng(0)),
    ),
}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_diversity_query_over_inference(benchmark, report_ratio, pool_context, name):
    """Recorded: selection and whole query over one inference pass; asserted: memory under 1 GB."""
    factory, selection = STRATEGIES[name]
    features = random_features()
    print(
        f"\n[{name}: pool {POOL} at {working_size()}x{working_size()}, {LABELED} labeled, k = {K}, D = {FEATURES}]"
    )
    inference_pass(pool_context)  # warm-up
    rss_before = peak_rss_bytes()
    times = interleaved(
        {
            "inference": lambda: inference_pass(pool_context),
            "selection": lambda: selection(features),
            "query": lambda: factory().query(pool_context, K, np.random.default_rng(0)),
        },
        repeats=2,
    )
    rss_after = peak_rss_bytes()
    report_ratio(f"{name}_selection_over_inference", times["selection"], times["inference"])
    report_ratio(f"{name}_query_over_inference", times["query"], times["inference"])
    peak = numpy_peak(lambda: selection(features))
    print(f"{name}: numpy peak {peak / 2**20:.1f} MiB; process peak RSS {rss_after / 2**20:.0f} MiB")
    benchmark.extra_info.update(
        selection_seconds=round(times["selection"], 4),
        inference_seconds=round(times["inference"], 3),
        numpy_peak_mib=round(peak / 2**20, 1),
        peak_rss_mib=round(rss_after / 2**20),
    )
    benchmark.pedantic(selection, args=(features,), rounds=3, iterations=1)
    assert peak < GIB
    # the query did not push the process past 1 GB (a higher peak before it is another test's)
    assert rss_after < GIB or rss_after == rss_before
