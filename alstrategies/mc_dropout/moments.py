"""Streaming consumers of the stochastic passes: :class:`PassAccumulator`, :class:`WelfordMoments`
(Mean STD) and :class:`EntropySums` (BALD)."""

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


class EntropySums:
    """Per-pixel running sums over the passes of the softmax and of its entropy (BALD's statistics).

    After ``T`` updates :attr:`probs_sum` is ``sum_t p_t`` (``B x C x H x W``) and
    :attr:`entropy_sum` is ``sum_t H(p_t)`` with ``H(p) = -sum_c p_c log p_c`` (``B x H x W``,
    nats); :meth:`mutual_information` turns them into ``H(mean_t p_t) - mean_t H(p_t)``. A pass
    costs one ``log`` per element: ``p log max(p, tiny)`` is exactly 0 where ``p = 0`` (and
    ``torch.special.entr``, which branches per element, is twice as slow on the CPU). With a
    :class:`Workspace` the sums and the scratch of ``p log p`` live in its ``"probs_sum"``,
    ``"entropy_sum"``, ``"plogp"`` and ``"entropy_pass"`` buffers (reused by the next batch).

    Args:
        workspace: Where to keep the sums; fresh tensors when ``None``.
    """

    def __init__(self, workspace: Workspace | None = None) -> None:
        self.workspace = workspace
        self.count = 0
        self.probs_sum = torch.empty(0)
        self.entropy_sum = torch.empty(0)

    def _buffer(self, key: str, shape: torch.Size) -> torch.Tensor:
        if self.workspace is None:
            return torch.empty(shape)
        return self.workspace.get(key, shape)

    def update(self, t: int, probs: torch.Tensor) -> None:
        """Fold pass ``t`` in (``probs`` is read only)."""
        self.count = t
        plogp = self._buffer("plogp", probs.shape)
        torch.clamp_min(probs, torch.finfo(probs.dtype).tiny, out=plogp)
        plogp.log_().mul_(probs)  # p log p, 0 where p = 0
        if t == 1:
            self.probs_sum = self._buffer("probs_sum", probs.shape).copy_(probs)
            self.entropy_sum = self._buffer("entropy_sum", probs.shape[:1] + probs.shape[2:])
            torch.sum(plogp, dim=1, out=self.entropy_sum).neg_()
            return
        self.probs_sum.add_(probs)
        entropy_pass = self._buffer("entropy_pass", self.entropy_sum.shape)
        self.entropy_sum.sub_(torch.sum(plogp, dim=1, out=entropy_pass))

    def mutual_information(self) -> torch.Tensor:
        """Per pixel ``H(mean_t p_t) - mean_t H(p_t)``, ``B x H x W``, clamped at 0 (float rounding).

        Computed in place in the sums: call once, after the last pass.
        """
        mean = self.probs_sum.div_(self.count)
        predictive = torch.special.entr(mean, out=mean).sum(dim=1)
        return predictive.sub_(self.entropy_sum.div_(self.count)).clamp_min_(0.0)
