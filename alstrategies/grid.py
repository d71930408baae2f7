"""Grids of config variants (ablations): one run folder per variant under a grid folder.

A config with a ``[grid]`` section, e.g.::

    [grid]
    budget = 1.0                      # the budget the ablation table reads
    layout = "variant_by_class"       # or "strategy_by_variant"
    variants.none = { "model.asr" = "none" }
    variants.attention = { "model.asr" = "attention" }

runs the protocol once per variant (the base config with the variant's keys set) into
``OUT/<variant>/`` and writes ``OUT/grid.json``, which ``alstrategies report OUT`` turns into
the ablation table.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from alstrategies.atomic import atomic_write_text
from alstrategies.config import DEFAULTS, ConfigError, set_key, validate

LAYOUTS = ("variant_by_class", "strategy_by_variant")


def is_grid(config: dict) -> bool:
    return bool(config.get("grid", {}).get("variants"))


def expand_grid(config: dict) -> dict[str, dict]:
    """``{variant name: validated config}``, in the order the config lists them."""
    grid = config["grid"]
    if grid["layout"] not in LAYOUTS:
        raise ConfigError(f"grid.layout = {grid['layout']!r} is not one of {LAYOUTS}")
    variants = {}
    for name, overrides in grid["variants"].items():
        if not isinstance(overrides, dict) or not overrides:
            raise ConfigError(
                f"grid.variants.{name} must be a table of config keys, e.g. "
                f'variants.{name} = {{ "model.asr" = "none" }}; got {overrides!r}'
            )
        variant = copy.deepcopy(config)
        variant["grid"] = copy.deepcopy(DEFAULTS["grid"])
        for key, value in overrides.items():
            if key.startswith("grid."):
                raise ConfigError(f"grid.variants.{name} cannot set {key!r}")
            set_key(variant, key, value)
        try:
            variants[name] = validate(variant)
        except ConfigError as error:
            raise ConfigError(f"grid variant {name!r}: {error}") from None
    return variants


def write_grid_manifest(out_dir: str | Path, name: str, config: dict) -> Path:
    """``grid.json``: the variants, the budget and the layout of the ablation table."""
    grid = config["grid"]
    path = Path(out_dir) / "grid.json"
    manifest = {
        "name": name,
        "variants": list(grid["variants"]),
        "overrides": grid["variants"],
        "budget": grid["budget"] or 1.0,
        "layout": grid["layout"],
    }
    atomic_write_text(path, json.dumps(manifest, indent=1))
    return path
