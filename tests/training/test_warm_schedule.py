"""What a warm round's learning rate does (``train.warm_lr_factor``, ``train.warm_schedule``):
the formula, and the learning rates a real run's trainings actually step with."""

from __future__ import annotations

import pytest
import torch

from alstrategies.config import load_config
from alstrategies.engine.loop import Experiment
from alstrategies.errors import ConfigError
from alstrategies.training.trainer import TrainConfig, lr_factor


def test_warm_linear_falls_from_the_warm_peak_to_zero():
    config = TrainConfig(warm_lr_factor=0.1, warm_schedule="linear", cooldown=0.2)
    factors = [lr_factor(config, t, 50, warm=True) for t in range(50)]
    assert factors == pytest.approx([0.1 * (50 - t) / 50 for t in range(50)])
    # a cold training ignores both warm settings: the step schedule with its cooldown
    cold = [lr_factor(config, t, 50) for t in range(50)]
    assert cold[:40] == [1.0] * 40 and cold[40:] == pytest.approx([(50 - t) / 11 for t in range(40, 50)])


def test_warm_restart_is_the_cold_schedule_scaled():
    config = TrainConfig(warm_lr_factor=0.3, cooldown=0.2)  # warm_schedule = "restart"
    for t in range(50):
        assert lr_factor(config, t, 50, warm=True) == pytest.approx(0.3 * lr_factor(config, t, 50))
    default = TrainConfig(cooldown=0.2)  # the committed behaviour: a warm round restarts at the peak
    assert [lr_factor(default, t, 50, warm=True) for t in range(50)] == [
        lr_factor(default, t, 50) for t in range(50)
    ]


def test_bad_warm_settings_are_one_line():
    with pytest.raises(
        ConfigError, match=r"train.warm_schedule = 'cosine' is not one of \('restart', 'linear'\)"
    ):
        load_config(None, ['train.warm_schedule="cosine"'])
    with pytest.raises(ConfigError, match=r"train.warm_lr_factor must be > 0"):
        load_config(None, ["train.warm_lr_factor=0"])


class _LrRecorder:
    """Records every SGD step's learning rates, one list per training (a new optimiser)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.trainings: list[list[tuple[float, ...]]] = []
        original_init, original_step = torch.optim.SGD.__init__, torch.optim.SGD.step
        recorder = self

        def init(optimizer, *args, **kwargs):
            original_init(optimizer, *args, **kwargs)
            recorder.trainings.append([])

        def step(optimizer, *args, **kwargs):
            recorder.trainings[-1].append(tuple(group["lr"] for group in optimizer.param_groups))
            return original_step(optimizer, *args, **kwargs)

        monkeypatch.setattr(torch.optim.SGD, "__init__", init)
        monkeypatch.setattr(torch.optim.SGD, "step", step)


def _run(tmp_path, tiny_config, monkeypatch, *overrides: str) -> list[list[tuple[float, ...]]]:
    config = tiny_config(
        "model.heads=sbc",
        "train.lr=0.02",
        "train.sfp_lr=0.004",
        "train.iterations=10",
        "train.initial_iterations=10",
        "train.full_iterations=10",
        "train.warm_start=true",
        "protocol.final_fraction=0.3",  # round 0 and one warm round
        *overrides,
    )
    recorder = _LrRecorder(monkeypatch)
    Experiment(config, tmp_path / "run", strategies=["random"], progress=False).run()
    return recorder.trainings


def test_a_real_warm_round_starts_at_the_warm_lr_and_falls_to_zero(tmp_path, tiny_config, monkeypatch):
    trainings = _run(
        tmp_path, tiny_config, monkeypatch, "train.warm_lr_factor=0.1", 'train.warm_schedule="linear"'
    )
    round0, full, round1 = trainings  # the in-process order: round 0, the 100 % model, the chain
    assert round0[0] == pytest.approx((0.02, 0.004))  # cold: the peak lr of each parameter group
    for warm in (round1, full):  # both continue round 0's model
        assert warm[0] == pytest.approx((0.002, 0.0004))  # starts at a tenth of the peak
        assert [lrs[0] for lrs in warm] == pytest.approx([0.002 * (10 - t) / 10 for t in range(10)])
        assert [lrs[1] for lrs in warm] == pytest.approx([0.0004 * (10 - t) / 10 for t in range(10)])


def test_the_committed_restart_stays_reachable(tmp_path, tiny_config, monkeypatch):
    round0, full, round1 = _run(tmp_path, tiny_config, monkeypatch)  # defaults: restart at factor 1
    assert round1[0] == pytest.approx((0.02, 0.004)) == round0[0]
    assert [lrs[0] for lrs in round1] == [lrs[0] for lrs in round0]
