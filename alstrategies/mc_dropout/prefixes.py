"""The deterministic prefix of dropout blocks, computed once per batch (:func:`cached_prefixes`).

The deterministic layers at the head of a dropout block (conv-BN-activation before the dropout)
give the same output in every pass when the block's input is the same tensor, as for the first
U-Net block, which gets the images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from alstrategies.mc_dropout.workspace import Workspace

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


def _deterministic(module: nn.Module) -> bool:
    if type(module) in DETERMINISTIC_TYPES:
        return not (module.training and isinstance(module, nn.modules.batchnorm._NormBase))
    return type(module) is nn.Dropout and (module.p == 0.0 or not module.training)


def _cached_forward(block: nn.Sequential, prefix: int, workspace: Workspace | None) -> Callable:
    children = list(block)
    head, tail = children[:prefix], children[prefix:]
    state: dict[str, Any] = {"input": None, "output": None, "on": True}

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
                block.forward = _cached_forward(block, prefix, workspace)  # type: ignore[method-assign]
                switched.append(block)
    try:
        yield switched
    finally:
        for block in switched:
            block.__dict__.pop("forward", None)
