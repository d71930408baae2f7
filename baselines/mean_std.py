"""Mean STD: Monte-Carlo dropout disagreement (Gal et al. 2017; DESIGN section 4).

``passes`` stochastic forward passes with only the dropout modules in train mode (BatchNorm
and everything else stay in eval mode); per pixel and class the population standard deviation
of the softmax over the passes, averaged over classes, then reduced over pixels
(``reduction``). The moments are accumulated with Welford's update per batch, so memory is
``O(batch x C x H x W)`` whatever the number of passes or the pool size.

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
- The long-lived buffers (that cached output, the softmax and the Welford moments) live in
  anonymous memory maps reused across batches (:class:`Workspace`), outside malloc's heap,
  where a long-lived block between the transient feature maps makes glibc trim and re-fault
  memory at every pass.
"""

from __future__ import annotations

import math
import mmap
import warnings
import weakref
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from alstrategies.strategy import (
    REDUCTIONS,
    QueryContext,
    QueryResult,
    QueryStrategy,
    Reduction,
    reduce_pixels,
    top_k,
)
from baselines.seeding import seeded_torch, torch_seed

#: The module types switched to train mode for the stochastic passes.
DROPOUT_TYPES: tuple[type[nn.Module], ...] = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)

#: Layer types (exact types, not subclasses) whose eval-mode output is a function of their
#: input alone: a run of them at the head of an ``nn.Sequential``, before its dropout, may be
#: computed once per batch (:func:`cached_prefixes`).
DETERMINISTIC_TYPES: frozenset[type[nn.Module]] = frozenset(
    {
        nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
        nn.Linear, nn.Identity, nn.Flatten,
        nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm,
        nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
        nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
        nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Softplus,
        nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
        nn.Upsample,
    }
)  # fmt: skip


#: Calls of one dropout module per pass that get a reused output buffer (then new tensors).
_MAX_CALLS_PER_PASS = 8
#: The integer type of each floating element size, to write a float's bit pattern.
_INT_OF_SIZE = {2: torch.int16, 4: torch.int32, 8: torch.int64}


@contextmanager
def mc_dropout(model: nn.Module) -> Iterator[list[nn.Module]]:
    """Put ``model`` in eval mode with only its dropout modules in train mode; restore on exit.

    Yields the dropout modules. Every module's own ``training`` flag is restored afterwards, so
    a model that was in any mix of modes comes back exactly as it was.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    dropouts = [module for module in model.modules() if isinstance(module, DROPOUT_TYPES)]
    for module in dropouts:
        module.train()
    try:
        yield dropouts
    finally:
        for module, mode in modes:
            module.training = mode


# -- dropout masks -------------------------------------------------------------------------------


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
    repeat: dict[str, object] = {"input": None, "p": None, "scaled": None}

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
        module.forward = _fast_forward(module, masks, type(module).forward.__get__(module), workspace)
    try:
        yield masks
    finally:
        for module in switched:
            module.__dict__.pop("forward", None)


# -- buffers and the deterministic prefix ---------------------------------------------------------


def mapped_empty(shape: tuple[int, ...] | torch.Size, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """An uninitialised CPU tensor in its own anonymous memory map (outside malloc's heap)."""
    numel = math.prod(shape)
    if numel == 0:
        return torch.empty(tuple(shape), dtype=dtype)
    buffer = mmap.mmap(-1, numel * torch.empty((), dtype=dtype).element_size())
    return torch.frombuffer(buffer, dtype=dtype, count=numel).view(tuple(shape))


class Workspace:
    """Named buffers that outlive a forward pass, reused from batch to batch.

    On the CPU each is its own anonymous memory map (:func:`mapped_empty`): a long-lived block
    allocated between the transient feature maps would keep glibc's heap from coalescing and
    make it return memory to the system and fault it back in at every pass. A request for a
    smaller shape (the last batch) gets a view of the start of the buffer.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.buffers: dict[Hashable, torch.Tensor] = {}
        self.passes = 0

    def next_pass(self) -> None:
        """Start a forward pass: per-pass buffers (dropout outputs) are reused from here."""
        self.passes += 1

    def get(
        self, key: Hashable, shape: tuple[int, ...] | torch.Size, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        numel = math.prod(shape)
        buffer = self.buffers.get(key)
        if buffer is None or buffer.numel() < numel or buffer.dtype != dtype:
            if self.device.type == "cpu":
                buffer = mapped_empty((numel,), dtype)
            else:
                buffer = torch.empty(numel, dtype=dtype, device=self.device)
            self.buffers[key] = buffer
        return buffer[:numel].view(tuple(shape))


def _deterministic(module: nn.Module) -> bool:
    if type(module) in DETERMINISTIC_TYPES:
        return not (module.training and isinstance(module, nn.modules.batchnorm._NormBase))
    return type(module) is nn.Dropout and (module.p == 0.0 or not module.training)


def _cached_forward(block: nn.Sequential, prefix: int, workspace: Workspace | None) -> Callable:
    children = list(block)
    head, tail = children[:prefix], children[prefix:]
    state: dict[str, object] = {"input": None, "output": None, "on": True}

    def forward(x: torch.Tensor) -> torch.Tensor:
        if state["on"] and state["input"] is x:
            y = state["output"]
        else:
            if state["input"] is not None:  # another input: no reuse in this block any more
                state.update(input=None, output=None, on=False)
            y = x
            for child in head:
                y = child(y)
            if state["on"]:
                if workspace is not None and y.device == workspace.device and y.is_contiguous():
                    y = workspace.get(("prefix", id(block)), y.shape, y.dtype).copy_(y)
                state.update(input=x, output=y)
        for child in tail:
            y = child(y)
        return y

    return forward


@contextmanager
def cached_prefixes(model: nn.Module, workspace: Workspace | None = None) -> Iterator[list[nn.Sequential]]:
    """Reuse the deterministic head of dropout blocks while their input stays the same tensor.

    For every ``nn.Sequential`` of ``model`` (not overriding ``forward``) whose first children
    are deterministic layers (:data:`DETERMINISTIC_TYPES`, normalisation in eval mode) followed by
    an ``nn.Dropout`` in train mode, the output of those layers is kept from the first call and
    reused by the later calls that get the very same input tensor (``is``); the first call with
    another input switches reuse off for that block. Use one block per batch, with a model that
    does not modify its input in place. Hooks of the skipped layers run once per batch. Yields
    the blocks whose forward was switched; the kept outputs go to ``workspace`` when given.
    """
    switched = []
    for block in model.modules():
        if not isinstance(block, nn.Sequential) or type(block).forward is not nn.Sequential.forward:
            continue  # a subclass with its own forward may do more than chain its children
        children = list(block)
        prefix = 0
        while prefix < len(children) and _deterministic(children[prefix]):
            prefix += 1
        if 0 < prefix < len(children):
            first = children[prefix]
            if type(first) is nn.Dropout and first.training and not first.inplace:
                block.forward = _cached_forward(block, prefix, workspace)
                switched.append(block)
    try:
        yield switched
    finally:
        for block in switched:
            block.__dict__.pop("forward", None)


# -- the strategy ---------------------------------------------------------------------------------


class MeanSTDStrategy(QueryStrategy):
    """Mean STD (MC dropout): the reduced mean-over-classes std of the softmax over T passes."""

    name = "mean_std"

    def __init__(self, passes: int = 10, reduction: Reduction = "mean") -> None:
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 2:
            raise ValueError(f"mean_std needs at least 2 stochastic passes, got passes={passes!r}")
        if not callable(reduction) and reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; use one of {REDUCTIONS} or a callable")
        self.passes = passes
        self.reduction = reduction

    def std_map(
        self, context: QueryContext, images: torch.Tensor, workspace: Workspace | None = None
    ) -> torch.Tensor:
        """``B x H x W``: mean over classes of the population std of the softmax over the passes.

        Runs ``passes`` forward passes of one batch in the current (MC-dropout) mode; Welford's
        update keeps only the running mean and the running sum of squared deviations. The
        deterministic head of each dropout block that sees the images is computed once
        (:func:`cached_prefixes`).
        """
        workspace = workspace or Workspace(images.device)
        mean = m2 = probs = torch.empty(0)
        with cached_prefixes(context.model, workspace):
            for t in range(1, self.passes + 1):
                workspace.next_pass()
                with context.autocast():
                    logits = context.model(images).logits
                if t == 1:
                    probs, mean, m2 = (workspace.get(key, logits.shape) for key in ("probs", "mean", "m2"))
                    torch.softmax(logits.float(), dim=1, out=mean)
                    m2.zero_()
                    continue
                torch.softmax(logits.float(), dim=1, out=probs)
                delta = probs.sub_(mean)  # x - mean_{t-1}
                mean.add_(delta, alpha=1.0 / t)
                m2.addcmul_(delta, delta, value=(t - 1) / t)  # (x - mean_{t-1}) (x - mean_t)
        return m2.div_(self.passes).sqrt_().mean(dim=1)

    def score_pool(self, context: QueryContext, seed: int) -> np.ndarray:
        """Image scores of every unlabeled image, in ``context.unlabeled`` order.

        Element-wise dropout on the CPU draws its masks from :class:`DropoutMasks` seeded with
        ``seed``; any other dropout uses torch's generator seeded with ``seed`` (restored
        afterwards). The draws are batch-major: all passes of the first batch, then of the next.
        """
        scores: list[torch.Tensor] = []
        workspace = Workspace(context.device)
        with (
            mc_dropout(context.model) as dropouts,
            fast_dropout(context.model, seed, workspace),
            seeded_torch(seed, context.device),
            torch.inference_mode(),
        ):
            if not any(getattr(module, "p", 0.0) > 0 for module in dropouts):
                warnings.warn(
                    "mean_std: the model has no active dropout module (model.dropout = false?), so "
                    "every pass is identical and all scores are 0",
                    stacklevel=3,
                )
            for _, images in context.batches():
                std = self.std_map(context, images, workspace)
                scores.append(reduce_pixels(std, self.reduction).float().cpu())
        return torch.cat(scores).numpy().astype(np.float64)

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        scores = self.score_pool(context, torch_seed(rng))
        return QueryResult(
            indices=top_k(context.unlabeled, scores, k),
            candidates=context.unlabeled.copy(),
            scores=scores,
        )
