"""GPU throughput (skipped without CUDA): the shared trainer against the plain fp32 loop at
256 x 256, SBCNet width 16, batch 16, and the total throughput of packed chains."""

from __future__ import annotations

import pytest
import torch

from benchmarks.perf.gpu_throughput import Setting, measure

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_trainer_throughput_over_plain_fp32_loop_and_packing(benchmark, report_ratio):
    """Targets: the trainer at least 2x the plain fp32 loop's images/s; packing lifts the total."""
    figures = benchmark.pedantic(lambda: measure(Setting(), chains=(1, 2, 4)), rounds=1, iterations=1)
    per_second = figures.images_per_second
    print(f"\n{figures.device_name}, torch {figures.torch_version}: {per_second}")
    report_ratio(
        "shared_trainer_images_per_second_over_plain_fp32",
        per_second["shared_trainer"],
        per_second["plain_fp32_loop"],
    )
    for chains in (2, 4):
        report_ratio(
            f"packed_{chains}_over_one_chain", per_second[f"packed_{chains}"], per_second["packed_1"]
        )
