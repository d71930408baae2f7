"""Experiment configuration: TOML files, defaults, ``--set key=value`` overrides, validation.

Every config has the fixed sections below. Two sections are open: ``data`` also accepts the
keyword arguments of the chosen dataset's loader, and ``strategies.<name>`` holds the keyword
options of strategy ``<name>``. Unknown keys are errors that list the valid ones.
"""

from __future__ import annotations

import copy
import inspect
import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, get_args

from alstrategies.errors import ConfigError
from alstrategies.ranges import check_ranges
from alstrategies.registry import did_you_mean
from alstrategies.settings import (
    CHOICES,
    DEFAULT_SAMPLING,
    NOTES,
    DataConfig,
    DistanceClasses,
    LrSchedule,
    Networks,
    SamplingRule,
    Settings,
    WarmSchedule,
    section_defaults,
)

#: Every section's keys and defaults, derived from the typed sections of :mod:`alstrategies.settings`.
DEFAULTS: dict[str, dict[str, Any]] = section_defaults()

#: ``model.distance_classes``: SBC distance maps over every label, or over the foreground only.
DISTANCE_CLASSES: tuple[DistanceClasses, ...] = get_args(DistanceClasses)
#: ``query.sampling``: take the top k, or draw k with probabilities from the scores (Kirsch et al.).
SAMPLINGS: tuple[SamplingRule, ...] = get_args(SamplingRule)
#: ``protocol.networks`` (DESIGN section 5).
NETWORKS: tuple[Networks, ...] = get_args(Networks)
#: ``train.lr_schedule``: the paper's step decay, or nnU-Net's polynomial decay to 0 per training.
LR_SCHEDULES: tuple[LrSchedule, ...] = get_args(LrSchedule)
#: ``train.warm_schedule``: what a warm-started training's learning rate does (DESIGN section 5).
WARM_SCHEDULES: tuple[WarmSchedule, ...] = get_args(WarmSchedule)

#: Keys that may differ between invocations on one run folder (they select, not define, work).
SELECTION_KEYS = (
    "protocol.seeds",
    "strategies.names",
    "strategies.controls",
    "data.root",  # where the files are, not what they are: the run folder's dataset.json checks that
    "data.cache",
    "data.cache_dir",
    "snapshots.slices",
    "snapshots.seeds",
    "snapshots.checkpoints",
    *(f"executor.{key}" for key in DEFAULTS["executor"]),
)


def _merge(base: dict, override: dict, path: str = "") -> dict:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, f"{path}{key}.")
        else:
            base[key] = value
    return base


def parse_value(text: str) -> Any:
    """Parse a ``--set`` value as a TOML literal; bare words stay strings."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignment(assignment: str) -> tuple[str, Any]:
    if "=" not in assignment:
        raise ConfigError(f"--set expects key=value (e.g. train.epochs=2), got {assignment!r}")
    key, text = assignment.split("=", 1)
    return key.strip(), parse_value(text.strip())


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def names_option(text: str | None, option: str, example: str) -> list[str] | None:
    """The names of a comma-separated option such as ``--strategies a,b`` (None when not
    given); an empty list is refused, since it would silently mean the config's."""
    if text is None:
        return None
    if not _split(text):
        raise ConfigError(
            f"{option} is empty ({text!r}): give comma-separated names (e.g. {example}), "
            "or leave it out for the config's"
        )
    return _split(text)


def seeds_option(text: str | None) -> list[int] | None:
    """The seeds of ``--seeds 0,1,2`` (None when not given), checked like ``protocol.seeds``."""
    from alstrategies.engine.protocol import check_seeds

    names = names_option(text, "--seeds", "0,1,2")
    if names is None:
        return None
    try:
        seeds = [int(part) for part in names]
    except ValueError:
        raise ConfigError(f"--seeds expects comma-separated integers (e.g. 0,1,2), got {text!r}") from None
    check_seeds(seeds, "--seeds")
    return seeds


def set_key(config: dict, dotted: str, value: Any) -> None:
    """Set ``section.key`` (or ``strategies.<name>.<option>``) in a nested dict."""
    parts = dotted.split(".")
    if len(parts) < 2 or not all(parts):
        raise ConfigError(f"config keys look like section.key (e.g. train.epochs), got {dotted!r}")
    node = config
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set {dotted!r}: {part!r} is a value, not a section")
    node[parts[-1]] = value


def _kwargs_of(factory: Any) -> dict[str, Any]:
    target = factory.__init__ if inspect.isclass(factory) else factory
    params = inspect.signature(target).parameters
    return {
        name: p.default
        for name, p in params.items()
        if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def _check_type(key: str, value: Any, default: Any) -> Any:
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, int) and isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, type(default)) or isinstance(value, bool) != isinstance(default, bool):
        raise ConfigError(
            f"{key} must be of type {type(default).__name__}, got {value!r}{_list_hint(key, value, default)}"
        )
    return value


def _list_hint(key: str, value: Any, default: Any) -> str:
    """How to quote a list that ``--set`` read as one string: ``[dice,hd95]`` is no TOML list
    (its words lack quotes), so :func:`parse_value` keeps it a bare word."""
    text = value.strip() if isinstance(value, str) else ""
    if not isinstance(default, list) or not (text.startswith("[") and text.endswith("]")):
        return ""
    if not all(isinstance(d, str) for d in default):  # a list of numbers: quotes are no fix
        return ""
    items = [item.strip().strip("'\"") for item in text[1:-1].split(",") if item.strip()]
    literal = ",".join(json.dumps(i) if isinstance(parse_value(i), str) else i for i in items)
    return f"; TOML strings need quotes, and the shell needs them kept: --set '{key}=[{literal}]'"


def validate(config: dict) -> dict:
    """Check every key against the schema; return the config with types normalised."""
    from alstrategies.registry import DATASETS, STRATEGIES

    unknown_sections = set(config) - set(DEFAULTS)
    if unknown_sections:
        raise ConfigError(
            f"unknown config section(s) {sorted(unknown_sections)}{did_you_mean(unknown_sections, DEFAULTS)}; "
            f"valid sections: {sorted(DEFAULTS)}"
        )
    for section, defaults in DEFAULTS.items():
        values = config.setdefault(section, {})
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table of keys, got {values!r}")
        open_keys: dict[str, Any] = {}
        if section == "data":
            open_keys = {
                k: v for k, v in _kwargs_of(DATASETS.get(values.get("name", DataConfig.name))).items()
            }
        if section == "strategies":
            for name in [k for k, v in values.items() if isinstance(v, dict)]:
                options = values[name]
                valid = _kwargs_of(STRATEGIES.get(name))
                bad = set(options) - set(valid)
                if bad:
                    raise ConfigError(
                        f"unknown option(s) {sorted(bad)} for strategy {name!r}; valid: "
                        f"{sorted(valid) or 'none (this strategy takes no options)'}"
                    )
                for key, value in options.items():
                    options[key] = _check_type(f"strategies.{name}.{key}", value, valid[key])
            open_keys = {k: {} for k, v in values.items() if isinstance(v, dict)}
        allowed = {**defaults, **open_keys}
        unknown = set(values) - set(allowed)
        if unknown:
            listed = ", ".join(f"{section}.{k}" for k in sorted(allowed))
            hint = (
                " (strategy options go in [strategies.<name>], e.g. strategies.mean_std.passes)"
                if section == "strategies"
                else ""
            )
            raise ConfigError(
                f"unknown config key(s) {', '.join(f'{section}.{k}' for k in sorted(unknown))}"
                f"{did_you_mean(unknown, allowed, f'{section}.')}; valid keys: {listed}{hint}"
            )
        for key, value in list(values.items()):
            if key in allowed and not isinstance(allowed[key], dict):
                values[key] = _check_type(f"{section}.{key}", value, allowed[key])
    check_ranges(config)
    _check_protocol(config["protocol"])
    _check_choices(config)
    _check_model(config["model"])
    _check_evaluation(config["evaluation"])
    names = config["strategies"]["names"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"strategies.names must be a list of strategy names, got {names!r}")
    for name in names:
        STRATEGIES.get(name)  # raises with the list of registered names
    return config


def _check_protocol(protocol: dict) -> None:
    """Seeds that numpy takes (non-negative) and a budget schedule that runs the budgets asked
    for (:func:`~alstrategies.engine.protocol.budget_fractions`), before any data are loaded."""
    from alstrategies.engine.protocol import budget_fractions, check_seeds

    check_seeds(protocol["seeds"], "protocol.seeds")
    budget_fractions(protocol["initial_fraction"], protocol["step_fraction"], protocol["final_fraction"])


def _check_choices(config: dict) -> None:
    """Refuse the first value outside its field's ``Literal`` type (:data:`CHOICES`)."""
    for dotted, allowed in CHOICES.items():
        section, key = dotted.split(".")
        value = config[section][key]
        if value not in allowed:
            note = f" ({NOTES[dotted]})" if dotted in NOTES else ""
            raise ConfigError(f"{dotted} = {value!r} is not one of {allowed}{note}")


def _check_evaluation(evaluation: dict) -> None:
    """``evaluation.metrics`` names registered metrics, Dice among them (the loop, the summary
    and the curves are on Dice); the surface tolerance is positive."""
    from alstrategies.metrics import METRICS

    names = evaluation["metrics"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"evaluation.metrics must be a list of metric names, got {names!r}")
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ConfigError(f"evaluation.metrics: unknown metric(s) {unknown}; registered: {sorted(METRICS)}")
    if "dice" not in names:
        raise ConfigError(f"evaluation.metrics must include 'dice' (got {names}); add it to the list")
    if len(set(names)) != len(names):
        raise ConfigError(f"evaluation.metrics lists a metric twice: {names}")
    if not evaluation["surface_tolerance"] > 0:
        raise ConfigError(
            f"evaluation.surface_tolerance must be a positive distance (mm), got {evaluation['surface_tolerance']}"
        )


def _check_model(model: dict) -> None:
    """Catch an impossible ``[model]`` before any data is loaded or a model trained."""
    from alstrategies.registry import MODELS

    MODELS.get(model["backbone"])  # raises with the list of registered backbones
    if model["width"] < 1:
        raise ConfigError(f"model.width must be a positive channel count, got {model['width']}")


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> dict:
    """Defaults, then the TOML file, then ``key=value`` overrides; validated."""
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise ConfigError(
                f"config file {str(path)!r} is a folder; give a TOML file, e.g. benchmarks/configs/synthetic.toml"
            )
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} not found (see benchmarks/configs/)")
        try:
            loaded = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {error}") from None
        _merge(config, loaded)
    for assignment in overrides:
        key, value = parse_assignment(assignment)
        set_key(config, key, value)
    return validate(config)


def strategy_options(settings: Settings | dict, name: str) -> dict[str, Any]:
    """The keyword options of strategy ``name``: its ``[strategies.<name>]`` table, plus the
    ``[query]`` keys ``reduction``, ``sampling`` and ``beta`` (as ``sampling_beta``: VAAL's
    ``beta`` is its KL weight) for strategies that take them and do not set their own. A
    validated config dict is read through :class:`~alstrategies.settings.Settings`."""
    from alstrategies.registry import STRATEGIES

    if not isinstance(settings, Settings):
        settings = Settings.from_config(settings)
    options = dict(settings.strategy_tables.get(name, {}))
    factory = STRATEGIES.get(name)
    accepted = _kwargs_of(factory)
    query = settings.query
    drops = query.sampling != DEFAULT_SAMPLING and "sampling" not in accepted
    if drops and getattr(factory, "fixed_sampling", "") is None:  # a ranking strategy, no fixed rule
        raise ConfigError(
            f"query.sampling = {query.sampling!r} cannot reach strategy {name!r}: its __init__ takes no "
            "sampling option; declare sampling and sampling_beta and pass them to "
            "RankingStrategy.__init__ (docs/adding_a_strategy.md), or run it without query.sampling"
        )
    for option, value in (
        ("reduction", query.reduction),
        ("sampling", query.sampling),
        ("sampling_beta", query.beta),
    ):
        if option in accepted:
            options.setdefault(option, value)
    return options


def check_strategy_heads(names: Iterable[str], heads: str) -> None:
    """Refuse strategies whose declared ``required_heads`` the config's ``model.heads`` lacks."""
    from alstrategies.registry import STRATEGIES

    for name in names:
        needs = getattr(STRATEGIES.get(name), "required_heads", None)
        if needs and needs != heads:
            raise ConfigError(
                f"strategy {name!r} needs model.heads = {needs!r}, but the config has {heads!r}; "
                f"set --set model.heads={needs} or drop {name}"
            )


def fingerprint(config: dict) -> dict:
    """The part of a config that defines results (selection keys removed)."""
    defining = copy.deepcopy(config)
    for dotted in SELECTION_KEYS:
        section, key = dotted.split(".")
        defining[section].pop(key, None)
    return json.loads(json.dumps(defining, sort_keys=True))


def fill_defaults(recorded: dict) -> dict:
    """A recorded fingerprint with keys added to the schema since then set to their defaults,
    so that a run folder written by an older version still resumes."""
    filled = copy.deepcopy(recorded)
    for section, values in DEFAULTS.items():
        for key, value in values.items():
            filled.setdefault(section, {}).setdefault(key, copy.deepcopy(value))
    return fingerprint(filled)


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Human-readable list of keys whose values differ between two nested dicts."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(differences(a, b, f"{prefix}{key}."))
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out
