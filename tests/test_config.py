from pathlib import Path

import pytest

from alstrategies.config import ConfigError, differences, fingerprint, load_config, parse_value
from alstrategies.engine.protocol import budget_schedule
from alstrategies.settings import TrainConfig


def test_defaults_validate():
    config = load_config()
    assert config["protocol"]["initial_fraction"] == 0.0667
    assert config["train"]["batch_size"] == 16


def test_set_overrides_with_types(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nepochs = 5\n[data]\nimage_size = 32\n")
    config = load_config(path, ["train.epochs=2", "train.lr=1", "protocol.seeds=[3, 4]"])
    assert config["train"]["epochs"] == 2
    assert config["train"]["lr"] == 1.0 and isinstance(config["train"]["lr"], float)
    assert config["protocol"]["seeds"] == [3, 4]
    assert config["data"]["image_size"] == 32


def test_unknown_key_lists_valid_ones():
    with pytest.raises(ConfigError) as error:
        load_config(None, ["train.epoch=2"])
    message = str(error.value)
    assert "train.epoch" in message and "train.epochs" in message and "train.batch_size" in message


def test_unknown_section_and_bad_type():
    with pytest.raises(ConfigError, match="unknown config section"):
        load_config(None, ["trian.epochs=2"])
    with pytest.raises(ConfigError, match="train.epochs must be of type int"):
        load_config(None, ["train.epochs=many"])
    with pytest.raises(ConfigError, match="true or false"):
        load_config(None, ["train.augment=1"])


def test_dataset_keys_come_from_the_loader_signature():
    assert load_config(None, ["data.train_patients=5"])["data"]["train_patients"] == 5
    with pytest.raises(ConfigError, match="data.train_patients"):
        load_config(None, ["data.no_such_option=5"])


def test_strategy_names_and_options_are_checked():
    with pytest.raises(KeyError, match="registered"):
        load_config(None, ["strategies.names=['nope']"])
    with pytest.raises(ConfigError, match="unknown option"):
        load_config(None, ["strategies.random.bogus=1"])


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_parse_value_and_fingerprint_differences():
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5 and parse_value("unet") == "unet"
    a = load_config(None, ["protocol.seeds=[0]"])
    b = load_config(None, ["protocol.seeds=[1]", "strategies.names=['random']"])
    assert fingerprint(a) == fingerprint(b)  # seeds and strategy names only select work
    c = load_config(None, ["train.epochs=3"])
    assert differences(fingerprint(a), fingerprint(c)) == ["train.epochs: 60 -> 3"]


CONFIGS = Path(__file__).resolve().parents[1] / "benchmarks" / "configs"
ALL_STRATEGIES = {"random", "max_entropy", "least_confidence", "margin", "mean_std", "vaal", "sbc_al"}


def test_paper_loss_and_optimiser_defaults() -> None:
    """DESIGN 3: alpha = beta = gamma = 1; SGD 0.9 / 1e-4; lr 0.01, SFP 1e-4, x0.9 every 500."""
    config = load_config()
    assert config["loss"] == {"alpha": 1.0, "beta": 1.0, "gamma": 1.0}
    train = config["train"]
    assert train["lr"] == 0.01 and train["sfp_lr"] == 1e-4
    assert train["lr_decay"] == 0.9 and train["lr_step"] == 500
    assert train["momentum"] == 0.9 and train["weight_decay"] == 1e-4
    assert config["model"]["heads"] == "sbc" and config["model"]["asr"] == "attention"


def test_acdc_config_has_the_paper_protocol() -> None:
    config = load_config(CONFIGS / "acdc.toml")
    assert config["data"]["name"] == "acdc" and config["data"]["image_size"] == 256
    assert config["train"]["batch_size"] == 16 and config["train"]["epochs"] == 60
    assert config["train"]["lr"] == 0.01 and config["train"]["sfp_lr"] == 1e-4
    assert config["train"]["lr_decay"] == 0.9 and config["train"]["lr_step"] == 500
    assert config["model"]["width"] == 16 and config["model"]["heads"] == "sbc"
    protocol = config["protocol"]
    assert protocol["seeds"] == [0, 1, 2, 3, 4]
    assert protocol["initial_fraction"] == 0.0667 and protocol["step_fraction"] == 0.0333
    assert protocol["final_fraction"] == 0.3333 and protocol["include_full"] is True
    names = config["strategies"]["names"]
    assert len(names) == 7 and set(names) == ALL_STRATEGIES


def test_kits19_config_has_the_paper_schedule() -> None:
    config = load_config(CONFIGS / "kits19.toml")
    assert config["data"]["name"] == "kits19" and config["data"]["image_size"] == 256
    assert config["train"]["batch_size"] == 8 and config["train"]["epochs"] == 100
    assert config["model"]["heads"] == "sbc" and len(config["protocol"]["seeds"]) == 5
    assert set(config["strategies"]["names"]) == ALL_STRATEGIES


def test_lr_schedule_and_stage_iterations_are_checked():
    assert load_config(None, ['train.lr_schedule="poly"'])["train"]["lr_schedule"] == "poly"
    with pytest.raises(ConfigError, match=r"train.lr_schedule = 'cosine' is not one of \('step', 'poly'\)"):
        load_config(None, ['train.lr_schedule="cosine"'])
    with pytest.raises(ConfigError, match="train.full_iterations"):
        load_config(None, ["train.full_iterations=-1"])


def test_acdc_cpu_preset_makes_the_100_percent_model_an_upper_bound_by_construction() -> None:
    """Warm-started chains, a cold 100 % model: it has at least the iterations of any chain's
    final model since the chain's cold start, on every budget of the paper, one thread per worker."""
    config = load_config(CONFIGS / "acdc_cpu.toml")
    train, protocol = TrainConfig.from_dict(config["train"]), config["protocol"]
    pool = 1312  # ACDC's SSL4MIS training split, in slices
    budgets = budget_schedule(
        pool, protocol["initial_fraction"], protocol["step_fraction"], protocol["final_fraction"]
    )
    assert [round(100 * b.fraction, 2) for b in budgets] == [
        6.67,
        10,
        13.33,
        16.67,
        20,
        23.33,
        26.67,
        30,
        33.33,
    ]
    assert train.warm_start and protocol["include_full"] and train.threads == 1
    chain = train.num_iterations(budgets[0].count, "round0") + sum(
        train.num_iterations(b.count, "round") for b in budgets[1:]
    )
    assert not train.full_warm_start
    full = train.num_iterations(pool, "full")
    assert full >= chain == 900
    assert protocol["seeds"] == list(range(8))


def test_the_cpu_asr_ablation_trains_the_presets_100_percent_model() -> None:
    preset, ablation = load_config(CONFIGS / "acdc_cpu.toml"), load_config(CONFIGS / "ablation_asr_cpu.toml")
    # the same cold 100 % model (its length is calibrated and set on the command line), no reuse
    assert ablation["train"] == preset["train"] and not ablation["train"]["full_warm_start"]
    assert not ablation["grid"].get("reuse") and ablation["protocol"]["seeds"] == [0, 1, 2, 3, 4]
    assert ablation["model"] == preset["model"]
    assert ablation["data"] == preset["data"]
    assert set(ablation["grid"]["variants"]) == {"none", "add", "concat", "attention"}


def _literal_fields() -> list[tuple[str, tuple[str, ...]]]:
    """Every ``section.key`` typed as a ``Literal`` in the settings, found from the types alone."""
    import dataclasses
    import typing

    from alstrategies.settings import SECTIONS

    found = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if typing.get_origin(hints[f.name]) is typing.Literal:
                found.append((f"{section}.{f.name}", typing.get_args(hints[f.name])))
    return found


def test_every_literal_field_is_validated_from_its_type():
    """A bad value of any ``Literal``-typed field is refused, naming the key and its values."""
    found = dict(_literal_fields())
    assert {"model.heads", "model.asr", "model.distance_classes", "train.lr_schedule"} <= set(found)
    assert {"train.warm_schedule", "protocol.networks", "query.sampling"} <= set(found)
    for dotted, allowed in found.items():
        with pytest.raises(ConfigError) as raised:
            load_config(None, [f"{dotted}='no_such_value'"])
        assert str(raised.value).startswith(f"{dotted} = 'no_such_value' is not one of {allowed}"), (
            raised.value
        )
        for value in allowed:  # and each allowed value passes
            assert (
                load_config(None, [f"{dotted}={value!r}"])[dotted.split(".")[0]][dotted.split(".")[1]]
                == value
            )


def test_the_allowed_values_have_one_declaration():
    import typing

    from alstrategies import config, models, settings
    from alstrategies.sbcal import network

    assert config.NETWORKS == typing.get_args(settings.Networks) == ("shared", "paper")
    assert config.LR_SCHEDULES == typing.get_args(settings.LrSchedule) == ("step", "poly")
    assert config.WARM_SCHEDULES == typing.get_args(settings.WarmSchedule) == ("restart", "linear")
    assert config.DISTANCE_CLASSES == network.DISTANCE_CLASSES == typing.get_args(settings.DistanceClasses)
    assert models.HEADS == typing.get_args(settings.Heads) == ("plain", "sbc")
    assert typing.get_args(settings.AsrVariant) == network.ASR_VARIANTS


def test_the_ranges_are_the_fields_metadata():
    """``RANGES``/``NOTES`` come from ``field(metadata={"range": ..., "note": ...})`` alone, and
    every such field refuses a value just outside its range with the message built from them."""
    import dataclasses

    from alstrategies.ranges import NOTES, RANGES, describe
    from alstrategies.settings import SECTIONS

    declared = {
        f"{section}.{f.name}": f
        for section, cls in SECTIONS.items()
        for f in dataclasses.fields(cls)
        if "range" in f.metadata
    }
    assert len(declared) >= 30 and {dotted: f.metadata["range"] for dotted, f in declared.items()} == RANGES
    for dotted, f in declared.items():
        low, high, low_open, high_open = f.metadata["range"]
        bad = low - 1 if low is not None else high + 1
        if isinstance(f.default, float):
            bad = float(bad)
        note = f" ({f.metadata['note']})" if "note" in f.metadata else ""
        assert NOTES.get(dotted) == f.metadata.get("note"), dotted
        with pytest.raises(ConfigError) as raised:
            load_config(None, [f"{dotted}={bad!r}"])
        assert str(raised.value) == f"{dotted} must be {describe(f.metadata['range'])}{note}, got {bad!r}"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.stem)
def test_settings_give_back_the_config_they_were_built_from(path: Path) -> None:
    """After validation only ``Settings`` travel, so they must hold everything ``config.json``
    records: the dict rebuilt from them is the validated config, key for key."""
    import json

    from alstrategies.grid import expand_grid, is_grid
    from alstrategies.settings import Settings

    config = load_config(path)  # acdc_cpu holds [strategies.<name>] tables; the dataset ones, loader keys
    configs = [config, *expand_grid(config).values()] if is_grid(config) else [config]
    for one in configs:
        rebuilt = Settings.from_config(one).to_config()
        assert json.dumps(rebuilt, sort_keys=True) == json.dumps(one, sort_keys=True)
        assert fingerprint(rebuilt) == fingerprint(one)


def test_the_engine_takes_settings_not_the_config_dict() -> None:
    """``RoundTrainer``, ``claim_run_folder`` and the worker spec take typed settings; the
    experiment keeps no copy of the dict."""
    import inspect

    from alstrategies.engine.loop import Experiment
    from alstrategies.engine.run_folder import claim_run_folder
    from alstrategies.engine.units import WorkerSpec
    from alstrategies.training.round import RoundTrainer

    assert "config" not in inspect.signature(RoundTrainer).parameters
    assert "settings" in inspect.signature(claim_run_folder).parameters
    assert "config" not in {f.name for f in WorkerSpec.__dataclass_fields__.values()}
    assert not any(name == "config" for name in vars(Experiment))


def test_a_config_path_that_is_a_folder_says_so(tmp_path):
    with pytest.raises(
        ConfigError, match=r"is a folder; give a TOML file, e.g. benchmarks/configs/synthetic.toml"
    ):
        load_config(tmp_path)


def test_a_list_of_bare_words_suggests_the_quotes(capsys):
    from alstrategies.cli import main

    with pytest.raises(ConfigError) as raised:
        load_config(None, ["evaluation.metrics=[dice,hd95]"])
    assert str(raised.value) == (
        "evaluation.metrics must be of type list, got '[dice,hd95]'; TOML strings need quotes, and the "
        'shell needs them kept: --set \'evaluation.metrics=["dice","hd95"]\''
    )
    assert load_config(None, ['evaluation.metrics=["dice","hd95"]'])["evaluation"]["metrics"] == [
        "dice",
        "hd95",
    ]
    with pytest.raises(ConfigError, match=r"--set 'strategies.names=\[\"random\",\"margin\"\]'"):
        load_config(None, ["strategies.names=[random, 'margin']"])
    with pytest.raises(ConfigError) as raised:  # numbers: quotes would be no fix
        load_config(None, ["protocol.seeds=[0,x]"])
    assert "quotes" not in str(raised.value)
    assert main(["prepare", "benchmarks/configs/smoke.toml", "--set", "evaluation.metrics=[dice,hd95]"]) == 2
    assert '--set \'evaluation.metrics=["dice","hd95"]\'' in capsys.readouterr().err


def test_negative_seeds_are_refused_in_the_config():
    with pytest.raises(
        ConfigError, match=r"protocol.seeds: seeds must be non-negative integers .* got \[-3\]"
    ):
        load_config(None, ["protocol.seeds=[0, -3]"])


@pytest.mark.parametrize(
    ("initial", "step", "final", "message"),
    [
        (
            0.2,
            0.25,
            0.6,
            "protocol.step_fraction = 0.25 does not fit a whole number of times between initial_fraction "
            "0.2 and final_fraction 0.6: the rounds would run at 20.00 %, 40.00 %, 60.00 % (a step of "
            "0.2); set protocol.step_fraction to 0.4 (1 round) or 0.2 (2 rounds), or move final_fraction",
        ),
        (0.1, 0.05, 0.33, "the rounds would run at 10.00 %, 14.60 %, 19.20 %, 23.80 %, 28.40 %, 33.00 %"),
        (0.2, 1.0, 0.4, "set protocol.step_fraction to 0.2 (1 round)"),  # once ran 20 % only
    ],
)
def test_a_step_that_does_not_fit_the_span_is_refused_with_the_budgets_it_would_run(
    initial, step, final, message
):
    from alstrategies.errors import BudgetError

    overrides = [f"protocol.initial_fraction={initial}", f"protocol.step_fraction={step}"]
    with pytest.raises(BudgetError) as raised:
        load_config(None, [*overrides, f"protocol.final_fraction={final}"])
    assert message in str(raised.value)
    with pytest.raises(BudgetError, match="does not fit a whole number of times"):
        budget_schedule(100, initial, step, final)


def test_steps_written_to_four_decimals_still_fit():
    paper = budget_schedule(300, 0.0667, 0.0333, 0.3333)  # 1/15 + 8 x 1/30 = 1/3
    assert [b.count for b in paper] == [20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert [b.count for b in budget_schedule(300, 0.0667, 0.0333, 0.1)] == [20, 30]
    assert [b.count for b in budget_schedule(300, 0.2, 0.0333, 0.2)] == [60]  # one budget: no step
    for path in sorted(CONFIGS.glob("*.toml")):
        load_config(path)  # every committed config's step fits
