"""Every requested registered metric of every foreground class of an integer label volume, and
which classes the prediction misses or invents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from alstrategies.metrics.base import DEFAULT_METRICS, check_shapes, resolve_metrics, resolve_spacing

__all__ = ["class_misses", "volume_metrics"]


def volume_metrics(
    pred: np.ndarray,
    target: np.ndarray,
    num_classes: int,
    spacing: Sequence[float] | None = None,
    metrics: Iterable[str] = DEFAULT_METRICS,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, np.ndarray]:
    """Per-foreground-class values of the registered ``metrics`` (default Dice and HD95).

    Returns ``{name: (num_classes-1,)}`` in the order of ``metrics``, for classes
    ``1..num_classes-1``; entries are NaN where the metric is undefined. ``options`` maps a
    metric name to its keyword options (see :func:`~alstrategies.metrics.base.resolve_metrics`).
    """
    p = np.asarray(pred)
    t = np.asarray(target)
    check_shapes(p, t)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if spacing is not None:
        resolve_spacing(spacing, p.ndim)
    chosen = resolve_metrics(metrics, options)
    n_fg = num_classes - 1
    out = {metric.name: np.full(n_fg, np.nan, dtype=np.float64) for metric, _ in chosen}
    for cls in range(1, num_classes):
        pm = p == cls
        tm = t == cls
        for metric, kwargs in chosen:
            out[metric.name][cls - 1] = metric(pm, tm, spacing, **kwargs)
    return out


def class_misses(pred: np.ndarray, target: np.ndarray, num_classes: int) -> np.ndarray:
    """``(num_classes-1,)`` booleans: per foreground class ``1..num_classes-1``, whether it is
    present in exactly one of ``pred`` and ``target`` (missed: label only; invented: prediction
    only). These are the classes whose HD95 is the volume's diagonal."""
    p = np.asarray(pred)
    t = np.asarray(target)
    check_shapes(p, t)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    in_pred = np.isin(np.arange(1, num_classes), p)
    in_target = np.isin(np.arange(1, num_classes), t)
    return in_pred != in_target
