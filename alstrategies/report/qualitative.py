"""Qualitative figures from prediction snapshots (paper Figs. 2 and 3).

``qualitative.png``: one row per test slice; columns: the image, the ground truth, then each
strategy's prediction at one budget and seed, as label overlays with a fixed colour per class
and the slice's Dice (mean over the foreground classes present in the ground truth or the
prediction) in the corner.

``sbcal_outputs.png``: for the ``sbc_al`` snapshot at the same budget and seed, per slice the
image, the ground truth, the SFP distance output (maximum over the class channels), the coarse
and the refined (ASR) prediction; below, the pool images with the highest and the lowest
consistency score (CS) with their scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from alstrategies.errors import ConfigError
from alstrategies.report.io import save_figure
from alstrategies.report.snapshots import SnapshotError, load_snapshot, snapshot_path
from alstrategies.report.tables import budget_label

__all__ = [
    "CLASS_COLORS",
    "SBCAL_STRATEGY",
    "class_color",
    "overlay_rgba",
    "parse_budget",
    "qualitative_figure",
    "resolve_budget",
    "sbcal_figure",
    "slice_dice",
    "write_qualitative_figures",
]

#: Overlay colour of class 1, 2, ... (cycled beyond eight classes); background is transparent.
CLASS_COLORS = ("#e6194b", "#3cb44b", "#4363d8", "#ffe119", "#f032e6", "#42d4f4", "#f58231", "#911eb4")
#: The strategy whose snapshots feed ``sbcal_outputs.png``.
SBCAL_STRATEGY = "sbc_al"
_BUDGET_TOLERANCE = 0.005


def class_color(index: int) -> tuple[float, float, float]:
    """RGB of foreground class ``index`` (1-based)."""
    if index < 1:
        raise ValueError(f"class index must be >= 1 (0 is background), got {index}")
    return to_rgb(CLASS_COLORS[(index - 1) % len(CLASS_COLORS)])


def overlay_rgba(label: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``H x W x 4`` RGBA overlay: each class in its :func:`class_color`, background transparent."""
    label = np.asarray(label)
    rgba = np.zeros((*label.shape, 4), dtype=np.float32)
    for index in np.unique(label):
        if index == 0:
            continue
        rgba[label == index] = (*class_color(int(index)), alpha)
    return rgba


def slice_dice(prediction: np.ndarray, label: np.ndarray) -> float:
    """Mean 2|P ∩ G| / (|P| + |G|) over the foreground classes present in either; NaN if none."""
    classes = np.union1d(np.unique(prediction), np.unique(label))
    scores = []
    for index in classes[classes > 0]:
        p, g = prediction == index, label == index
        scores.append(2.0 * np.logical_and(p, g).sum() / (p.sum() + g.sum()))
    return float(np.mean(scores)) if scores else float("nan")


def parse_budget(text: str | float) -> float:
    """A budget as a fraction: ``"20%"``, ``"20"`` (> 1 means percent) and ``"0.2"`` give 0.2."""
    raw = str(text).strip()
    try:
        value = float(raw.removesuffix("%"))
    except ValueError:
        raise ConfigError(f"budget {text!r} is not a number (use e.g. 0.2 or 20%)") from None
    if raw.endswith("%") or value > 1.0:
        value /= 100.0
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"budget {text!r} must lie in (0, 100%]")
    return value


def resolve_budget(results: pd.DataFrame, budget: float | str | None = None) -> float:
    """The AL budget of ``results`` (``budget < 1``) nearest to ``budget`` (within 0.5 percentage
    points); default: the middle one, ``sorted(budgets)[len // 2]``."""
    budgets = sorted(float(b) for b in results.loc[results["budget"] < 1.0, "budget"].unique())
    if not budgets:
        raise ConfigError("results hold no active-learning budget (budget < 1)")
    if budget is None:
        return budgets[len(budgets) // 2]
    wanted = parse_budget(budget)
    nearest = min(budgets, key=lambda b: abs(b - wanted))
    if abs(nearest - wanted) > _BUDGET_TOLERANCE:
        available = ", ".join(budget_label(b) for b in budgets)
        raise ConfigError(f"no AL budget near {budget_label(wanted)}; the run has {available}")
    return nearest


def _round_of(results: pd.DataFrame, strategy: str, seed: int, budget: float) -> int | None:
    rows = results[
        (results["strategy"] == strategy)
        & (results["seed"] == seed)
        & np.isclose(results["budget"].astype(float), budget, atol=1e-9)
    ]
    return int(rows["round"].iloc[0]) if len(rows) else None


def _image(axis: Axes, image: np.ndarray) -> None:
    image = np.asarray(image, dtype=np.float32)
    low, high = np.percentile(image, [1, 99]) if image.size else (0.0, 1.0)
    axis.imshow(image, cmap="gray", vmin=low, vmax=high if high > low else low + 1, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([])


def _note(axis: Axes, text: str) -> None:
    axis.text(0.5, 0.5, text, ha="center", va="center", color="white", fontsize=7, transform=axis.transAxes)


def _labelled(
    axis: Axes, image: np.ndarray, label: np.ndarray | None, truth: np.ndarray | None = None
) -> None:
    _image(axis, image)
    if label is None:
        _note(axis, "not saved")
        return
    axis.imshow(overlay_rgba(label), interpolation="nearest")
    if truth is not None:
        dice = slice_dice(label, truth)
        if np.isfinite(dice):
            box = {"facecolor": "black", "alpha": 0.5, "pad": 1, "linewidth": 0}
            axis.text(
                0.03, 0.03, f"{100 * dice:.1f}", color="white", fontsize=7, transform=axis.transAxes, bbox=box
            )


def _legend(figure: Figure, class_names: list[str], num_classes: int) -> None:
    names = list(class_names) + [f"class {i}" for i in range(len(class_names) + 1, num_classes)]
    handles = [Patch(color=class_color(i + 1), label=name) for i, name in enumerate(names[: num_classes - 1])]
    if handles:
        figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)


def _num_classes(class_names: list[str], *arrays: np.ndarray | None) -> int:
    largest = max((int(a.max()) for a in arrays if a is not None and a.size), default=0)
    return max(len(class_names) + 1, largest + 1)


#: Draws one panel of a slice row: ``draw(axis, r, image, truth)`` for slice ``r``.
PanelDrawer = Callable[[Axes, int, np.ndarray, np.ndarray], None]


def _prediction_panel(predictions: np.ndarray | None) -> PanelDrawer:
    """A label overlay of ``predictions[r]`` with its Dice against the truth ("not saved" if None)."""

    def draw(axis: Axes, r: int, image: np.ndarray, truth: np.ndarray) -> None:
        _labelled(axis, image, None if predictions is None else predictions[r], truth)

    return draw


def _missing_panel(axis: Axes, r: int, image: np.ndarray, truth: np.ndarray) -> None:
    """A black panel saying that the column has no snapshot."""
    _image(axis, np.zeros_like(image))
    _note(axis, "no snapshot")


def _distance_panel(distance: np.ndarray | None) -> PanelDrawer:
    """The SFP distance of slice ``r`` (maximum over the class channels); "not saved" if None."""

    def draw(axis: Axes, r: int, image: np.ndarray, truth: np.ndarray) -> None:
        if distance is None:
            _labelled(axis, image, None)
            return
        largest = np.asarray(distance[r], dtype=np.float32).max(axis=0)
        axis.imshow(largest, cmap="magma", vmin=0.0, vmax=max(1.0, float(largest.max())))
        axis.set_xticks([])
        axis.set_yticks([])

    return draw


def _slice_rows(
    row_axes: Callable[[int], Sequence[Axes]],
    snapshot: dict[str, np.ndarray],
    rows: int,
    panels: dict[str, PanelDrawer],
) -> None:
    """Draw the first ``rows`` slices of ``snapshot``, one row each (axes from ``row_axes(r)``):
    the image, the ground truth, then one column per entry of ``panels`` (heading -> drawer);
    slice names label the rows and the headings title the first row."""
    headings = ["image", "ground truth", *panels]
    for r in range(rows):
        image, truth = snapshot["images"][r], snapshot["labels"][r]
        axes = row_axes(r)
        _image(axes[0], image)
        _labelled(axes[1], image, truth)
        for axis, draw in zip(axes[2:], panels.values()):
            draw(axis, r, image, truth)
        axes[0].set_ylabel(str(snapshot["slice_names"][r]), fontsize=7)
        if r == 0:
            for axis, heading in zip(axes, headings):
                axis.set_title(heading, fontsize=8)


def _finish(figure: Figure, class_names: list[str], arrays: list[np.ndarray | None], title: str) -> None:
    """The class legend (over the labels in ``arrays``), the title and the layout."""
    _legend(figure, class_names, _num_classes(class_names, *arrays))
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout(rect=(0, 0.06, 1, 1))


def qualitative_figure(
    snapshots: dict[str, dict[str, np.ndarray] | None],
    class_names: list[str],
    *,
    title: str = "",
    max_slices: int = 4,
) -> Figure:
    """Rows: the first ``max_slices`` slices; columns: image, ground truth, then one prediction
    per entry of ``snapshots`` (strategy -> snapshot arrays, None: "no snapshot"). All snapshots
    must hold the same slices."""
    present = {name: s for name, s in snapshots.items() if s is not None}
    if not present:
        raise ValueError("no snapshot to draw")
    reference_name, reference = next(iter(present.items()))
    for name, snapshot in present.items():
        if snapshot["slice_names"].tolist() != reference["slice_names"].tolist():
            raise SnapshotError(
                f"snapshots of {name} and {reference_name} hold different test slices; every "
                "strategy must save the same slices"
            )
    rows = min(max_slices, len(reference["images"]))
    columns = 2 + len(snapshots)
    figure = Figure(figsize=(1.7 * columns, 1.7 * rows + 0.9), dpi=120)
    axes = figure.subplots(rows, columns, squeeze=False)
    panels = {
        name: _missing_panel if snapshot is None else _prediction_panel(snapshot["prediction"])
        for name, snapshot in snapshots.items()
    }
    _slice_rows(lambda r: axes[r], reference, rows, panels)
    arrays = [reference["labels"]] + [s["prediction"] for s in present.values()]
    _finish(figure, class_names, arrays, title)
    return figure


def sbcal_figure(
    snapshot: dict[str, np.ndarray],
    class_names: list[str],
    *,
    title: str = "",
    max_slices: int = 4,
    max_pool: int = 5,
) -> Figure:
    """Per slice: image, ground truth, SFP distance (max over channels), coarse and refined
    prediction; then rows of the highest- and lowest-CS pool images (up to ``max_pool``) with
    their scores, when the snapshot holds them."""
    rows = min(max_slices, len(snapshot["images"]))
    pool_rows = [side for side in ("high", "low") if f"cs_{side}_images" in snapshot]
    n_pool = max([min(max_pool, len(snapshot[f"cs_{side}_images"])) for side in pool_rows], default=0)
    panels = {
        "SFP distance": _distance_panel(snapshot.get("distance")),
        "coarse": _prediction_panel(snapshot.get("coarse")),
        "refined (ASR)": _prediction_panel(snapshot["prediction"]),
    }
    columns = max(2 + len(panels), n_pool)
    figure = Figure(figsize=(1.7 * columns, 1.7 * (rows + len(pool_rows)) + 0.9), dpi=120)
    grid = figure.add_gridspec(rows + len(pool_rows), columns)
    _slice_rows(
        lambda r: [figure.add_subplot(grid[r, c]) for c in range(2 + len(panels))], snapshot, rows, panels
    )
    for offset, side in enumerate(pool_rows):
        images, scores = snapshot[f"cs_{side}_images"], snapshot[f"cs_{side}_scores"]
        for c in range(min(max_pool, len(images))):
            axis = figure.add_subplot(grid[rows + offset, c])
            _image(axis, images[c])
            axis.set_title(f"CS {scores[c]:.3f}", fontsize=7)
            if c == 0:
                axis.set_ylabel(f"{side}est CS", fontsize=8)
    _finish(figure, class_names, [snapshot["labels"], snapshot["prediction"], snapshot.get("coarse")], title)
    return figure


def write_qualitative_figures(
    results: pd.DataFrame,
    run_dir: str | Path,
    class_names: list[str],
    *,
    budget: float | str | None = None,
    seed: int = 0,
    max_slices: int = 4,
) -> tuple[list[Path], list[str]]:
    """Write ``qualitative.png`` and ``sbcal_outputs.png`` into ``run_dir`` from its snapshots.

    ``budget``: an AL budget of the run (see :func:`resolve_budget`; default the middle one).
    Returns the written paths and notes on what was skipped and why (no ``snapshots`` folder, no
    snapshot for the seed and budget, no ``sbc_al`` snapshot); missing snapshots never raise."""
    if max_slices < 1:
        raise ConfigError(f"max_slices must be at least 1, got {max_slices}")
    run_dir = Path(run_dir)
    notes: list[str] = []
    if not (run_dir / "snapshots").is_dir():
        notes.append(f"qualitative.png, sbcal_outputs.png skipped: no snapshots folder in {run_dir}")
        return [], notes
    chosen = resolve_budget(results, budget)
    where = f"seed {seed}, budget {budget_label(chosen)}"
    snapshots: dict[str, dict[str, np.ndarray] | None] = {}
    rounds: dict[str, int] = {}
    for strategy in dict.fromkeys(results["strategy"]):
        round_index = _round_of(results, strategy, seed, chosen)
        path = snapshot_path(run_dir, strategy, seed, round_index) if round_index is not None else None
        if path is None or not path.is_file():
            snapshots[strategy] = None
            continue
        snapshots[strategy] = load_snapshot(path)
        rounds[strategy] = round_index  # type: ignore[assignment]
    written: list[Path] = []
    if not rounds:
        notes.append(f"qualitative.png, sbcal_outputs.png skipped: no snapshot for {where}")
        return written, notes
    absent = [name for name, snapshot in snapshots.items() if snapshot is None]
    if absent:
        notes.append(f"qualitative.png: no snapshot for {', '.join(absent)} at {where}")
    round_text = ", ".join(sorted({f"round {r}" for r in rounds.values()}))
    figure = qualitative_figure(
        snapshots, class_names, title=f"Predictions at {where} ({round_text})", max_slices=max_slices
    )
    written.append(save_figure(figure, run_dir / "qualitative.png"))
    sbcal = snapshots.get(SBCAL_STRATEGY)
    if sbcal is None:
        notes.append(f"sbcal_outputs.png skipped: no {SBCAL_STRATEGY} snapshot at {where}")
    else:
        figure = sbcal_figure(
            sbcal,
            class_names,
            title=f"{SBCAL_STRATEGY} at {where} (round {rounds[SBCAL_STRATEGY]})",
            max_slices=max_slices,
        )
        written.append(save_figure(figure, run_dir / "sbcal_outputs.png"))
    return written, notes
