"""The one trainer every strategy shares (paper optimiser and schedule, DESIGN section 3)."""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from alstrategies.device import configure_cuda
from alstrategies.settings import TrainConfig
from alstrategies.training.augment import augment_batch
from alstrategies.training.losses import Criterion


@dataclass
class TrainStats:
    iterations: int
    seconds: float
    images_per_second: float
    loss_history: list[float] = field(default_factory=list)


def batch_order(
    num_images: int, batch_size: int, iterations: int, generator: torch.Generator
) -> torch.Tensor:
    """``iterations x batch`` indices drawn epoch by epoch (a fresh permutation per epoch)."""
    batch = min(batch_size, num_images)
    needed = iterations * batch
    epochs = math.ceil(needed / num_images)
    order = torch.cat([torch.randperm(num_images, generator=generator) for _ in range(epochs)])
    return order[:needed].view(iterations, batch)


def lr_factor(config: TrainConfig, step: int, iterations: int, warm: bool = False) -> float:
    """The learning-rate multiplier at ``step`` of a training of ``iterations`` steps.

    A cold training (and, with ``warm_schedule = "restart"``, a warm-started one) follows
    ``lr_schedule``: ``lr_decay ** (step // lr_step)`` (``"step"``, the paper's) or
    ``(1 - step / iterations) ** 0.9`` (``"poly"``, nnU-Net's: 0 at the end of every training);
    with ``cooldown = c > 0`` the last ``c * iterations`` steps also fall linearly towards 0
    (the model a training ends with is then not a snapshot of a high-lr walk).

    A warm-started training (``warm``: a round that continues the previous round's model) is
    scaled by ``warm_lr_factor``; with ``warm_schedule = "linear"`` it falls linearly from that
    peak to 0 over the training, ``warm_lr_factor * (1 - step / iterations)``, so that it
    continues from the previous minimum instead of restarting at the peak lr. The defaults
    (``1.0``, ``"restart"``) restart every warm round at the peak, as the committed runs did.
    """
    if warm and config.warm_schedule == "linear":
        return config.warm_lr_factor * (1.0 - step / iterations)
    if config.lr_schedule == "poly":
        factor = (1.0 - step / iterations) ** 0.9
    else:
        factor = config.lr_decay ** (step // config.lr_step)
    cooling = config.cooldown * iterations
    start = iterations - cooling
    if cooling > 0 and step >= start:
        factor *= (iterations - step) / (cooling + 1.0)
    return factor * config.warm_lr_factor if warm else factor


class Trainer:
    """SGD with momentum, per-group learning rates decayed by ``lr_decay`` every ``lr_step``
    iterations (or polynomially, :func:`lr_factor`), on-device augmentation, bf16 autocast, channels_last and cuDNN autotuning on
    CUDA, and
    ``torch.compile`` of the training forward pass when ``compile`` is set (CUDA only: on the
    CPU the switch is ignored, compilation would cost more than these small trainings).

    Data stay on the device as tensors; the inner loop never synchronises with the host except
    for a loss snapshot every ``log_every`` iterations.
    """

    def __init__(self, config: TrainConfig, device: torch.device, log_every: int = 50) -> None:
        self.config = config
        self.device = device
        self.log_every = log_every
        configure_cuda(device)

    @property
    def on_cuda(self) -> bool:
        return self.device.type == "cuda"

    def prepare_model(self, model: nn.Module) -> nn.Module:
        model = model.to(self.device)
        if self.on_cuda and self.config.channels_last:
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return model

    def make_optimizer(self, model: nn.Module) -> torch.optim.SGD:
        network: Any = model  # every model of the registry has parameter_groups (models/)
        groups = network.parameter_groups(self.config.lr, self.config.sfp_lr)
        for group in groups:
            group["initial_lr"] = group["lr"]
        return torch.optim.SGD(
            groups, lr=self.config.lr, momentum=self.config.momentum, weight_decay=self.config.weight_decay
        )

    def fit(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: dict[str, torch.Tensor],
        criterion: Criterion,
        seed: int,
        progress: Any = None,
        stage: str = "round",
        warm: bool = False,
    ) -> TrainStats:
        """Train ``model`` in place on ``images`` (N x C x H x W) and ``targets`` (N x ...).

        ``progress`` is an optional tqdm-like bar updated with iterations; ``stage`` (``round0``,
        ``round`` or ``full``, the 100 % model) selects the schedule's iterations; ``warm``
        (the model continues a previous training) selects the warm learning rate
        (:func:`lr_factor`). The optimiser and its momentum are fresh in every training.
        """
        config = self.config
        num_images = int(images.shape[0])
        if num_images == 0:
            raise ValueError("cannot train on an empty labeled set")
        torch.manual_seed(seed)  # dropout masks
        generator = torch.Generator(device=self.device).manual_seed(seed)
        cpu_generator = torch.Generator().manual_seed(seed)
        iterations = config.num_iterations(num_images, stage)
        order = batch_order(num_images, config.batch_size, iterations, cpu_generator).to(self.device)
        images = images.to(self.device)
        targets = {key: value.to(self.device) for key, value in targets.items()}
        model = self.prepare_model(model)
        optimizer = self.make_optimizer(model)
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16) if self.on_cuda and config.amp else nullcontext()
        )
        memory_format = (
            torch.channels_last if self.on_cuda and config.channels_last else torch.contiguous_format
        )
        model.train()
        forward = torch.compile(model) if config.compile and self.on_cuda else model
        snapshots: list[torch.Tensor] = []
        start = time.perf_counter()
        for step in range(iterations):
            decay = lr_factor(config, step, iterations, warm)
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * decay
            rows = order[step]
            batch = images[rows]
            batch_targets = {key: value[rows] for key, value in targets.items()}
            if config.augment:
                batch, batch_targets = augment_batch(batch, batch_targets, generator)
            batch = batch.contiguous(memory_format=memory_format)
            with autocast:
                output = forward(batch)
                losses = criterion(output, batch_targets)
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            optimizer.step()
            if step % self.log_every == 0 or step == iterations - 1:
                snapshots.append(losses["total"].detach())
            if progress is not None:
                progress.update(1)
        seconds = time.perf_counter() - start
        history = torch.stack(snapshots).float().cpu().numpy().tolist() if snapshots else []
        return TrainStats(
            iterations=iterations,
            seconds=seconds,
            images_per_second=iterations * order.shape[1] / max(seconds, 1e-9),
            loss_history=[float(v) for v in np.asarray(history)],
        )
