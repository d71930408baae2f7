"""BADGE's query at ACDC's pool size against one inference pass, side by side, and its memory.

The pool has ACDC's 1312 training slices (the phantom, 164 patients x 8 slices at 48 x 48, the
resolution of the committed CPU ACDC runs), 6.67 % labeled, k = 3.33 % of the pool, a width-16
plain U-Net and query batch 64. The factorised embedding (one ``einsum`` per batch,
``docs/baselines.md``, "BADGE") should cost next to nothing beside the forward pass; the
k-means++ seeding runs on the ``pool x (C * D)`` embeddings only. Target: at most 1.1x one
inference pass (recorded and asserted), peak RSS of a process that runs one query under 1 GB
(asserted), and the seeding's numpy peak (tracemalloc) recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest
import torch

from alstrategies.baselines.badge import BADGEStrategy, kmeans_pp_seeding
from alstrategies.data.synthetic import load_synthetic
from alstrategies.models import build_model
from alstrategies.strategy import QueryContext

SIZE = 48
PATIENTS = 164  # x 8 slices = 1312, ACDC's training pool
POOL = PATIENTS * 8
LABELED = round(0.0667 * POOL)
K = round(0.0333 * POOL)
QUERY_BATCH = 64
WIDTH = 16
RSS_LIMIT_MB = 1024

#: Run in a fresh process: build the pool and model, optionally one BADGE query, print peak RSS.
RSS_SCRIPT = """
import json, resource, sys
import torch
torch.set_num_threads(1)
from benchmarks.perf.test_badge_perf import acdc_sized_context, inference_pass, query
context = acdc_sized_context()
(query if sys.argv[1] == "badge" else inference_pass)(context)
print(json.dumps({"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def acdc_sized_context() -> QueryContext:
    """1312 phantom slices of 48 x 48, 6.67 % labeled, a seeded width-16 plain U-Net in eval mode."""
    images = torch.from_numpy(
        load_synthetic(image_size=SIZE, train_patients=PATIENTS, test_patients=1).pool_images
    )
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
    """The reference: one plain eval-mode forward pass over the unlabeled pool, nothing else."""
    with torch.inference_mode():
        for _, images in context.batches():
            context.model(images)


def query(context: QueryContext) -> np.ndarray:
    """One BADGE query of ``K`` images."""
    return BADGEStrategy().query(context, K, np.random.default_rng(0)).indices


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


def peak_rss_mb(mode: str) -> float:
    """Peak RSS (MB) of a fresh one-thread process that runs ``mode`` ("badge" or "inference")."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": root}
    done = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, mode],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        check=True,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["max_rss_mb"])


@pytest.fixture(scope="module")
def context() -> QueryContext:
    return acdc_sized_context()


def test_badge_query_over_inference(benchmark, report_ratio, context):
    """Target <= 1.1x one inference pass; peak RSS of a query process under 1 GB."""
    query(context)  # warm-up
    ours, reference = interleaved_best(lambda: inference_pass(context), lambda: query(context), repeats=3)
    ratio = report_ratio("badge_query_over_inference", ours, reference)
    embeddings = BADGEStrategy().embed_pool(context)
    tracemalloc.start()
    seeding_start = time.perf_counter()
    kmeans_pp_seeding(embeddings, K, np.random.default_rng(0))
    seeding = time.perf_counter() - seeding_start
    seeding_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rss_badge, rss_inference = peak_rss_mb("badge"), peak_rss_mb("inference")
    benchmark.extra_info.update(
        pool=POOL,
        unlabeled=int(context.unlabeled.size),
        k=K,
        embedding_floats=int(embeddings.size),
        seeding_seconds=round(seeding, 4),
        seeding_numpy_peak_mb=round(seeding_peak, 2),
        badge_peak_rss_mb=round(rss_badge, 1),
        inference_peak_rss_mb=round(rss_inference, 1),
        target=1.1,
        meets_target=bool(ratio <= 1.1),
    )
    print(
        f"badge: {ratio:.3f}x inference ({ours:.2f}s vs {reference:.2f}s); seeding {seeding * 1e3:.1f} ms, "
        f"numpy peak {seeding_peak:.2f} MB; peak RSS {rss_badge:.0f} MB (inference only: {rss_inference:.0f} MB)"
    )
    benchmark.pedantic(
        kmeans_pp_seeding, args=(embeddings, K, np.random.default_rng(0)), rounds=5, iterations=1
    )
    assert rss_badge < RSS_LIMIT_MB
    assert ratio <= 1.1
