"""Segmentation metrics, one per module, each declared once in the registry :data:`METRICS`.

Registered, in this order (the order of the results.csv columns and the report's tables):
``dice`` (:mod:`.dice`), ``hd95`` (:mod:`.hausdorff`, medpy's surface definition) and
``surface_dice`` (:mod:`.surface_dice`, normalised surface Dice at a tolerance; opt-in). A new
metric is one module that calls :func:`register_metric` plus its import below (see
``docs/reports.md``, *Metrics*).
"""

from alstrategies.metrics.base import (
    DEFAULT_METRICS,
    METRICS,
    UNIT_NOT_RECORDED,
    Metric,
    MetricFunction,
    column_label,
    get_metric,
    metric_of_column,
    nanmean_or_nan,
    register_metric,
    resolve_metrics,
    unregister_metric,
)
from alstrategies.metrics.surface import surface_distances, surface_mask
from alstrategies.metrics.volume import class_misses, volume_metrics

# Each import registers its metric: import order = registration order = column order.
# isort: off
from alstrategies.metrics.dice import DICE, dice_score
from alstrategies.metrics.hausdorff import HD95, hausdorff_distance, hd95_with_misses, volume_diagonal
from alstrategies.metrics.surface_dice import SURFACE_DICE, surface_dice

# isort: on

__all__ = [
    "DEFAULT_METRICS",
    "DICE",
    "HD95",
    "METRICS",
    "SURFACE_DICE",
    "UNIT_NOT_RECORDED",
    "Metric",
    "MetricFunction",
    "class_misses",
    "column_label",
    "dice_score",
    "get_metric",
    "hausdorff_distance",
    "hd95_with_misses",
    "metric_of_column",
    "nanmean_or_nan",
    "register_metric",
    "resolve_metrics",
    "surface_dice",
    "surface_distances",
    "surface_mask",
    "unregister_metric",
    "volume_diagonal",
    "volume_metrics",
]
