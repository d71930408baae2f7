"""Shared fixtures: tiny configs and datasets that keep the suite fast on 2 CPU cores."""

from __future__ import annotations

import pytest
import torch

from alstrategies.config import load_config

torch.set_num_threads(1)  # tests are many small ops: one thread avoids oversubscription

TINY = [
    "data.image_size=32",
    "data.train_patients=6",
    "data.test_patients=2",
    "data.slices_per_patient=5",
    "model.width=4",
    "train.iterations=3",
    "train.batch_size=4",
    "protocol.seeds=[0]",
    "protocol.initial_fraction=0.2",
    "protocol.step_fraction=0.1",
    "protocol.final_fraction=0.4",
]


@pytest.fixture(scope="session")
def tiny_overrides() -> list[str]:
    """The overrides behind :func:`tiny_config`, for fixtures of a wider scope."""
    return [*TINY, "model.heads=plain"]


@pytest.fixture
def tiny_config(tiny_overrides):
    """A validated config for a 30-slice phantom and a width-4 U-Net (plain heads)."""

    def make(*overrides: str) -> dict:
        return load_config(None, [*tiny_overrides, *overrides])

    return make
