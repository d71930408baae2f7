"""The check that a query leaves the model alone: weights, BatchNorm statistics, module modes."""

from __future__ import annotations

import torch
from torch import nn

from alstrategies.conformance.fixtures import tiny_context
from alstrategies.conformance.harness import _preview, run_query
from alstrategies.conformance.subject import Subject


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def check_model_left_unchanged(subject: Subject) -> None:
    """No weight, BatchNorm statistic or module mode changes, from train or eval mode."""
    for training in (False, True):
        model = subject.model().train(training)
        modes = [module.training for module in model.modules()]
        before = _state(model)
        run_query(subject.strategy(), tiny_context(model), k=5)
        mode = "train" if training else "eval"
        flipped = sum(m != module.training for m, module in zip(modes, model.modules(), strict=True))
        assert not flipped, (
            f"the query left {flipped} module(s) of a model in {mode} mode in another mode; "
            "restore every module's mode (ScoreStrategy.score does)"
        )
        after = _state(model)
        changed = [key for key, value in before.items() if not torch.equal(value, after[key])]
        assert not changed, (
            f"the query changed {_preview(changed, 3)} of a model in {mode} mode; run inference in "
            "eval mode under torch.inference_mode() and never step the model's optimiser"
        )
