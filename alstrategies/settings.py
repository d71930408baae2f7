"""The config schema: one typed dataclass per config section, the single source of defaults.

``alstrategies.config.DEFAULTS`` is derived from these classes, and code reads a validated config
through :class:`Settings` (attributes, not string keys). Two sections are open: ``[data]`` also
takes the keyword arguments of the chosen loader (:attr:`Settings.data_options`), and
``[strategies.<name>]`` the options of strategy ``<name>``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: which dataset, its working size, and where the files and cache lie."""

    name: str = "synthetic"
    image_size: int = 48
    root: str = ""
    cache: bool = True
    cache_dir: str = ""


@dataclass(frozen=True)
class ModelConfig:
    """``[model]``: backbone, width, heads (``sbc`` = SBCNet, ``plain``), ASR variant."""

    backbone: str = "unet"
    width: int = 16
    heads: str = "sbc"
    asr: str = "attention"
    distance_prior: float = 0.05
    dropout: bool = True
    distance_classes: str = "all"  # SBC distance maps over every label ("all") or foreground only


@dataclass(frozen=True)
class LossConfig:
    """``[loss]``: the SBC loss weights alpha (coarse CE), beta (distance MSE), gamma (refined)."""

    alpha: float = 1.0
    beta: float = 1.0
    gamma: float = 1.0


@dataclass(frozen=True)
class TrainConfig:
    """``[train]``: the shared trainer's hyper-parameters (paper optimiser and schedule)."""

    epochs: int = 60
    full_epochs_factor: float = 1.0
    iterations: int = 0
    initial_iterations: int = 0  # the round-0 model's; 0 = as every round
    full_iterations: int = 0  # the 100 % model's; 0 = as every round (with full_epochs_factor)
    min_batches_per_epoch: int = 0
    batch_size: int = 16
    lr: float = 0.01
    sfp_lr: float = 1e-4
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_decay: float = 0.9
    lr_step: int = 500
    lr_schedule: str = "step"  # "step": x lr_decay every lr_step; "poly": (1 - t / T) ** 0.9 per training
    cooldown: float = 0.0  # the last fraction of every training: lr falls linearly to 0 (0 = none)
    warm_lr_factor: float = 1.0  # a warm-started training's peak lr (and sfp_lr): lr x this factor
    warm_schedule: str = (
        "restart"  # a warm-started training's lr: the stage's schedule from step 0, or "linear"
    )
    augment: bool = True
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    device: str = "auto"
    eval_batch_size: int = 64
    warm_start: bool = False
    full_warm_start: bool = True  # with warm_start, the 100 % model continues round 0; False: cold
    threads: int = 1  # per training, whatever the executor or core count: numbers never depend on them

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def num_iterations(self, num_images: int, stage: str = "round") -> int:
        """The iterations of one training at ``stage`` (``"round0"``, ``"round"`` or ``"full"``,
        the 100 % model): ``initial_iterations`` or ``full_iterations`` when set for that stage,
        else ``iterations`` when set, else ``epochs`` (times ``full_epochs_factor``, rounded, for
        the 100 % model) times the batches of an epoch: one pass over the data, at least
        ``min_batches_per_epoch`` batches (nnU-Net-style fixed-length epochs for tiny sets)."""
        if stage not in ("round0", "round", "full"):
            raise ValueError(f"stage must be 'round0', 'round' or 'full', got {stage!r}")
        if stage == "round0" and self.initial_iterations > 0:
            return self.initial_iterations
        if stage == "full" and self.full_iterations > 0:
            return self.full_iterations
        if self.iterations > 0:
            return self.iterations
        full = stage == "full"
        epochs = max(1, round(self.epochs * self.full_epochs_factor)) if full else self.epochs
        return epochs * max(math.ceil(num_images / self.batch_size), self.min_batches_per_epoch)


@dataclass(frozen=True)
class ProtocolConfig:
    """``[protocol]``: seeds and the budget schedule (fractions of the pool)."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    initial_fraction: float = 0.0667
    step_fraction: float = 0.0333
    final_fraction: float = 0.3333
    include_full: bool = True
    networks: str = "shared"  # "shared": one network for all; "paper": plain U-Net baselines, SBCNet SBC-AL


#: How a ranking strategy turns its scores into k indices (``query.sampling``, the strategies'
#: ``sampling``; :mod:`alstrategies.sampling`): the top k, or a draw (Kirsch et al. 2023).
SamplingRule = Literal["top_k", "power", "softmax", "softrank"]
#: The rule of ``query.sampling`` and of every ranking strategy unless told otherwise: the top k.
DEFAULT_SAMPLING: SamplingRule = "top_k"
#: ``query.beta`` (the strategies' ``sampling_beta``): the exponent of power and soft-rank
#: sampling, the inverse temperature of softmax sampling.
DEFAULT_BETA = 1.0


@dataclass(frozen=True)
class QueryConfig:
    """``[query]``: inference batch, pixel-to-image reduction, bf16 scoring on CUDA, sampling."""

    batch_size: int = 64
    reduction: str = "mean"
    amp: bool = False
    sampling: SamplingRule = DEFAULT_SAMPLING
    beta: float = DEFAULT_BETA


@dataclass(frozen=True)
class StrategiesConfig:
    """``[strategies]``: the strategies to run (empty = every registered one)."""

    names: list[str] = field(default_factory=list)
    controls: bool = False  # add the controls (oracle, confident) to "every strategy"


@dataclass(frozen=True)
class SnapshotsConfig:
    """``[snapshots]``: test slices kept per round for the qualitative figures."""

    slices: int = 4
    seeds: list[int] = field(default_factory=lambda: [0])
    checkpoints: bool = False


@dataclass(frozen=True)
class EvaluationConfig:
    """``[evaluation]``: the registered metrics computed on the test volumes."""

    metrics: list[str] = field(default_factory=lambda: ["dice", "hd95"])
    surface_tolerance: float = 1.0  # surface Dice tolerance, in the spacing's unit (mm)


@dataclass(frozen=True)
class ExecutorConfig:
    """``[executor]``: where the work units run (local process pool or Ray)."""

    name: str = "local"
    workers: int = 1
    chains_per_gpu: int = 1
    cpus_per_chain: float = 1.0
    gpus_per_chain: float = 0.0
    ray_address: str = ""


@dataclass(frozen=True)
class GridConfig:
    """``[grid]``: variants of one base config for ablations."""

    variants: dict[str, Any] = field(default_factory=dict)
    budget: float = 0.0
    layout: str = "strategy_by_variant"
    reuse: dict[str, str] = field(default_factory=dict)  # variant -> an existing run folder (from OUT)


#: Section name -> its dataclass, in the order of the config file.
SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "loss": LossConfig,
    "train": TrainConfig,
    "protocol": ProtocolConfig,
    "query": QueryConfig,
    "strategies": StrategiesConfig,
    "snapshots": SnapshotsConfig,
    "evaluation": EvaluationConfig,
    "executor": ExecutorConfig,
    "grid": GridConfig,
}


def section_defaults() -> dict[str, dict[str, Any]]:
    """Every section's keys and default values, fresh copies (what ``DEFAULTS`` holds)."""
    return {name: asdict(cls()) for name, cls in SECTIONS.items()}


def _section(cls: type, values: dict) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


@dataclass(frozen=True)
class Settings:
    """A validated config as typed sections; build it with :meth:`from_config`."""

    data: DataConfig
    model: ModelConfig
    loss: LossConfig
    train: TrainConfig
    protocol: ProtocolConfig
    query: QueryConfig
    strategies: StrategiesConfig
    snapshots: SnapshotsConfig
    evaluation: EvaluationConfig
    executor: ExecutorConfig
    grid: GridConfig
    data_options: dict[str, Any] = field(default_factory=dict)
    strategy_tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict) -> Settings:
        """Typed sections of a config dict (as :func:`alstrategies.config.load_config` returns)."""
        defaults = section_defaults()
        sections = {
            name: _section(section_cls, {**defaults[name], **config.get(name, {})})
            for name, section_cls in SECTIONS.items()
        }
        data_keys = {f.name for f in fields(DataConfig)}
        strategies = config.get("strategies", {})
        return cls(
            **sections,
            data_options={k: v for k, v in config.get("data", {}).items() if k not in data_keys},
            strategy_tables={k: dict(v) for k, v in strategies.items() if isinstance(v, dict)},
        )
