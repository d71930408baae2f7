"""Device selection and thread settings."""

from __future__ import annotations

import torch

from alstrategies.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when present, else the CPU; anything else is passed to torch."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise ConfigError(
            f"train.device = {name!r} is not a device ({error}); use 'auto', 'cpu' or 'cuda'"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device = {name!r} but no CUDA device is visible; use 'auto' or 'cpu'")
    return device


def configure_threads(threads: int) -> None:
    """Set the intra-op CPU threads of this process's trainings (``train.threads``; 0 keeps
    torch's default, which follows the core count, so its numbers depend on the machine)."""
    if threads > 0:
        torch.set_num_threads(threads)


def configure_cuda(device: torch.device) -> None:
    """Fast CUDA defaults for fixed-shape training: cuDNN picks the fastest convolution
    algorithm per shape (``cudnn.benchmark``) and fp32 matrix work may use TF32. No effect on
    the CPU, whose numbers stay bit-reproducible."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
