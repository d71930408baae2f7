"""The config schema: one typed dataclass per config section, the single source of defaults.

``alstrategies.config.DEFAULTS`` is derived from these classes, and code reads a validated config
through :class:`Settings` (attributes, not string keys). Two sections are open: ``[data]`` also
takes the keyword arguments of the chosen loader (:attr:`Settings.data_options`), and
``[strategies.<name>]`` the options of strategy ``<name>``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args, get_origin, get_type_hints

#: ``model.heads``: a backbone with a 1x1 head, or SBCNet (SFP + ASR).
Heads = Literal["plain", "sbc"]
#: ``model.asr``: SBCNet's ASR variant.
AsrVariant = Literal["attention", "add", "concat", "none"]
#: ``model.distance_classes``: SBC distance maps over every label, or over the foreground only.
DistanceClasses = Literal["all", "foreground"]
#: ``train.lr_schedule``: the paper's step decay, or nnU-Net's polynomial decay to 0 per training.
LrSchedule = Literal["step", "poly"]
#: ``train.warm_schedule``: what a warm-started training's learning rate does (DESIGN section 5).
WarmSchedule = Literal["restart", "linear"]
#: ``protocol.networks`` (DESIGN section 5).
Networks = Literal["shared", "paper"]


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: which dataset, its working size, and where the files and cache lie."""

    name: str = "synthetic"
    image_size: int = field(default=48, metadata={"range": (8, None, False, False)})
    root: str = ""
    cache: bool = True
    cache_dir: str = ""


@dataclass(frozen=True)
class ModelConfig:
    """``[model]``: backbone, width, heads (``sbc`` = SBCNet, ``plain``), ASR variant."""

    backbone: str = "unet"
    width: int = field(default=16, metadata={"range": (1, None, False, False)})
    heads: Heads = "sbc"
    asr: AsrVariant = "attention"
    distance_prior: float = field(default=0.05, metadata={"range": (0, 1, False, True)})
    dropout: bool = True
    distance_classes: DistanceClasses = "all"  # SBC distance maps over every label ("all") or foreground only


@dataclass(frozen=True)
class LossConfig:
    """``[loss]``: the SBC loss weights alpha (coarse CE), beta (distance MSE), gamma (refined)."""

    alpha: float = field(default=1.0, metadata={"range": (0, None, False, False)})
    beta: float = field(default=1.0, metadata={"range": (0, None, False, False)})
    gamma: float = field(default=1.0, metadata={"range": (0, None, False, False)})


@dataclass(frozen=True)
class TrainConfig:
    """``[train]``: the shared trainer's hyper-parameters (paper optimiser and schedule)."""

    epochs: int = field(default=60, metadata={"range": (1, None, False, False)})
    full_epochs_factor: float = field(default=1.0, metadata={"range": (0, None, True, False)})
    iterations: int = field(
        default=0, metadata={"range": (0, None, False, False), "note": "0 = use train.epochs"}
    )
    # the round-0 model's; 0 = as every round
    initial_iterations: int = field(
        default=0, metadata={"range": (0, None, False, False), "note": "0 = as every round"}
    )
    # the 100 % model's; 0 = as every round (with full_epochs_factor)
    full_iterations: int = field(
        default=0, metadata={"range": (0, None, False, False), "note": "0 = as every round"}
    )
    min_batches_per_epoch: int = field(
        default=0, metadata={"range": (0, None, False, False), "note": "0 = one pass over the labeled set"}
    )
    batch_size: int = field(default=16, metadata={"range": (1, None, False, False)})
    lr: float = field(default=0.01, metadata={"range": (0, None, True, False)})
    sfp_lr: float = field(default=1e-4, metadata={"range": (0, None, True, False)})
    momentum: float = field(default=0.9, metadata={"range": (0, 1, False, True)})
    weight_decay: float = field(default=1e-4, metadata={"range": (0, None, False, False)})
    lr_decay: float = field(default=0.9, metadata={"range": (0, 1, True, False)})
    lr_step: int = field(default=500, metadata={"range": (1, None, False, False)})
    lr_schedule: LrSchedule = field(
        default="step",
        metadata={"note": "step: x train.lr_decay every train.lr_step iterations; poly: (1 - t / T) ** 0.9"},
    )
    # the last fraction of every training: lr falls linearly to 0 (0 = none)
    cooldown: float = field(
        default=0.0,
        metadata={
            "range": (0, 1, False, True),
            "note": "0 = no cooldown; 0.2 = the last 20 % of each training",
        },
    )
    # a warm-started training's peak lr (and sfp_lr): lr x this factor
    warm_lr_factor: float = field(
        default=1.0,
        metadata={
            "range": (0, None, True, False),
            "note": "1 = a warm round starts at the peak lr; 0.1 = at a tenth of it",
        },
    )
    warm_schedule: WarmSchedule = field(
        default="restart",
        metadata={
            "note": "restart: a warm round runs train.lr_schedule from its step 0; linear: it falls "
            "linearly from train.lr x train.warm_lr_factor to 0 over the round"
        },
    )
    augment: bool = True
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    device: str = "auto"
    eval_batch_size: int = field(default=64, metadata={"range": (1, None, False, False)})
    warm_start: bool = False
    full_warm_start: bool = True  # with warm_start, the 100 % model continues round 0; False: cold
    # per training, whatever the executor or core count: numbers never depend on them
    threads: int = field(
        default=1,
        metadata={
            "range": (0, None, False, False),
            "note": "0 = torch's default, which follows the core count",
        },
    )

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
    initial_fraction: float = field(default=0.0667, metadata={"range": (0, 1, True, False)})
    step_fraction: float = field(default=0.0333, metadata={"range": (0, 1, True, False)})
    final_fraction: float = field(default=0.3333, metadata={"range": (0, 1, True, False)})
    include_full: bool = True
    networks: Networks = field(
        default="shared",
        metadata={
            "note": "shared: every strategy trains model.heads; paper: SBC-AL trains SBCNet, the others a plain U-Net"
        },
    )


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

    batch_size: int = field(default=64, metadata={"range": (1, None, False, False)})
    reduction: str = "mean"
    amp: bool = False
    sampling: SamplingRule = DEFAULT_SAMPLING
    beta: float = field(default=DEFAULT_BETA, metadata={"range": (0, None, True, False)})


@dataclass(frozen=True)
class StrategiesConfig:
    """``[strategies]``: the strategies to run (empty = every registered one)."""

    names: list[str] = field(default_factory=list)
    controls: bool = False  # add the controls (oracle, confident) to "every strategy"


@dataclass(frozen=True)
class SnapshotsConfig:
    """``[snapshots]``: test slices kept per round for the qualitative figures."""

    slices: int = field(default=4, metadata={"range": (0, None, False, False)})
    seeds: list[int] = field(default_factory=lambda: [0])
    checkpoints: bool = False


@dataclass(frozen=True)
class EvaluationConfig:
    """``[evaluation]``: the registered metrics computed on the test volumes."""

    metrics: list[str] = field(default_factory=lambda: ["dice", "hd95"])
    # surface Dice tolerance, in the spacing's unit (mm)
    surface_tolerance: float = field(default=1.0, metadata={"range": (0, None, True, False)})


@dataclass(frozen=True)
class ExecutorConfig:
    """``[executor]``: where the work units run (local process pool or Ray)."""

    name: str = "local"
    workers: int = field(default=1, metadata={"range": (1, None, False, False)})
    chains_per_gpu: int = field(default=1, metadata={"range": (1, None, False, False)})
    cpus_per_chain: float = field(default=1.0, metadata={"range": (0, None, True, False)})
    gpus_per_chain: float = field(default=0.0, metadata={"range": (0, None, False, False)})
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


def choices(cls: type) -> dict[str, tuple[str, ...]]:
    """The fields of section ``cls`` typed as a ``Literal``, with their allowed values."""
    hints = get_type_hints(cls)
    return {f.name: get_args(hints[f.name]) for f in fields(cls) if get_origin(hints[f.name]) is Literal}


#: ``section.key`` -> its allowed values, for every field typed as a ``Literal``, in schema order.
CHOICES: dict[str, tuple[str, ...]] = {
    f"{section}.{key}": allowed for section, cls in SECTIONS.items() for key, allowed in choices(cls).items()
}
#: ``section.key`` -> what the key's values (or special values) mean, from the fields' ``note`` metadata.
NOTES: dict[str, str] = {
    f"{section}.{f.name}": f.metadata["note"]
    for section, cls in SECTIONS.items()
    for f in fields(cls)
    if "note" in f.metadata
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

    def data_table(self) -> dict[str, Any]:
        """The ``[data]`` table: the typed keys and the loader's own (what a loader is called with)."""
        return {**asdict(self.data), **copy.deepcopy(self.data_options)}

    def to_config(self) -> dict[str, dict[str, Any]]:
        """The config dict these settings were built from, every section complete (what
        ``config.json`` records, through :func:`alstrategies.config.fingerprint`)."""
        config = {name: asdict(getattr(self, name)) for name in SECTIONS}
        config["data"] = self.data_table()
        config["strategies"].update(copy.deepcopy(self.strategy_tables))
        return config
