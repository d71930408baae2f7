"""Named buffers that outlive a forward pass, each in its own anonymous memory map on the CPU."""

from __future__ import annotations

import math
import mmap
from collections.abc import Hashable

import torch


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
        """The buffer ``key`` viewed as ``shape`` (uninitialised; grown when too small).

        Args:
            key: The buffer's name.
            shape: The shape wanted; a smaller one than before is a view of the buffer's start.
            dtype: The element type (another one replaces the buffer).

        Returns:
            A contiguous tensor on :attr:`device` that shares memory with earlier requests.
        """
        numel = math.prod(shape)
        buffer = self.buffers.get(key)
        if buffer is None or buffer.numel() < numel or buffer.dtype != dtype:
            if self.device.type == "cpu":
                buffer = mapped_empty((numel,), dtype)
            else:
                buffer = torch.empty(numel, dtype=dtype, device=self.device)
            self.buffers[key] = buffer
        return buffer[:numel].view(tuple(shape))
