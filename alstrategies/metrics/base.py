"""The metric registry: one :class:`Metric` per module, declared once with :func:`register_metric`.

Everything downstream loops over :data:`METRICS` (in registration order): :func:`volume_metrics`
computes the requested ones per foreground class, the evaluation stores each as ``<name>`` (mean)
and ``<name>_per_class`` in the round records, ``results.csv`` gets the columns ``<name>`` and
``<name>_<class>`` of every metric present in the records, and the report writes
``<name>_table.{md,tex,csv}``. See ``docs/reports.md`` (*Metrics*).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from alstrategies.engine.round_record import RECORD_KEYS

__all__ = [
    "DEFAULT_METRICS",
    "METRICS",
    "UNIT_NOT_RECORDED",
    "Metric",
    "MetricFunction",
    "column_label",
    "get_metric",
    "metric_of_column",
    "nanmean_or_nan",
    "register_metric",
    "resolve_metrics",
    "unregister_metric",
]


#: ``(pred_mask, target_mask, spacing, *options) -> float`` for two binary masks of one class;
#: NaN where the metric is undefined. A metric's options (e.g. HD95's ``missing``, surface
#: Dice's ``tolerance``) follow ``spacing``, so the signature varies with the metric.
MetricFunction = Callable[..., float]


#: Record keys and results.csv columns that a metric's name (or ``<name>_per_class``) must not take.
RESERVED_NAMES = frozenset(RECORD_KEYS)
#: What titles say of a dataset-dependent unit (HD95) that a run did not record.
UNIT_NOT_RECORDED = "unit not recorded"
_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


@dataclass(frozen=True)
class Metric:
    """One segmentation metric and how reports show it.

    ``function`` scores one foreground class (binary masks) with the keyword ``options`` merged
    over the declared default ``options``. Tables show ``value * scale`` with ``decimals``, the
    best per column being the highest (``higher_is_better``) or the lowest. ``label`` is the display
    name ("Dice"); ``unit`` the display unit after scaling; it appears in table titles as
    ``" (unit)"`` only when ``unit_in_title``; otherwise the unit depends on the dataset (HD95: mm
    or voxels) and titles show the unit the run recorded (:meth:`unit_suffix`). ``heading`` and
    ``note`` are the first line and the explanation of the metric's table file (defaults are built
    from the label); ``{unit}`` in ``heading`` becomes :meth:`unit_suffix`."""

    name: str
    function: MetricFunction
    higher_is_better: bool
    scale: float = 1.0
    unit: str = ""
    label: str = ""
    unit_in_title: bool = True
    decimals: int = 2
    options: Mapping[str, Any] = field(default_factory=dict)
    heading: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"metric name {self.name!r} must be lower_snake_case (letters, digits, _)")
        if not callable(self.function):
            raise TypeError(f"metric {self.name!r}: function must be callable")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"metric {self.name!r}: scale must be finite and positive, got {self.scale}")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        if not self.label:
            object.__setattr__(self, "label", self.name)

    @property
    def title_unit(self) -> str:
        """``" (%)"`` for a metric in percent; empty when the title shows no unit."""
        return f" ({self.unit})" if self.unit and self.unit_in_title else ""

    def unit_suffix(self, recorded: str | None = None) -> str:
        """``" (unit)"`` for titles: :attr:`title_unit` when ``unit_in_title``; otherwise the unit
        the run recorded (``" (mm)"``), ``" (unit not recorded)"`` when ``recorded`` is None."""
        if self.unit_in_title:
            return self.title_unit
        return f" ({recorded or UNIT_NOT_RECORDED})"

    def heading_for(self, recorded: str | None = None) -> str:
        """First line (``#`` heading) of ``<name>_table.md``, with the ``recorded`` unit where the
        unit depends on the dataset."""
        unit = self.unit_suffix(recorded)
        if self.heading:
            return self.heading.replace("{unit}", unit)
        better = "higher" if self.higher_is_better else "lower"
        return f"Mean {self.label}{unit} on the test volumes, mean ± std over seeds ({better} is better)"

    @property
    def table_heading(self) -> str:
        """:meth:`heading_for` without a recorded unit."""
        return self.heading_for(None)

    def __call__(
        self, pred_mask: np.ndarray, target_mask: np.ndarray, spacing: Sequence[float] | None, **options: Any
    ) -> float:
        """The metric of one class with ``options`` over the declared defaults."""
        return float(self.function(pred_mask, target_mask, spacing, **{**self.options, **options}))


#: Every registered metric, name -> :class:`Metric`, in registration order (the column order).
METRICS: dict[str, Metric] = {}
#: The metrics computed unless a run asks for others; their results.csv columns always exist.
DEFAULT_METRICS: tuple[str, ...] = ("dice", "hd95")


def register_metric(metric: Metric) -> Metric:
    """Add ``metric`` to :data:`METRICS` (after the ones already there) and return it.

    Refused: a taken name, a reserved record key, and a name that is another's name plus
    ``_suffix`` or the reverse (``<name>_<class>`` columns would be ambiguous)."""
    name = metric.name
    if name in METRICS:
        raise ValueError(f"metric {name!r} is already registered")
    if name in RESERVED_NAMES or name.endswith("_per_class") or name.endswith("_per_volume"):
        raise ValueError(f"metric name {name!r} is reserved for another record field")
    for other in METRICS:
        if name.startswith(other + "_") or other.startswith(name + "_"):
            raise ValueError(
                f"metric name {name!r} clashes with {other!r}: their per-class columns would mix"
            )
    METRICS[name] = metric
    return metric


def unregister_metric(name: str) -> Metric:
    """Remove and return a registered metric (for tests and plugins that register temporarily)."""
    if name in DEFAULT_METRICS:
        raise ValueError(f"metric {name!r} is a default metric and cannot be removed")
    return METRICS.pop(get_metric(name).name)


def get_metric(name: str) -> Metric:
    """The registered metric ``name``; a ``KeyError`` listing the registered ones otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; registered: {', '.join(METRICS)}") from None


#: Suffixes of a metric's companion columns in results.csv, which hold no value of the metric:
#: ``<name>_unit`` (the unit of its values) and ``<name>_misses_<class>`` (miss counts, HD95).
COMPANION_UNIT = "unit"
COMPANION_MISSES = "misses"


def metric_of_column(column: str) -> tuple[Metric, str] | None:
    """The registered metric of a results.csv column and the class it is of: ``"dice"`` ->
    ``(DICE, "")``, ``"hd95_LV"`` -> ``(HD95, "LV")``; None for a column of no metric, and for a
    companion column (``hd95_unit``, ``hd95_misses_LV``)."""
    if column in METRICS:
        return METRICS[column], ""
    for name, metric in METRICS.items():
        if column.startswith(name + "_"):
            rest = column.removeprefix(name + "_")
            if rest == COMPANION_UNIT or rest.startswith(COMPANION_MISSES + "_"):
                return None
            return metric, rest
    return None


def column_label(column: str) -> str:
    """Display name of a results.csv column: ``"Dice"``, ``"HD95 LV"``; other columns with
    ``_`` as spaces."""
    found = metric_of_column(column)
    if found is None:
        return column.replace("_", " ")
    metric, class_name = found
    return f"{metric.label} {class_name}" if class_name else metric.label


def resolve_metrics(
    names: Iterable[str], options: Mapping[str, Mapping[str, Any]] | None = None
) -> list[tuple[Metric, dict[str, Any]]]:
    """The metrics ``names`` (in the given order, duplicates dropped) with their options.

    ``options`` maps a metric name to keyword options (e.g. ``{"surface_dice": {"tolerance": 2.0}}``);
    options of registered metrics that are not requested are ignored, an unknown name is an error."""
    options = dict(options or {})
    for name in options:
        get_metric(name)
    chosen = [get_metric(name) for name in dict.fromkeys(names)]
    if not chosen:
        raise ValueError("no metric requested")
    return [(metric, dict(options.get(metric.name, {}))) for metric in chosen]


def nanmean_or_nan(values: Iterable[float] | np.ndarray) -> float:
    """Mean ignoring NaN; NaN (without a RuntimeWarning) if empty or all NaN."""
    arr = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.float64)
    finite = arr[~np.isnan(arr)]
    if finite.size == 0:
        return float("nan")
    return float(finite.mean())


# -- helpers shared by the metric modules ----------------------------------------------------------
def as_bool(mask: np.ndarray) -> np.ndarray:
    """Return ``mask`` as a boolean array (nonzero = foreground)."""
    arr = np.asarray(mask)
    if arr.dtype == np.bool_:
        return arr
    return arr != 0


def check_shapes(pred: np.ndarray, target: np.ndarray) -> None:
    """Raise ``ValueError`` naming both shapes if they differ."""
    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch: pred has shape {pred.shape}, target has shape {target.shape}")


def resolve_spacing(spacing: Sequence[float] | None, ndim: int) -> np.ndarray:
    """Validate ``spacing`` and return it as a float array of length ``ndim`` (ones for None)."""
    if spacing is None:
        return np.ones(ndim, dtype=np.float64)
    sp = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if sp.shape[0] != ndim:
        raise ValueError(f"spacing has {sp.shape[0]} entries but the masks have {ndim} dimensions")
    if not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError(f"spacing entries must be finite and positive, got {tuple(sp)}")
    return sp
