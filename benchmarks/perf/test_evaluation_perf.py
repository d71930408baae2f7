"""The evaluation of one training: ``class_argmax`` against ``argmax(dim=1)`` on logits of an
ACDC volume's size, and a whole evaluation against the forward passes it contains."""

from __future__ import annotations

import numpy as np
import torch

from alstrategies.evaluation import class_argmax, evaluate
from alstrategies.models import build_model
from alstrategies.types import Volume
from benchmarks.perf.conftest import interleaved

CPU = torch.device("cpu")


def test_class_argmax_against_argmax_over_channels(benchmark, report_ratio):
    """Target: at most 0.5x of ``argmax(dim=1)``, the same labels (10 slices x 4 classes at
    ACDC's typical 232 x 256)."""
    logits = torch.randn(10, 4, 232, 256, generator=torch.Generator().manual_seed(0))
    assert torch.equal(class_argmax(logits), logits.argmax(dim=1))
    times = interleaved({"ours": lambda: class_argmax(logits), "argmax": lambda: logits.argmax(dim=1)}, 5)
    benchmark.pedantic(class_argmax, args=(logits,), rounds=1, iterations=1)
    assert report_ratio("class_argmax / argmax(dim=1)", times["ours"], times["argmax"]) <= 0.5


def test_evaluation_against_its_forward_passes(benchmark, report_ratio):
    """Reported: a Dice + HD95 evaluation of 8 volumes (10 slices of 232 x 256, model at 64 x 64)
    against the forward passes alone (upsampling and metrics are the rest)."""
    rng = np.random.default_rng(0)
    volumes = []
    for index in range(8):
        label = np.zeros((10, 232, 256), dtype=np.uint8)
        label[:, 80:150, 90:170] = 1
        label[:, 95:135, 105:155] = 2
        label[:, 105:125, 115:145] = 3
        image = rng.random((10, 64, 64), dtype=np.float32)
        volumes.append(Volume(name=f"v{index}", image=image, label=label, spacing=(10.0, 1.5, 1.5)))
    model = build_model({"width": 8, "heads": "sbc"}, 4, seed=0).eval()

    def forward_only() -> None:
        with torch.inference_mode():
            for volume in volumes:
                model(torch.from_numpy(volume.image)[:, None])

    def evaluation() -> None:
        evaluate(model, volumes, 4, CPU, 64, amp=False)

    times = interleaved({"evaluate": evaluation, "forward": forward_only}, 3)
    benchmark.pedantic(evaluation, rounds=1, iterations=1)
    report_ratio("evaluation / forward passes", times["evaluate"], times["forward"])
