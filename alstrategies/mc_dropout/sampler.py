"""Seeded MC-dropout passes over batches of images (:class:`MCDropoutSampler`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import Any, TypeVar

import torch
from torch import nn

from alstrategies.mc_dropout.masks import fast_dropout
from alstrategies.mc_dropout.mode import mc_dropout
from alstrategies.mc_dropout.moments import PassAccumulator
from alstrategies.mc_dropout.prefixes import cached_prefixes
from alstrategies.mc_dropout.workspace import Workspace
from alstrategies.seeding import seeded_torch

A = TypeVar("A", bound=PassAccumulator)


class MCDropoutSampler:
    """Seeded MC-dropout passes over batches of images; a context manager around the whole query.

    Inside the ``with`` block the model is in MC-dropout mode (:func:`mc_dropout`), element-wise
    ``nn.Dropout`` on the CPU draws its masks from :class:`DropoutMasks` seeded with ``seed``
    (:func:`fast_dropout`), any other dropout uses torch's generator seeded with ``seed`` (and
    restored afterwards), and gradients are off (``torch.inference_mode``). The draws follow the
    calls: all passes of the first batch, then of the next, so a seed gives the same masks for
    the same batches. Every module's mode comes back on exit.

    Args:
        model: The segmentation network; its output has ``logits`` (``B x C x H x W``).
        seed: The seed of the masks (e.g. :func:`alstrategies.seeding.torch_seed` of the query's rng).
        device: The device the images are on (the buffers of :attr:`workspace` live there).
        autocast: A factory of the context each forward pass runs in (e.g.
            ``QueryContext.autocast``); no autocast when ``None``.

    Example::

        with MCDropoutSampler(context.model, torch_seed(rng), context.device) as sampler:
            for _, images in context.batches():
                moments = sampler.accumulate(images, 10, WelfordMoments(sampler.workspace))
                scores.append(moments.std().mean(dim=1).flatten(1).mean(dim=1))
    """

    def __init__(
        self,
        model: nn.Module,
        seed: int,
        device: torch.device | str = "cpu",
        autocast: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        self.model = model
        self.seed = seed
        self.device = torch.device(device)
        self.autocast = autocast or nullcontext
        self.workspace = Workspace(self.device)
        self.dropouts: list[nn.Module] = []
        self._stack: ExitStack | None = None

    def __enter__(self) -> MCDropoutSampler:
        with ExitStack() as stack:
            self.dropouts = stack.enter_context(mc_dropout(self.model))
            stack.enter_context(fast_dropout(self.model, self.seed, self.workspace))
            stack.enter_context(seeded_torch(self.seed, self.device))
            stack.enter_context(torch.inference_mode())
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.__exit__(*exc_info)

    @property
    def active(self) -> bool:
        """Whether any dropout module has ``p > 0`` (if not, every pass is the same)."""
        return any(getattr(module, "p", 0.0) > 0 for module in self.dropouts)

    def passes(self, images: torch.Tensor, passes: int) -> Iterator[torch.Tensor]:
        """Run ``passes`` stochastic forward passes of one batch; yield each pass's softmax.

        The deterministic head of each dropout block that sees the images is computed once
        (:func:`cached_prefixes`), so ``images`` must not be modified in place meanwhile.

        Args:
            images: ``B x C_in x H x W`` images on :attr:`device`; the same tensor for every pass.
            passes: The number of stochastic passes ``T``.

        Yields:
            ``B x C x H x W`` float32 softmax over the classes of each pass, in one reused buffer
            (the workspace's ``"probs"``): overwritten by the next pass, free to modify.
        """
        if self._stack is None:
            raise RuntimeError("MCDropoutSampler.passes() runs inside its `with` block only")
        with cached_prefixes(self.model, self.workspace):
            for _ in range(passes):
                self.workspace.next_pass()
                with self.autocast():
                    logits = self.model(images).logits
                probs = self.workspace.get("probs", logits.shape)
                yield torch.softmax(logits.float(), dim=1, out=probs)

    def accumulate(self, images: torch.Tensor, passes: int, accumulator: A) -> A:
        """Feed the ``passes`` softmax maps of one batch to ``accumulator``, one pass at a time.

        Args:
            images: ``B x C_in x H x W`` images on :attr:`device`.
            passes: The number of stochastic passes ``T``.
            accumulator: Anything with ``update(t, probs)`` (:class:`PassAccumulator`), e.g.
                :class:`WelfordMoments`; pass ``t`` runs 1 .. ``T``.

        Returns:
            ``accumulator``, after ``T`` updates.
        """
        for t, probs in enumerate(self.passes(images, passes), start=1):
            accumulator.update(t, probs)
        return accumulator
