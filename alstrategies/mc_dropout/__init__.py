"""Monte-Carlo dropout: T stochastic forward passes with only the dropout modules in train mode.

The machinery behind Mean STD (``alstrategies/baselines/mean_std.py``) and BALD (``alstrategies/baselines/bald.py``), for
any strategy that needs several stochastic passes per image (variation ratios, ...).
:class:`MCDropoutSampler` puts a model in MC-dropout mode (:func:`mc_dropout`: BatchNorm and
everything else stay in eval mode; ``model.train()`` would be the classic bug), seeds the masks
and runs, for one batch of images, ``passes`` forward passes whose softmax it hands to the
caller one pass at a time (:meth:`MCDropoutSampler.passes`) or to a streaming
:class:`PassAccumulator` (:meth:`MCDropoutSampler.accumulate`; :class:`WelfordMoments` keeps the
running mean and squared deviations, :class:`EntropySums` the running sums of the softmax and of
its entropy). Only one pass's softmax is alive at a time, so ``pool x C x H x W x T`` is never
materialised: memory is ``O(batch x C x H x W)`` whatever the number of passes.

On the CPU three exact shortcuts keep a stochastic pass within a few percent of an eval-mode
pass (docs/baselines.md, "Mean STD"):

- :func:`fast_dropout`: every element-wise ``nn.Dropout`` draws its mask from a seeded numpy
  ``SFC64`` stream (:class:`DropoutMasks`: 8 random bits per element, plus a sparse
  correction that makes the drop probability exactly ``p``) instead of torch's float Bernoulli
  kernel, and scales by ``1 / (1 - p)`` rounded as torch rounds it, so a kept element has
  exactly the value ``nn.Dropout`` gives it.
- :func:`cached_prefixes`: the deterministic layers at the head of a dropout block
  (conv-BN-activation before the dropout) give the same output in every pass when the block's
  input is the same tensor, as for the first U-Net block, which gets the images: computed once
  per batch.
- The long-lived buffers (that cached output, the softmax and the moments) live in anonymous
  memory maps reused across batches (:class:`Workspace`), outside malloc's heap, where a
  long-lived block between the transient feature maps makes glibc trim and re-fault memory at
  every pass.

The modules of the package, one concept each (everything is re-exported here):

- :mod:`~alstrategies.mc_dropout.mode`: :data:`DROPOUT_TYPES` and :func:`mc_dropout`;
- :mod:`~alstrategies.mc_dropout.masks`: :class:`DropoutMasks`, :func:`dropout_scale` and
  :func:`fast_dropout`;
- :mod:`~alstrategies.mc_dropout.workspace`: :func:`mapped_empty` and :class:`Workspace`;
- :mod:`~alstrategies.mc_dropout.prefixes`: :data:`DETERMINISTIC_TYPES` and
  :func:`cached_prefixes`;
- :mod:`~alstrategies.mc_dropout.moments`: :class:`PassAccumulator`, :class:`WelfordMoments` and
  :class:`EntropySums`;
- :mod:`~alstrategies.mc_dropout.sampler`: :class:`MCDropoutSampler`.
"""

from __future__ import annotations

from alstrategies.mc_dropout.masks import _INT_OF_SIZE as _INT_OF_SIZE
from alstrategies.mc_dropout.masks import _MAX_CALLS_PER_PASS as _MAX_CALLS_PER_PASS
from alstrategies.mc_dropout.masks import DropoutMasks, dropout_scale, fast_dropout
from alstrategies.mc_dropout.masks import _fast_forward as _fast_forward
from alstrategies.mc_dropout.mode import DROPOUT_TYPES, mc_dropout
from alstrategies.mc_dropout.moments import EntropySums, PassAccumulator, WelfordMoments
from alstrategies.mc_dropout.prefixes import DETERMINISTIC_TYPES, cached_prefixes
from alstrategies.mc_dropout.prefixes import _cached_forward as _cached_forward
from alstrategies.mc_dropout.prefixes import _deterministic as _deterministic
from alstrategies.mc_dropout.sampler import A, MCDropoutSampler
from alstrategies.mc_dropout.workspace import Workspace, mapped_empty

__all__ = [
    "DETERMINISTIC_TYPES",
    "DROPOUT_TYPES",
    "A",
    "DropoutMasks",
    "EntropySums",
    "MCDropoutSampler",
    "PassAccumulator",
    "WelfordMoments",
    "Workspace",
    "cached_prefixes",
    "dropout_scale",
    "fast_dropout",
    "mapped_empty",
    "mc_dropout",
]
