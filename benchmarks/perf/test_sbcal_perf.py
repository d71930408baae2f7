"""SBC-AL's query against one plain inference pass of the same network over the same pool.

The issue's target: scoring the pool with ``sbc_al`` (forward pass + distance maps + SCS + BCS)
costs at most 1.5x the forward passes alone. The network is trained briefly first so that its
predictions look like a real round's (an untrained one predicts a single class everywhere,
which makes every distance transform trivial). The ratio is recorded, not asserted: a speed
figure on a shared machine is a report, not a pass/fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alstrategies.data.synthetic import load_synthetic
from alstrategies.models import build_model
from alstrategies.sbcal import distance_maps
from alstrategies.sbcal.loss import SBCCriterion
from alstrategies.sbcal.strategy import SBCALStrategy
from alstrategies.strategy import QueryContext
from alstrategies.training.trainer import TrainConfig, Trainer
from benchmarks.perf.conftest import interleaved

POOL = 256
SIZE = 48
WIDTH = 8
BATCH = 64
TRAIN_ITERATIONS = 150


def _trained_context(device: torch.device) -> QueryContext:
    data = load_synthetic(image_size=SIZE, train_patients=POOL // 8, test_patients=1, slices_per_patient=8)
    images = torch.from_numpy(data.pool_images[:POOL])
    labels = torch.from_numpy(data.pool_labels[:POOL].astype(np.int64))
    model = build_model({"width": WIDTH, "heads": "sbc"}, data.num_classes, seed=0)
    labeled = np.arange(0, POOL, 4)
    targets = {"labels": labels[labeled], "distance": distance_maps(labels[labeled], data.num_classes)}
    config = TrainConfig(iterations=TRAIN_ITERATIONS, batch_size=8, lr=0.05, sfp_lr=0.05, device=str(device))
    Trainer(config, device).fit(model, images[labeled], targets, SBCCriterion(), seed=0)
    model.eval()
    return QueryContext(
        model=model,
        pool_images=images.to(device),
        labeled=np.zeros(0, dtype=np.int64),
        unlabeled=np.arange(POOL),
        num_classes=data.num_classes,
        device=device,
        batch_size=BATCH,
    )


@pytest.mark.parametrize("device_name", ["cpu", "cuda"])
def test_sbcal_query_over_plain_inference(benchmark, report_ratio, device_name: str) -> None:
    if device_name == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    device = torch.device(device_name)
    default_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # training many small batches: one thread is faster on 2 busy cores
    try:
        context = _trained_context(device)
    finally:
        torch.set_num_threads(default_threads)
    strategy = SBCALStrategy()

    def synchronize() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def plain_inference() -> None:
        with torch.inference_mode():
            for _, images in context.batches():
                context.model(images).logits.max(dim=1)  # the forward pass and a label map
        synchronize()

    def sbcal_query() -> None:
        strategy.score_pool(context)
        synchronize()

    sbcal_query()  # warm-up (allocator, lazy imports)
    benchmark.extra_info["device"] = device_name
    benchmark.extra_info["pool"] = f"{POOL} x 1 x {SIZE} x {SIZE}, SBCNet(unet, width {WIDTH}), batch {BATCH}"
    thread_counts = sorted({1, default_threads}) if device.type == "cpu" else [default_threads]
    try:
        for threads in thread_counts:
            torch.set_num_threads(threads)
            times = interleaved({"plain": plain_inference, "sbc_al": sbcal_query}, repeats=5)
            name = f"sbc_al_query_over_plain_inference_{device_name}_{threads}_threads"
            report_ratio(name, times["sbc_al"], times["plain"])
    finally:
        torch.set_num_threads(default_threads)
    scores, details = strategy.score_pool(context)
    benchmark.extra_info["mean_bcs"] = round(float(details["bcs"].mean()), 4)
    assert np.isfinite(scores).all()
    benchmark.pedantic(sbcal_query, rounds=3, iterations=1)
