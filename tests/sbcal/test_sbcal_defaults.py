"""SBC-AL's paper defaults: score weights of the strategy and functions, loss weights."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from alstrategies.config import load_config, strategy_options
from alstrategies.models import build_criterion
from alstrategies.registry import STRATEGIES
from alstrategies.sbcal import consistency_score, structure_consistency
from alstrategies.sbcal.loss import SBCCriterion
from alstrategies.sbcal.strategy import SBCALStrategy

PAPER_WEIGHTS = {"w_s": 0.8, "w_b": 0.2, "w_c": 0.6, "w_d": 0.4}


def test_strategy_weights_default_to_the_paper_values() -> None:
    strategy = SBCALStrategy()
    for name, value in PAPER_WEIGHTS.items():
        assert getattr(strategy, name) == value, name
    parameters = inspect.signature(SBCALStrategy).parameters
    assert {name: parameters[name].default for name in PAPER_WEIGHTS} == PAPER_WEIGHTS
    config = load_config(None, ["strategies.names=['sbc_al']"])
    built = STRATEGIES.get("sbc_al")(**strategy_options(config, "sbc_al"))
    assert {name: getattr(built, name) for name in PAPER_WEIGHTS} == PAPER_WEIGHTS


def test_score_function_weights_default_to_the_paper_values() -> None:
    assert inspect.signature(structure_consistency).parameters["w_c"].default == 0.6
    assert inspect.signature(structure_consistency).parameters["w_d"].default == 0.4
    assert inspect.signature(consistency_score).parameters["w_s"].default == 0.8
    assert inspect.signature(consistency_score).parameters["w_b"].default == 0.2
    scs, bcs = np.array([0.5, -1.0]), np.array([0.25, 1.0])
    np.testing.assert_allclose(consistency_score(scs, bcs), 0.8 * scs + 0.2 * bcs)


def test_loss_weights_default_to_one() -> None:
    criterion = SBCCriterion()
    assert (criterion.alpha, criterion.beta, criterion.gamma) == (1.0, 1.0, 1.0)
    config = load_config()
    built = build_criterion(config["model"], config["loss"])
    assert isinstance(built, SBCCriterion)
    assert (built.alpha, built.beta, built.gamma) == pytest.approx((1.0, 1.0, 1.0))
