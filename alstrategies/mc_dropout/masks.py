"""Dropout masks from a seeded numpy stream, and :func:`fast_dropout`, which makes ``nn.Dropout`` use them.

On the CPU every element-wise ``nn.Dropout`` in train mode draws its mask from a seeded numpy
``SFC64`` stream (:class:`DropoutMasks`) instead of torch's float Bernoulli kernel and scales by
``1 / (1 - p)`` rounded as torch rounds it (:func:`dropout_scale`), so a kept element has exactly
the value ``nn.Dropout`` gives it.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from alstrategies.mc_dropout.workspace import Workspace

#: Calls of one dropout module per pass that get a reused output buffer (then new tensors).
_MAX_CALLS_PER_PASS = 8
#: The integer type of each floating element size, to write a float's bit pattern.
_INT_OF_SIZE = {2: torch.int16, 4: torch.int32, 8: torch.int64}


class DropoutMasks:
    """Element-wise Bernoulli dropout masks from one seeded numpy ``SFC64`` stream (CPU).

    An element is dropped with probability exactly ``p`` (to double precision) as the union of
    two independent events: its own 8 random bits ``u`` fall below ``a = floor(256 p)``
    (probability ``a / 256``), or it is hit by a sparse Bernoulli field of rate
    ``q = (256 p - a) / (256 - a) < 1 / (256 - a)`` (:meth:`sparse_hits`: a few thousand hits
    for the phantom U-Net's level-0 maps); ``a / 256 + (1 - a / 256) q = p``. torch's
    CPU kernel instead compares a 24-bit float draw per element with ``1 - p``. The draws are made
    in call order, so a stream seeded alike gives the same masks for the same calls.
    """

    def __init__(self, seed: int) -> None:
        self.generator = np.random.Generator(np.random.SFC64(seed))
        self._bits: dict[tuple[float, torch.dtype], int] = {}  # a scale's bit pattern

    @staticmethod
    def split(p: float) -> tuple[int, float]:
        """``(a, q)``: drop when the byte is below ``a`` or, independently, with probability ``q``."""
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must lie in [0, 1], got {p}")
        if p == 1.0:
            return 256, 0.0
        a = math.floor(256 * p)
        return a, (256 * p - a) / (256 - a)

    def sparse_hits(self, numel: int, q: float) -> np.ndarray:
        """Indices in ``[0, numel)``, each hit independently with probability ``q`` (may repeat).

        A Poisson(``-numel log(1 - q)``) number of uniform draws: by Poisson splitting the counts
        of the indices are independent Poisson(``-log(1 - q)``), so an index is hit (count >= 1)
        with probability exactly ``q``, independently of the others.
        """
        if q <= 0.0 or numel == 0:
            return np.empty(0, dtype=np.int64)
        hits = self.generator.poisson(-numel * math.log1p(-q))
        return self.generator.integers(0, numel, size=hits, dtype=np.int64)

    def noise(
        self, like: torch.Tensor, p: float, scale: float = 1.0, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """A contiguous tensor of the shape and dtype of ``like`` (new, or ``out``): ``scale``
        where an element is kept, 0 where it is dropped (torch's dropout ``noise`` when
        ``scale = 1 / (1 - p)``)."""
        numel = like.numel()
        a, q = self.split(p)
        raw = self.generator.bit_generator.random_raw(-(-numel // 8)).view(np.uint8)[:numel]
        keep = torch.from_numpy(raw).ge_(a)  # bytes, 1 = kept, 0 = dropped
        hits = self.sparse_hits(numel, q)
        if hits.size:
            keep.index_fill_(0, torch.from_numpy(hits), 0)
        noise = torch.empty(like.shape, dtype=like.dtype) if out is None else out
        if scale == 1.0:
            noise.view(-1).copy_(keep)
            return noise
        # written as integers: 0 or the bit pattern of ``scale`` (0 * bits is the bits of +0.0),
        # two vectorised passes where a float comparison and scaling take three
        bits_dtype = _INT_OF_SIZE[noise.element_size()]
        key = (scale, noise.dtype)
        if key not in self._bits:
            self._bits[key] = int(torch.tensor(scale, dtype=noise.dtype).view(bits_dtype))
        noise.view(bits_dtype).view(-1).copy_(keep).mul_(self._bits[key])
        return noise


def dropout_scale(p: float, dtype: torch.dtype = torch.float32) -> float:
    """``1 / (1 - p)`` rounded as torch's CPU dropout rounds it (a ``dtype`` division)."""
    return float(torch.ones(1, dtype=dtype).div_(1 - p)[0])


def _fast_forward(
    module: nn.Dropout, masks: DropoutMasks, original: Callable, workspace: Workspace | None
) -> Callable:
    scales: dict[tuple[float, torch.dtype], float] = {}
    calls = {"pass": -1, "count": 0}  # calls of this module in the current pass
    # the last input (weakly) and, once it comes back, ``input * scale`` kept in the workspace
    repeat: dict[str, Any] = {"input": None, "p": None, "scaled": None}

    def forward(x: torch.Tensor) -> torch.Tensor:
        p = module.p
        if not (module.training and 0.0 < p < 1.0 and x.device.type == "cpu" and x.is_floating_point()):
            return original(x)  # torch's own: eval mode, p = 0 or 1, other devices and dtypes
        key = (p, x.dtype)
        if key not in scales:
            scales[key] = dropout_scale(p, x.dtype)
        out = None
        if workspace is not None and workspace.device.type == "cpu":
            if calls["pass"] != workspace.passes:
                calls.update({"pass": workspace.passes, "count": 0})
            calls["count"] += 1
            if calls["count"] <= _MAX_CALLS_PER_PASS:  # beyond: next_pass is not being called
                out = workspace.get(("dropout", id(module), calls["count"]), x.shape, x.dtype)
            last = repeat["input"]
            if not module.inplace and last is not None and last() is x and repeat["p"] == p:
                # the same input as last time (a cached prefix): scaled once, then each pass
                # keep * (input * scale), the same bits as input * (keep * scale)
                if repeat["scaled"] is None:
                    buffer = workspace.get(("scaled", id(module)), x.shape, x.dtype)
                    repeat["scaled"] = torch.mul(x, scales[key], out=buffer)
                return masks.noise(x, p, 1.0, out=out).mul_(repeat["scaled"])
            repeat.update(input=weakref.ref(x), p=p, scaled=None)
        noise = masks.noise(x, p, scales[key], out=out)
        # torch's CPU dropout is input * noise with noise = bernoulli(1 - p) / (1 - p); the
        # product goes into the noise tensor
        return x.mul_(noise) if module.inplace else noise.mul_(x)

    return forward


@contextmanager
def fast_dropout(model: nn.Module, seed: int, workspace: Workspace | None = None) -> Iterator[DropoutMasks]:
    """Inside the block every ``nn.Dropout`` of ``model`` in train mode draws the masks of its
    CPU floating inputs from one :class:`DropoutMasks` stream seeded with ``seed``.

    Only exact ``nn.Dropout`` instances (element-wise) are switched, by an instance attribute
    ``forward`` that is removed on exit (hooks still run); ``Dropout1d/2d/3d``, the alpha
    dropouts and inputs on other devices (fused kernels on CUDA) use torch's own dropout.
    With a ``workspace``, the outputs are written to its buffers, one per module and call in a
    pass, and so only live until the same call of the next pass (:meth:`Workspace.next_pass`);
    a module that gets the very same input tensor as in its previous call (the output of a
    cached prefix) scales it once and only multiplies by the 0/1 mask afterwards, which assumes,
    as :func:`cached_prefixes` does, that the tensor is not modified in place meanwhile.
    """
    masks = DropoutMasks(seed)
    switched = [module for module in model.modules() if type(module) is nn.Dropout]
    for module in switched:
        module.forward = _fast_forward(module, masks, type(module).forward.__get__(module), workspace)  # type: ignore[method-assign]
    try:
        yield masks
    finally:
        for module in switched:
            module.__dict__.pop("forward", None)
