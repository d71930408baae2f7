"""MC-dropout mode: the model in eval mode with only its dropout modules in train mode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

#: The module types switched to train mode for the stochastic passes.
DROPOUT_TYPES: tuple[type[nn.Module], ...] = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)


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
