"""Streaming consumers of the stochastic passes: :class:`PassAccumulator` and :class:`WelfordMoments`."""

from __future__ import annotations

from typing import Protocol

import torch

from alstrategies.mc_dropout.workspace import Workspace


class PassAccumulator(Protocol):
    """A streaming consumer of the stochastic passes of one batch (:meth:`MCDropoutSampler.accumulate`)."""

    def update(self, t: int, probs: torch.Tensor) -> None:
        """Take in pass ``t``.

        Args:
            t: The pass number, 1 for the first pass of a batch, then 2, 3, ...
            probs: ``B x C x H x W`` softmax of pass ``t``. It is a scratch buffer that the next
                pass overwrites: copy what must outlive this call; it may be modified in place.
        """


class WelfordMoments:
    """Per-element running mean and sum of squared deviations over the passes (Welford's update).

    After ``T`` updates :attr:`mean` is the mean of the passes and :attr:`m2` the sum of their
    squared deviations from it; :meth:`std` gives the population standard deviation. With a
    :class:`Workspace` both live in its ``"mean"`` and ``"m2"`` buffers (reused by the next batch).

    Args:
        workspace: Where to keep :attr:`mean` and :attr:`m2`; fresh tensors when ``None``.
    """

    def __init__(self, workspace: Workspace | None = None) -> None:
        self.workspace = workspace
        self.count = 0
        self.mean = torch.empty(0)
        self.m2 = torch.empty(0)

    def update(self, t: int, probs: torch.Tensor) -> None:
        """Fold pass ``t`` in (``probs`` is used as scratch space and left modified)."""
        self.count = t
        if t == 1:
            if self.workspace is None:
                self.mean, self.m2 = torch.empty_like(probs), torch.empty_like(probs)
            else:
                self.mean, self.m2 = (self.workspace.get(key, probs.shape) for key in ("mean", "m2"))
            self.mean.copy_(probs)
            self.m2.zero_()
            return
        delta = probs.sub_(self.mean)  # x - mean_{t-1}
        self.mean.add_(delta, alpha=1.0 / t)
        self.m2.addcmul_(delta, delta, value=(t - 1) / t)  # (x - mean_{t-1}) (x - mean_t)

    def std(self) -> torch.Tensor:
        """The population standard deviation over the passes, computed in place in :attr:`m2`.

        Returns:
            ``sqrt(m2 / T)``, the :attr:`m2` tensor itself: call once, after the last pass.
        """
        return self.m2.div_(self.count).sqrt_()
