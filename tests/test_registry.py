import pytest

from alstrategies.cli import main
from alstrategies.registry import DATASETS, MODELS, STRATEGIES, Registry, UnknownNameError
from alstrategies.strategy import QueryStrategy

PAPER_STRATEGIES = {"random", "max_entropy", "least_confidence", "margin", "mean_std", "vaal", "sbc_al"}


def test_entry_points_register_the_paper_strategies():
    assert set(STRATEGIES.names()) >= PAPER_STRATEGIES
    assert issubclass(STRATEGIES.get("random"), QueryStrategy)


def test_builtin_datasets_and_models_are_registered():
    assert {"synthetic", "acdc", "kits19", "folder"} <= set(DATASETS.names())
    assert {"unet", "unetpp", "attention_unet"} <= set(MODELS.names())
    from alstrategies.data.synthetic import load_synthetic
    from alstrategies.models.unet import UNet

    assert DATASETS.get("synthetic") is load_synthetic and MODELS.get("unet") is UNet


def test_a_dataset_and_a_backbone_registered_at_run_time_are_used():
    from alstrategies.data import load_dataset
    from alstrategies.data.synthetic import load_synthetic
    from alstrategies.models import build_model
    from alstrategies.models.unet import UNet

    calls = []

    def tiny(image_size: int = 32) -> object:
        calls.append(image_size)
        return load_synthetic(image_size=image_size, train_patients=1, test_patients=1, slices_per_patient=1)

    class Narrow(UNet):
        """A registered-at-run-time backbone."""

    DATASETS.register("tiny_test_dataset", tiny)
    MODELS.register("narrow_test_backbone", Narrow)
    try:
        data = load_dataset({"name": "tiny_test_dataset", "image_size": 32, "not_a_loader_key": 1})
        assert calls == [32] and data.pool_size == 1
        model = build_model({"backbone": "narrow_test_backbone", "width": 4, "heads": "plain"}, num_classes=2)
        assert isinstance(model.backbone, Narrow)
    finally:
        DATASETS.unregister("tiny_test_dataset")
        MODELS.unregister("narrow_test_backbone")
    assert "tiny_test_dataset" not in DATASETS.names() and "narrow_test_backbone" not in MODELS.names()


def test_unknown_name_lists_registered_ones():
    with pytest.raises(UnknownNameError) as error:
        STRATEGIES.get("no_such_strategy")
    assert "random" in str(error.value) and "alstrategies.strategies" in str(error.value)


def test_register_decorator_and_duplicates():
    registry = Registry("thing", "alstrategies.test-none")

    @registry.register("a")
    class A:
        """An A."""

    assert registry.get("a") is A
    assert registry.describe() == {"a": "An A."}
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a", object())


def test_list_command_shows_strategies_datasets_models(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in [
        "random",
        "synthetic",
        "unet",
        "strategies (family; source; forward passes",
        "datasets:",
        "models:",
    ]:
        assert name in out


def test_registering_a_builtin_again_is_a_no_op_but_another_object_is_refused():
    from alstrategies.data.synthetic import load_synthetic

    registry = Registry("dataset", "alstrategies.datasets")
    assert "synthetic" in registry.names()  # an entry point, not imported yet
    assert registry.register("synthetic", load_synthetic) is load_synthetic
    assert registry.get("synthetic") is load_synthetic
    with pytest.raises(ValueError, match="dataset 'synthetic' is already registered"):
        registry.register("synthetic", lambda: None)
    with pytest.raises(ValueError, match="dataset 'acdc' is already registered"):
        registry.register("acdc", load_synthetic)  # an entry point that names another loader
    registry.register("acdc", load_synthetic, replace=True)
    assert registry.get("acdc") is load_synthetic


def test_a_near_miss_of_a_registered_name_is_suggested(capsys):
    with pytest.raises(UnknownNameError) as error:
        STRATEGIES.get("max_entrpy")
    assert str(error.value).startswith(
        "unknown strategy 'max_entrpy' (did you mean max_entropy?); registered: "
    )
    registry = Registry("thing", "alstrategies.test-none")
    registry.register("alpha", object())
    with pytest.raises(
        UnknownNameError, match=r"unknown thing 'alpah' \(did you mean alpha\?\); registered: alpha"
    ):
        registry.get("alpah")
    with pytest.raises(UnknownNameError) as error:
        registry.get("zzz")
    assert "did you mean" not in str(error.value)
    assert (
        main(
            [
                "run",
                "benchmarks/configs/smoke.toml",
                "--strategies",
                "random,margni",
                "--out",
                "/nonexistent/x",
            ]
        )
        == 2
    )
    assert "unknown strategy 'margni' (did you mean margin?)" in capsys.readouterr().err


def test_list_labels_what_a_plug_in_does_not_say(capsys):
    """A plug-in without ``source`` shows "source not given" where its source would stand,
    not its family and forward passes run together (docs/adding_a_strategy.md)."""
    import numpy as np

    class Quiet(QueryStrategy):
        """Picks the first unlabeled images."""

        name = "listing_quiet"

        def select(self, context, k, rng):
            from alstrategies.query import QueryResult

            return QueryResult(indices=np.asarray(context.unlabeled[:k]))

    STRATEGIES.register(Quiet.name, Quiet)
    try:
        assert main(["list"]) == 0
    finally:
        STRATEGIES.unregister(Quiet.name)
    out = capsys.readouterr().out.splitlines()
    line = out[out.index(next(x for x in out if x.strip().startswith("listing_quiet"))) + 1]
    assert line.split() == ["uncertainty;", "source", "not", "given;", "1"]
