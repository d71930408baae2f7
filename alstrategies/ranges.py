"""The allowed range of every numeric config key, checked in one place before anything runs.

The ranges are declared on the fields of :mod:`alstrategies.settings`
(``field(default=..., metadata={"range": (low, high, low_open, high_open), "note": "..."})``);
:data:`RANGES` and :data:`NOTES` are derived from them, so an option is declared in one place. Each entry is ``section.key -> (low, high, low_open, high_open)``: the value must lie in the
interval, ``None`` meaning unbounded on that side. A value outside is one line naming the key,
the value, the range and what the key means when it has a special value.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from alstrategies.errors import ConfigError
from alstrategies.settings import NOTES as SETTINGS_NOTES
from alstrategies.settings import SECTIONS

Range = tuple[float | None, float | None, bool, bool]

#: section.key -> (low, high, low_open, high_open): every field of :mod:`alstrategies.settings` that
#: declares ``metadata={"range": ...}``, in schema order (the first value outside is the one named).
RANGES: dict[str, Range] = {
    f"{section}.{f.name}": f.metadata["range"]
    for section, cls in SECTIONS.items()
    for f in fields(cls)
    if "range" in f.metadata
}

#: What a special value means, for the message: the fields' ``metadata={"note": ...}``.
NOTES: dict[str, str] = SETTINGS_NOTES


def describe(bounds: Range) -> str:
    """``bounds`` as an interval, e.g. ``(0, 1]`` or ``>= 1``."""
    low, high, low_open, high_open = bounds
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def inside(value: float, bounds: Range) -> bool:
    low, high, low_open, high_open = bounds
    if low is not None and (value < low or (low_open and value == low)):
        return False
    return not (high is not None and (value > high or (high_open and value == high)))


def check_ranges(config: dict[str, dict[str, Any]]) -> None:
    """Refuse the first numeric value outside its range, and seeds that repeat or are no ints."""
    for dotted, bounds in RANGES.items():
        section, key = dotted.split(".")
        value = config.get(section, {}).get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # types are checked by config.validate
        if not inside(value, bounds):
            note = f" ({NOTES[dotted]})" if dotted in NOTES else ""
            raise ConfigError(f"{dotted} must be {describe(bounds)}{note}, got {value!r}")
    for dotted in ("protocol.seeds", "snapshots.seeds"):
        section, key = dotted.split(".")
        seeds = config.get(section, {}).get(key, [])
        if not isinstance(seeds, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in seeds
        ):
            raise ConfigError(f"{dotted} must be a list of integer seeds, e.g. [0, 1, 2], got {seeds!r}")
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            raise ConfigError(f"{dotted} lists seed(s) {repeated} more than once; give each seed once")
    if config.get("protocol", {}).get("seeds") == []:
        raise ConfigError("protocol.seeds is empty; give at least one seed, e.g. protocol.seeds=[0]")
