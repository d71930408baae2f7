"""Qualitative figures from prediction snapshots (paper Figs. 2 and 3).

``qualitative.png``: one row per test slice (named by volume and slice); columns: the image, the
ground truth, then each strategy's prediction at one budget and seed, as label overlays in the
colour-blind-safe class palette (:data:`~alstrategies.report.palette.CLASS_COLORS`) and the
slice's Dice ("Dice 87.3 %": mean over the foreground classes present in the ground truth or the
prediction) in the corner.

``sbcal_outputs.png``: for the ``sbc_al`` snapshot at the same budget and seed, two labelled
blocks. *Test slices*: per slice the image, the ground truth, the SFP distance output (maximum
over the foreground channels, one colour bar), the coarse and the refined (ASR) prediction.
*Pool images*: the pool images with the highest and with the lowest consistency score (CS), each
titled with its score; the block title says so when all the scores are equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.image import AxesImage
from matplotlib.patches import Patch

from alstrategies.engine.layout import RunLayout
from alstrategies.errors import ConfigError
from alstrategies.report.budget_choice import parse_budget, resolve_budget, round_of
from alstrategies.report.io import save_figure
from alstrategies.report.palette import CLASS_COLORS, class_color
from alstrategies.report.snapshots import SnapshotError, load_snapshot, snapshot_path
from alstrategies.report.tables import budget_label

__all__ = [
    "CLASS_COLORS",
    "SBCAL_STRATEGY",
    "all_scores_equal",
    "class_color",
    "foreground_distance",
    "overlay_rgba",
    "parse_budget",
    "qualitative_figure",
    "resolve_budget",
    "sbcal_figure",
    "slice_dice",
    "slice_label",
    "write_qualitative_figures",
]

#: The strategy whose snapshots feed ``sbcal_outputs.png``.
SBCAL_STRATEGY = "sbc_al"
_PANEL = 1.7  # inches per panel
_SLICE_NAME = re.compile(r"^(?P<volume>.+):(?P<slice>\d+)$")


def overlay_rgba(label: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``H x W x 4`` RGBA overlay: each class in its :func:`class_color`, background transparent."""
    label = np.asarray(label)
    rgba = np.zeros((*label.shape, 4), dtype=np.float32)
    for index in np.unique(label):
        if index == 0:
            continue
        rgba[label == index] = (*class_color(int(index)), alpha)
    return rgba


def slice_label(name: str) -> str:
    """A row name: ``"patient001_frame01:5"`` -> ``"patient001_frame01\nslice 5"``; other names as
    they are."""
    match = _SLICE_NAME.match(str(name))
    return f"{match['volume']}\nslice {int(match['slice'])}" if match else str(name)


def slice_dice(prediction: np.ndarray, label: np.ndarray) -> float:
    """Mean 2|P ∩ G| / (|P| + |G|) over the foreground classes present in either; NaN if none."""
    classes = np.union1d(np.unique(prediction), np.unique(label))
    scores = []
    for index in classes[classes > 0]:
        p, g = prediction == index, label == index
        scores.append(2.0 * np.logical_and(p, g).sum() / (p.sum() + g.sum()))
    return float(np.mean(scores)) if scores else float("nan")


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
            text = f"Dice {100 * dice:.1f} %"
            axis.text(0.03, 0.03, text, color="white", fontsize=7, transform=axis.transAxes, bbox=box)


def _legend(figure: Figure, class_names: list[str], num_classes: int) -> None:
    """The class legend below every panel (constrained layout keeps it clear of them)."""
    names = list(class_names) + [f"class {i}" for i in range(len(class_names) + 1, num_classes)]
    handles = [Patch(color=class_color(i + 1), label=name) for i, name in enumerate(names[: num_classes - 1])]
    if handles:
        figure.legend(
            handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False
        )


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


def foreground_distance(
    distance: np.ndarray, num_classes: int, class_names: Sequence[str] = ()
) -> tuple[np.ndarray, str]:
    """``(n, H, W)``: per pixel the maximum of the SFP distance maps ``(n, D, H, W)`` over the
    foreground classes, and what was taken. ``D == num_classes`` (C maps): map 0 is the
    background's and is left out; ``D == num_classes - 1`` (F maps): all maps are foreground;
    any other ``D``: the maximum over all maps."""
    maps = np.asarray(distance, dtype=np.float32)
    channels = maps.shape[1]
    names = list(class_names)[: num_classes - 1]
    over = ", ".join(names) if len(names) == num_classes - 1 and names else "the foreground maps"
    if channels == num_classes and channels > 1:
        return maps[:, 1:].max(axis=1), f"max over {over}\n(background map left out)"
    if channels == num_classes - 1:
        return maps.max(axis=1), f"max over {over}"
    return maps.max(axis=1), f"max over all {channels} maps"


def _distance_panel(maps: np.ndarray | None, vmax: float, drawn: list[AxesImage]) -> PanelDrawer:
    """The SFP distance of slice ``r`` on the colour scale ``0 .. vmax`` (appended to ``drawn``
    for the colour bar); "not saved" if None."""

    def draw(axis: Axes, r: int, image: np.ndarray, truth: np.ndarray) -> None:
        if maps is None:
            _labelled(axis, image, None)
            return
        drawn.append(axis.imshow(maps[r], cmap="magma", vmin=0.0, vmax=vmax, interpolation="nearest"))
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
    readable slice names (:func:`slice_label`) label the rows and the headings title the first row."""
    headings = ["image", "ground truth", *panels]
    for r in range(rows):
        image, truth = snapshot["images"][r], snapshot["labels"][r]
        axes = row_axes(r)
        _image(axes[0], image)
        _labelled(axes[1], image, truth)
        for axis, draw in zip(axes[2:], panels.values()):
            draw(axis, r, image, truth)
        axes[0].set_ylabel(slice_label(snapshot["slice_names"][r]), fontsize=7)
        if r == 0:
            for axis, heading in zip(axes, headings):
                axis.set_title(heading, fontsize=8)


def _finish(figure: Figure, class_names: list[str], arrays: list[np.ndarray | None], title: str) -> None:
    """The class legend (over the labels in ``arrays``) and the title."""
    _legend(figure, class_names, _num_classes(class_names, *arrays))
    if title:
        figure.suptitle(title, fontsize=9)


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
    figure = Figure(figsize=(_PANEL * columns, _PANEL * rows + 0.9), dpi=120, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    panels = {
        name: _missing_panel if snapshot is None else _prediction_panel(snapshot["prediction"])
        for name, snapshot in snapshots.items()
    }
    _slice_rows(lambda r: axes[r], reference, rows, panels)
    arrays: list[np.ndarray | None] = [reference["labels"], *(s["prediction"] for s in present.values())]
    _finish(figure, class_names, arrays, title)
    return figure


def all_scores_equal(snapshot: dict[str, np.ndarray]) -> bool:
    """Whether the snapshot's pool images (highest and lowest CS together, at least two) all have
    the same consistency score, so that "highest" and "lowest" are an arbitrary choice."""
    scores = np.concatenate(
        [
            np.asarray(snapshot[f"cs_{side}_scores"], float).ravel()
            for side in ("high", "low")
            if f"cs_{side}_scores" in snapshot
        ]
        or [np.empty(0)]
    )
    return scores.size >= 2 and bool(np.all(scores == scores[0]))


def _pool_block(
    block: SubFigure, snapshot: dict[str, np.ndarray], sides: list[str], columns: int, max_pool: int
) -> None:
    """One row per side (highest, lowest CS) of pool images titled with their scores."""
    title = "Pool images with the highest / lowest consistency score (CS)"
    if all_scores_equal(snapshot):
        value = float(np.asarray(snapshot[f"cs_{sides[0]}_scores"])[0])
        title += f"\nall CS values are equal ({value:.3f}): which images are highest or lowest is arbitrary"
    block.suptitle(title, fontsize=9)
    grid = block.add_gridspec(len(sides), columns)
    for row, side in enumerate(sides):
        images, scores = snapshot[f"cs_{side}_images"], snapshot[f"cs_{side}_scores"]
        for c in range(min(max_pool, len(images))):
            axis = block.add_subplot(grid[row, c])
            _image(axis, images[c])
            axis.set_title(f"CS {scores[c]:.3f}", fontsize=7)
            if c == 0:
                axis.set_ylabel(f"{side}est CS", fontsize=8)


def sbcal_figure(
    snapshot: dict[str, np.ndarray],
    class_names: list[str],
    *,
    title: str = "",
    max_slices: int = 4,
    max_pool: int = 5,
) -> Figure:
    """Two labelled blocks. *Test slices*: per slice the image, the ground truth, the SFP distance
    (:func:`foreground_distance`, with a colour bar), the coarse and the refined prediction.
    *Pool images* (when the snapshot holds them): a row of the highest- and one of the lowest-CS
    pool images (up to ``max_pool`` each) titled with their scores."""
    rows = min(max_slices, len(snapshot["images"]))
    sides = [side for side in ("high", "low") if f"cs_{side}_images" in snapshot]
    n_pool = max([min(max_pool, len(snapshot[f"cs_{side}_images"])) for side in sides], default=0)
    labels = [snapshot["labels"], snapshot["prediction"], snapshot.get("coarse")]
    num_classes = _num_classes(class_names, *labels)
    maps, described = None, ""
    if snapshot.get("distance") is not None:
        maps, described = foreground_distance(snapshot["distance"][:rows], num_classes, class_names)
    vmax = max(1.0, float(maps.max())) if maps is not None and maps.size else 1.0
    drawn: list[AxesImage] = []
    panels = {
        "SFP distance": _distance_panel(maps, vmax, drawn),
        "coarse": _prediction_panel(snapshot.get("coarse")),
        "refined (ASR)": _prediction_panel(snapshot["prediction"]),
    }
    columns = max(2 + len(panels), n_pool)
    heights = [_PANEL * rows + 0.9] + ([_PANEL * len(sides) + 0.6] if sides else [])
    figure = Figure(figsize=(_PANEL * columns, sum(heights) + 0.8), dpi=120, layout="constrained")
    blocks = figure.subfigures(len(heights), 1, height_ratios=heights, squeeze=False)[:, 0]
    headings = " / ".join(["image", "ground truth", *panels])
    blocks[0].suptitle(f"Test slices: {headings}", fontsize=9)
    # a last, thin grid row holds the colour bar under the SFP column, so the panels stay aligned
    grid = blocks[0].add_gridspec(rows + 1, columns, height_ratios=[1.0] * rows + [0.07])
    slice_axes: list[list[Axes]] = []

    def row_axes(r: int) -> list[Axes]:
        slice_axes.append([blocks[0].add_subplot(grid[r, c]) for c in range(2 + len(panels))])
        return slice_axes[-1]

    _slice_rows(row_axes, snapshot, rows, panels)
    if drawn:
        bar = blocks[0].colorbar(drawn[0], cax=blocks[0].add_subplot(grid[rows, 2]), orientation="horizontal")
        bar.ax.set_label("<colorbar>")
        bar.set_label(f"SFP distance: {described}", fontsize=7)
        bar.ax.tick_params(labelsize=6)
    if sides:
        _pool_block(blocks[1], snapshot, sides, columns, max_pool)
    _finish(figure, class_names, labels, title)
    return figure


def write_qualitative_figures(
    results: pd.DataFrame,
    run_dir: str | Path,
    class_names: list[str],
    *,
    budget: float | str | None = None,
    seed: int = 0,
    max_slices: int = 4,
    strategies: Sequence[str] | None = None,
) -> tuple[list[Path], list[str]]:
    """Write ``qualitative.png`` and ``sbcal_outputs.png`` into ``run_dir`` from its snapshots.

    ``budget``: an AL budget of the run (see :func:`resolve_budget`; default the middle one);
    ``strategies``: the prediction columns, in this order (default: every strategy of ``results``;
    ``sbcal_outputs.png`` only when ``sbc_al`` is one of them).
    Returns the written paths and notes on what was skipped and why (no ``snapshots`` folder, no
    snapshot for the seed and budget, no ``sbc_al`` snapshot); missing snapshots never raise."""
    if max_slices < 1:
        raise ConfigError(f"max_slices must be at least 1, got {max_slices}")
    run_dir = Path(run_dir)
    layout = RunLayout(run_dir)
    notes: list[str] = []
    if not layout.snapshots_dir.is_dir():
        notes.append(f"qualitative.png, sbcal_outputs.png skipped: no snapshots folder in {run_dir}")
        return [], notes
    chosen = resolve_budget(results, budget)
    where = f"seed {seed}, budget {budget_label(chosen)}"
    snapshots: dict[str, dict[str, np.ndarray] | None] = {}
    rounds: dict[str, int] = {}
    names = list(dict.fromkeys(results["strategy"])) if strategies is None else list(strategies)
    for strategy in names:
        round_index = round_of(results, strategy, seed, chosen)
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
    written.append(save_figure(figure, layout.qualitative))
    sbcal = snapshots.get(SBCAL_STRATEGY)
    if SBCAL_STRATEGY not in names and SBCAL_STRATEGY in set(results["strategy"]):
        notes.append(f"sbcal_outputs.png skipped: {SBCAL_STRATEGY} is not among the strategies shown")
    elif sbcal is None:
        notes.append(f"sbcal_outputs.png skipped: no {SBCAL_STRATEGY} snapshot at {where}")
    else:
        figure = sbcal_figure(
            sbcal,
            class_names,
            title=f"{SBCAL_STRATEGY} at {where} (round {rounds[SBCAL_STRATEGY]})",
            max_slices=max_slices,
        )
        written.append(save_figure(figure, layout.sbcal_outputs))
    return written, notes
