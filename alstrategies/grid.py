"""Grids of config variants (ablations): one run folder per variant under a grid folder.

A config with a ``[grid]`` section, e.g.::

    [grid]
    budget = 1.0                      # the budget the ablation table reads
    layout = "variant_by_class"       # or "strategy_by_variant"
    variants.none = { "model.asr" = "none" }
    variants.attention = { "model.asr" = "attention" }

runs the protocol once per variant (the base config with the variant's keys set) into
``OUT/<variant>/`` and writes ``OUT/grid.json``, which ``alstrategies report OUT`` turns into
the ablation table. ``reuse.<variant> = "../other_run"`` (a path from ``OUT``) takes an existing
run folder for a variant at budget 1.0 instead of training it again, when that folder's 100 %
models were trained exactly as the variant's would be (:func:`check_reuse`).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

from alstrategies.atomic import atomic_write_text
from alstrategies.config import (
    DEFAULTS,
    ConfigError,
    differences,
    fill_defaults,
    fingerprint,
    set_key,
    validate,
)
from alstrategies.engine.layout import GridLayout, RunLayout

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
    path = GridLayout(out_dir).manifest
    manifest = {
        "name": name,
        "variants": list(grid["variants"]),
        "overrides": grid["variants"],
        "budget": grid["budget"] or 1.0,
        "layout": grid["layout"],
        "folders": dict(grid.get("reuse") or {}),
    }
    atomic_write_text(path, json.dumps(manifest, indent=1))
    return path


#: What a 100 % model depends on (warm-started, also its round-0 model): a reused folder must
#: agree on these, whatever its strategies, seeds and later budgets.
FULL_MODEL_KEYS = ("data", "model", "loss", "train", "protocol.initial_fraction", "protocol.include_full")


def check_reuse(config: dict, out_dir: str | Path) -> dict[str, Path]:
    """The reused folder of each variant in ``grid.reuse``, checked: a known variant, budget
    1.0, a run folder whose config agrees with the variant's on :data:`FULL_MODEL_KEYS`."""
    grid = config["grid"]
    reuse = grid.get("reuse") or {}
    if not reuse:
        return {}
    if (grid["budget"] or 1.0) != 1.0:
        raise ConfigError("grid.reuse takes the 100 % models of another run: it needs grid.budget = 1.0")
    variants = expand_grid(config)
    folders = {}
    for name, relative in reuse.items():
        if name not in variants:
            raise ConfigError(f"grid.reuse.{name}: no such variant (variants: {', '.join(variants)})")
        if not isinstance(relative, str) or not relative:
            raise ConfigError(
                f'grid.reuse.{name} must be a run folder\'s path from the grid folder, e.g. "../run"'
            )
        folder = Path(os.path.normpath(GridLayout(out_dir).variant(name, relative)))  # also before OUT exists
        recorded = RunLayout(folder).config
        if not recorded.is_file():
            raise ConfigError(
                f"grid.reuse.{name} = {relative!r}: {recorded} not found; run that folder first "
                "(or remove the key to train the variant)"
            )
        mine, theirs = fingerprint(variants[name]), fill_defaults(json.loads(recorded.read_text()))
        diff = [
            line
            for key in FULL_MODEL_KEYS
            for line in differences(_pick(theirs, key), _pick(mine, key), f"{key}.")
        ]
        if diff:
            raise ConfigError(
                f"grid.reuse.{name}: {folder} trained its 100 % models differently:\n  " + "\n  ".join(diff)
            )
        folders[name] = folder
    return folders


def _pick(config: dict, dotted: str) -> dict:
    section, _, key = dotted.partition(".")
    return config.get(section, {}) if not key else {key: config.get(section, {}).get(key)}
