"""The strategy base classes: reduction, top-k, contract checks and model-mode hygiene."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies import errors
from alstrategies.config import load_config, strategy_options
from alstrategies.models import build_model
from alstrategies.strategy import (
    EmptyPoolError,
    QueryContext,
    QueryResult,
    QueryStrategy,
    RankingStrategy,
    ScoreStrategy,
    StrategyContractError,
    reduce_pixels,
    top_k,
)
from alstrategies.types import ModelOutput


class _Brightness(ScoreStrategy):
    name = "brightness"

    def compute_score(self, output: ModelOutput) -> torch.Tensor:
        return output.logits[:, 0]  # B x H x W pixel map


class _Identity(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm2d(1)

    def forward(self, x):
        return ModelOutput(logits=x, coarse_logits=x)


def _context(model, n=10, labeled=(0, 1)):
    images = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 4, 4).clone()
    unlabeled = np.setdiff1d(np.arange(n), labeled)
    return QueryContext(
        model=model,
        pool_images=images,
        labeled=np.array(labeled),
        unlabeled=unlabeled,
        num_classes=2,
        batch_size=3,
    )


def test_reductions_against_explicit_values():
    maps = torch.tensor([[[1.0, 2.0], [3.0, 6.0]]])
    assert reduce_pixels(maps, "mean").item() == 3.0
    assert reduce_pixels(maps, "sum").item() == 12.0
    assert reduce_pixels(maps, "max").item() == 6.0
    assert reduce_pixels(maps, lambda m: m.flatten(1).min(1).values).item() == 1.0
    with pytest.raises(ValueError, match="unknown reduction"):
        reduce_pixels(maps, "median")


def test_top_k_prefers_high_scores_and_breaks_ties_with_the_generator():
    candidates = np.array([5, 6, 7, 8])
    scores = np.array([0.1, 0.9, 0.9, 0.5])
    orders = {tuple(top_k(candidates, scores, 3, np.random.default_rng(seed)).tolist()) for seed in range(20)}
    assert orders == {(6, 7, 8), (7, 6, 8)}  # the tied pair in either order, highest first
    untied = np.array([0.1, 0.9, 0.3, 0.5])
    for seed in range(5):
        assert top_k(candidates, untied, 2, np.random.default_rng(seed)).tolist() == [6, 8]


def test_score_strategy_streams_the_unlabeled_pool_in_order():
    result = _Brightness().query(_context(_Identity()), 3, np.random.default_rng(0))
    assert result.indices.tolist() == [9, 8, 7]
    assert result.candidates.tolist() == list(range(2, 10))
    assert result.scores.tolist() == [float(i) for i in range(2, 10)]


def test_query_restores_every_module_mode():
    model = _Identity()
    model.train()
    model.norm.eval()  # a frozen BatchNorm inside a training model must stay frozen
    _Brightness().query(_context(model), 2, np.random.default_rng(0))
    assert model.training and not model.norm.training


def test_contract_violations_are_reported():
    class Broken(QueryStrategy):
        name = "broken"

        def select(self, context, k, rng):
            return QueryResult(indices=np.array([0] * k))  # labeled and duplicated

    with pytest.raises(StrategyContractError, match="duplicate.*outside the unlabeled pool") as caught:
        Broken().query(_context(_Identity()), 2, np.random.default_rng(0))
    assert isinstance(caught.value, RuntimeError)  # existing `except RuntimeError` code still works


def test_query_reduction_reaches_strategies_that_take_one():
    config = load_config(None, ["query.reduction=max"])
    assert strategy_options(config, "max_entropy")["reduction"] == "max"
    assert "reduction" not in strategy_options(config, "random")
    config = load_config(None, ["query.reduction=max", "strategies.margin.reduction=sum"])
    assert strategy_options(config, "margin")["reduction"] == "sum"


def test_build_model_is_seeded_without_touching_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = build_model({"width": 4, "heads": "plain"}, 4, seed=7)
    assert torch.equal(torch.rand(3), expected)
    b = build_model({"width": 4, "heads": "plain"}, 4, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_load_config_works_in_a_fresh_interpreter():
    code = "from alstrategies.config import load_config; print(load_config(None, [])['data']['name'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "synthetic"


class _Parity(RankingStrategy):
    """Scores ``-(index % 3)`` plus a detail; draws one number from the rng (to see it is passed)."""

    name = "parity"

    def score(self, context, rng):
        self.drawn = rng.integers(0, 100)
        scores = -(context.unlabeled % 3).astype(np.float64)
        return scores, {"index": context.unlabeled * 10}


def test_ranking_strategy_takes_the_top_k_of_its_scores():
    strategy = _Parity()
    context = _context(_Identity(), n=10, labeled=(0, 1))
    result = strategy.query(context, 4, np.random.default_rng(0))
    # candidates 2..9 score -2, 0, -1, -2, 0, -1, -2, 0: the zeros (3, 6, 9), then one of the -1s (4, 7)
    assert sorted(result.indices[:3].tolist()) == [3, 6, 9]
    assert result.indices[3] in (4, 7)
    assert result.candidates.tolist() == list(range(2, 10))
    assert result.candidates is not context.unlabeled
    assert result.scores.tolist() == [-2.0, 0.0, -1.0, -2.0, 0.0, -1.0, -2.0, 0.0]
    assert result.details["index"].tolist() == [10 * i for i in range(2, 10)]
    assert strategy.drawn == np.random.default_rng(0).integers(0, 100)


def test_ranking_strategy_rejects_misaligned_scores():
    class Short(RankingStrategy):
        name = "short"

        def score(self, context, rng):
            return np.zeros(context.unlabeled.size - 1), {}

    with pytest.raises(StrategyContractError, match="one score per image"):
        Short().query(_context(_Identity()), 2, np.random.default_rng(0))


def test_score_strategy_is_a_ranking_strategy_and_score_pool_is_its_score():
    strategy = _Brightness()
    assert isinstance(strategy, RankingStrategy)
    scores, details = strategy.score(_context(_Identity()), np.random.default_rng(0))
    alias, _ = strategy.score_pool(_context(_Identity()))
    assert scores.dtype == np.float64 and details == {}
    np.testing.assert_array_equal(scores, alias)
    np.testing.assert_array_equal(scores, np.arange(2, 10, dtype=np.float64))


def test_baselines_only_implement_score_on_the_ranking_base():
    from alstrategies.baselines.bald import BALDStrategy
    from alstrategies.baselines.mc_dropout_strategy import MCDropoutStrategy
    from alstrategies.baselines.mean_std import MeanSTDStrategy
    from alstrategies.baselines.uncertainty import LeastConfidenceStrategy, MarginStrategy, MaxEntropyStrategy
    from alstrategies.baselines.vaal import VAALStrategy

    for factory in (MeanSTDStrategy, VAALStrategy, BALDStrategy):
        assert issubclass(factory, RankingStrategy) and not issubclass(factory, ScoreStrategy)
        assert factory.select is RankingStrategy.select
    assert "score" in vars(VAALStrategy)
    for factory in (MeanSTDStrategy, BALDStrategy):  # the MC-dropout pair: one pixel map each
        assert issubclass(factory, MCDropoutStrategy) and factory.score is MCDropoutStrategy.score
        assert set(vars(factory)) & {"score", "score_pool", "__init__"} == set()
        assert "pixel_scores" in vars(factory)
    for factory in (MaxEntropyStrategy, LeastConfidenceStrategy, MarginStrategy):
        assert "__init__" not in vars(factory)  # ScoreStrategy's, with its reduction option
        assert factory(reduction="max").reduction == "max"


def test_family_is_declared_on_the_base_and_set_on_every_built_in():
    from alstrategies.registry import STRATEGIES
    from alstrategies.strategy import FAMILIES, is_control

    assert QueryStrategy.family in FAMILIES
    expected = {
        "random": "random",
        "max_entropy": "uncertainty",
        "least_confidence": "uncertainty",
        "margin": "uncertainty",
        "mean_std": "uncertainty",
        "sbc_al": "uncertainty",
        "vaal": "diversity",
        "oracle": "control",
        "confident": "control",
        "bald": "uncertainty",
        "power_bald": "uncertainty",
        "power_entropy": "uncertainty",
        "power_sbc_al": "uncertainty",
    }
    for name, family in expected.items():
        factory = STRATEGIES.get(name)
        assert factory.family == family, name
        assert factory.is_control() is (family == "control") is is_control(factory), name
    assert not is_control(dict) and not _Brightness.is_control()


def test_source_and_forward_passes_are_declared_on_the_base_and_set_on_the_built_ins():
    from alstrategies.registry import STRATEGIES

    assert QueryStrategy.source == "" and QueryStrategy.forward_passes == "1"
    assert _Brightness.source == "" and _Brightness.forward_passes == "1"
    expected = {
        "random": ("uniform", "0"),
        "max_entropy": ("Settles", "1"),
        "least_confidence": ("Culotta", "1"),
        "margin": ("Scheffer", "1"),
        "mean_std": ("Gal et al., ICML 2017", "T (10)"),
        "bald": ("Houlsby et al. 2011", "T (10)"),
        "vaal": ("Sinha et al., ICCV 2019", "0 (a VAE and a discriminator trained per round)"),
        "oracle": ("control", "1"),
        "confident": ("control", "1"),
        "power_bald": ("Kirsch et al., TMLR 2023", "T (10)"),
        "power_entropy": ("Kirsch et al., TMLR 2023", "1"),
        "power_sbc_al": ("Kirsch et al., TMLR 2023", "1"),
    }
    for name, (source, passes) in expected.items():
        factory = STRATEGIES.get(name)
        assert source in factory.source, name
        assert factory.forward_passes == passes, name
        assert isinstance(factory.source, str) and isinstance(factory.forward_passes, str)


def test_required_heads_is_declared_on_the_base():
    from alstrategies.baselines.random_sampling import RandomStrategy
    from alstrategies.sbcal.strategy import SBCALStrategy

    assert QueryStrategy.required_heads is None
    assert RandomStrategy.required_heads is None
    assert SBCALStrategy.required_heads == "sbc"


def test_empty_pool_error_comes_from_the_errors_module():
    assert EmptyPoolError is errors.EmptyPoolError
    with pytest.raises(errors.EmptyPoolError, match="unlabeled pool is empty") as caught:
        _Brightness().query(_context(_Identity(), n=2, labeled=(0, 1)), 1, np.random.default_rng(0))
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, errors.AlstrategiesError)


def test_package_exports_the_plug_in_contract_lazily():
    code = (
        "import sys, alstrategies\n"
        "assert 'torch' not in sys.modules, 'import alstrategies imported torch'\n"
        "from alstrategies import *\n"
        "import alstrategies.strategy as s, alstrategies.conformance as c, alstrategies.config as g\n"
        "import alstrategies.types as t\n"
        "assert (QueryStrategy, RankingStrategy, ScoreStrategy, QueryContext, QueryResult) == (\n"
        "    s.QueryStrategy, s.RankingStrategy, s.ScoreStrategy, s.QueryContext, s.QueryResult)\n"
        "assert ModelOutput is t.ModelOutput and check_strategy is c.check_strategy\n"
        "assert load_config is g.load_config and __version__ == alstrategies.__version__\n"
        "assert 'RankingStrategy' in dir(alstrategies)\n"
        "try:\n"
        "    alstrategies.no_such_name\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "no attribute 'no_such_name'" in out.stdout


def test_score_batch_sees_the_pool_indices_of_each_batch_and_pool_labels_default_to_none():
    class _Indexed(_Brightness):
        def score_batch(self, context, indices, output):
            seen.append(indices.tolist())
            return torch.as_tensor(indices, dtype=torch.float32) * 10

    seen: list[list[int]] = []
    context = _context(_Identity())
    assert context.pool_labels is None
    scores, _ = _Indexed().score(context)
    assert seen == [[2, 3, 4], [5, 6, 7], [8, 9]]  # batches of 3, in context.unlabeled order
    np.testing.assert_array_equal(scores, 10.0 * np.arange(2, 10))
