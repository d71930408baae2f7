"""One colour (and line style) per strategy *name*, shared by every figure of every run.

A strategy keeps its colour whichever other strategies a run holds: the colour is a function of
the name alone. The built-in strategies have a fixed table of colour-blind-friendly colours
(Okabe & Ito 2008, then Paul Tol's muted and high-contrast palettes), Random in a neutral grey;
the controls (``oracle``, ``confident``, ``empty_first``, ``random_foreground``,
``random_foreground_oracle``) are drawn dashed. Any other name hashes (SHA-256, not Python's
salted ``hash``) to a stable colour of the same palettes and a marker.

A figure takes its colours from :func:`figure_styles`: the built-ins keep theirs, and a name
that is not a built-in keeps its hashed colour unless a built-in of the same figure has it (or
another such name that sorts before it): then it takes the next free colour of the palette from
its hashed position on, then of a few extra colours (:data:`FIGURE_COLORS`). So the colours of
one figure are pairwise distinct while :data:`FIGURE_COLORS` has one left that the figure does
not use, the same in every process, and depend on the set of names in the figure, not on their
order; a built-in's colour never changes.

``CLASS_COLORS`` is the colour of each foreground class in segmentation overlays (class 1, 2, ...
in Okabe–Ito order: RV orange, MYO sky blue, LV bluish green on ACDC); background is transparent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from matplotlib.colors import to_rgb

__all__ = [
    "CLASS_COLORS",
    "CONTROL_STRATEGIES",
    "FIGURE_COLORS",
    "OKABE_ITO",
    "STRATEGY_COLORS",
    "STRATEGY_MARKERS",
    "TOL_MUTED",
    "class_color",
    "figure_styles",
    "is_control",
    "strategy_color",
    "strategy_style",
]

#: Okabe–Ito, in its published order (black first).
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Paul Tol's muted scheme (without its pale grey, reserved for missing data).
TOL_MUTED = {
    "indigo": "#332288",
    "cyan": "#88CCEE",
    "teal": "#44AA99",
    "green": "#117733",
    "olive": "#999933",
    "sand": "#DDCC77",
    "rose": "#CC6677",
    "wine": "#882255",
    "purple": "#AA4499",
}

#: Overlay colour of foreground class 1, 2, ... (cycled): Okabe–Ito without black, which would
#: vanish on the dark background of a medical image.
CLASS_COLORS: tuple[str, ...] = tuple(color for name, color in OKABE_ITO.items() if name != "black")

#: The strategies drawn dashed: sanity controls, not query strategies to rank.
CONTROL_STRATEGIES = frozenset(
    {"oracle", "confident", "empty_first", "random_foreground", "random_foreground_oracle"}
)

#: Fixed colours of the built-in strategies (pairwise distinct).
STRATEGY_COLORS: dict[str, str] = {
    "random": "#666666",  # neutral grey: the baseline
    "max_entropy": OKABE_ITO["blue"],
    "least_confidence": OKABE_ITO["sky_blue"],
    "margin": OKABE_ITO["bluish_green"],
    "mean_std": OKABE_ITO["reddish_purple"],
    "vaal": OKABE_ITO["orange"],
    "sbc_al": OKABE_ITO["vermillion"],
    "bald": TOL_MUTED["indigo"],
    "power_bald": TOL_MUTED["purple"],
    "coreset": TOL_MUTED["olive"],
    "badge": TOL_MUTED["wine"],
    "typiclust": TOL_MUTED["teal"],
    "oracle": OKABE_ITO["black"],
    "confident": TOL_MUTED["rose"],
    "random_foreground": "#997700",  # Tol high-contrast dark yellow
    "random_foreground_oracle": TOL_MUTED["green"],
}
#: Fixed markers of the built-in strategies (a second cue beside the colour).
STRATEGY_MARKERS: dict[str, str] = {
    "random": "o",
    "max_entropy": "s",
    "least_confidence": "^",
    "margin": "v",
    "mean_std": "D",
    "vaal": "P",
    "sbc_al": "*",
    "bald": "X",
    "power_bald": "h",
    "coreset": "p",
    "badge": "<",
    "typiclust": ">",
    "oracle": "x",
    "confident": "+",
    "random_foreground": "d",
    "random_foreground_oracle": "H",
}
#: Colours an unknown name may hash to: every palette colour except the greys and the yellows,
#: which are hard to see as lines on white.
_HASHED_COLORS: tuple[str, ...] = tuple(
    color
    for color in (*OKABE_ITO.values(), *TOL_MUTED.values())
    if color not in (OKABE_ITO["black"], OKABE_ITO["yellow"], TOL_MUTED["sand"])
)
_HASHED_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "h", "p", "<", ">", "d")
#: What a name that is not a built-in may get in a figure: the colours it may hash to, then
#: colours more than 15 CIELAB units (CIE76) from every colour of the built-ins and of those
#: palettes and from each other (Tol's vibrant magenta, light pear, light orange, light pink and
#: high-contrast blue, a brown and a dark teal).
FIGURE_COLORS: tuple[str, ...] = (
    *_HASHED_COLORS,
    "#EE3377",
    "#BBCC33",
    "#8C564B",
    "#004488",
    "#EE8866",
    "#008695",
    "#FFAABB",
)


def _digest(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


def is_control(name: str) -> bool:
    """Whether ``name`` is one of :data:`CONTROL_STRATEGIES` (drawn dashed)."""
    return name in CONTROL_STRATEGIES


def strategy_color(name: str) -> str:
    """The hex colour of strategy ``name``: the fixed one of a built-in, else one of the palette
    chosen by a SHA-256 hash of the name (the same in every run and process)."""
    if name in STRATEGY_COLORS:
        return STRATEGY_COLORS[name]
    return _HASHED_COLORS[_digest(name) % len(_HASHED_COLORS)]


def strategy_style(name: str) -> dict[str, Any]:
    """Keyword arguments for ``Axes.plot``: ``color``, ``linestyle`` (``"--"`` for a control,
    ``"-"`` otherwise) and ``marker``, e.g. ``axis.plot(x, y, **strategy_style(name), label=name)``."""
    marker = STRATEGY_MARKERS.get(name) or _HASHED_MARKERS[(_digest(name) >> 32) % len(_HASHED_MARKERS)]
    return {"color": strategy_color(name), "linestyle": "--" if is_control(name) else "-", "marker": marker}


def figure_styles(names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """:func:`strategy_style` of each of ``names``, with the colours of one figure made distinct.
    A name that is not a built-in keeps its hashed colour unless a built-in of ``names`` (or
    such a name sorted before it) already has it; then it takes the first free colour of the
    hashed palette read on from its hashed position, else the first free one of the rest of
    :data:`FIGURE_COLORS` (its own hashed colour again when every colour is taken)."""
    unique = list(dict.fromkeys(names))
    styles = {name: strategy_style(name) for name in unique}
    taken = {styles[name]["color"].upper() for name in unique if name in STRATEGY_COLORS}
    hashed, extra = FIGURE_COLORS[: len(_HASHED_COLORS)], FIGURE_COLORS[len(_HASHED_COLORS) :]
    for name in sorted(name for name in unique if name not in STRATEGY_COLORS):
        start = _digest(name) % len(hashed)  # the index strategy_color hashed the name to
        order = [*hashed[start:], *hashed[:start], *extra]
        free = [color for color in order if color.upper() not in taken]
        styles[name]["color"] = free[0] if free else order[0]
        taken.add(styles[name]["color"].upper())
    return styles


def class_color(index: int) -> tuple[float, float, float]:
    """RGB of foreground class ``index`` (1-based; cycled through :data:`CLASS_COLORS`)."""
    if index < 1:
        raise ValueError(f"class index must be >= 1 (0 is background), got {index}")
    return to_rgb(CLASS_COLORS[(index - 1) % len(CLASS_COLORS)])
