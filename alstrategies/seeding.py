"""Seeding torch from a strategy's numpy generator without disturbing the caller's torch state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def torch_seed(rng: np.random.Generator) -> int:
    """One 63-bit torch seed drawn from the query's generator.

    Args:
        rng: The generator the harness passed to the query; one integer is drawn from it.

    Returns:
        A seed in ``[0, 2**63 - 1)``.
    """
    return int(rng.integers(0, 2**63 - 1))


@contextmanager
def seeded_torch(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global generators with ``seed`` inside the block and restore them after.

    The CPU generator is always forked; on CUDA every visible device's generator is too.

    Args:
        seed: The seed given to ``torch.manual_seed`` inside the block.
        device: The device the block computes on (``cuda`` forks the CUDA generators as well).
    """
    devices = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
