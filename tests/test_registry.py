import pytest

from alstrategies import data, models  # noqa: F401  (registers built-ins)
from alstrategies.cli import main
from alstrategies.registry import DATASETS, MODELS, STRATEGIES, Registry, UnknownNameError
from alstrategies.strategy import QueryStrategy

PAPER_STRATEGIES = {"random", "max_entropy", "least_confidence", "margin", "mean_std", "vaal", "sbc_al"}


def test_entry_points_register_the_paper_strategies():
    assert set(STRATEGIES.names()) >= PAPER_STRATEGIES
    assert issubclass(STRATEGIES.get("random"), QueryStrategy)


def test_builtin_datasets_and_models_are_registered():
    assert "synthetic" in DATASETS.names()
    assert "unet" in MODELS.names()


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
    for name in ["random", "synthetic", "unet", "strategies:", "datasets:", "models:"]:
        assert name in out
