import itertools

import numpy as np
import pytest
import torch

from alstrategies.data.synthetic import load_synthetic
from alstrategies.models import build_criterion, build_model
from alstrategies.training.augment import augment_batch, symmetry
from alstrategies.training.trainer import TrainConfig, Trainer, batch_order, lr_factor
from alstrategies.types import ModelOutput

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def phantom():
    data = load_synthetic(image_size=32, train_patients=4, test_patients=1, slices_per_patient=4)
    images = torch.from_numpy(data.pool_images)
    labels = torch.from_numpy(data.pool_labels.astype(np.int64))
    return images, labels


def _fit(phantom, seed=0, **overrides):
    images, labels = phantom
    model = build_model({"width": 4, "heads": "plain"}, 4, seed=seed)
    config = TrainConfig(**{"iterations": 6, "batch_size": 4, **overrides})
    stats = Trainer(config, CPU).fit(
        model, images, {"labels": labels}, build_criterion({"heads": "plain"}, {}), seed=seed
    )
    return model, stats


def test_training_is_deterministic_on_cpu(phantom):
    a, stats_a = _fit(phantom)
    b, stats_b = _fit(phantom)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert stats_a.loss_history == stats_b.loss_history
    c, _ = _fit(phantom, seed=1)
    assert not torch.equal(next(iter(a.parameters())), next(iter(c.parameters())))


def test_loss_falls_on_the_phantom(phantom):
    _, stats = _fit(phantom, iterations=60, augment=False)
    first, last = stats.loss_history[0], stats.loss_history[-1]
    assert last < 0.8 * first


def test_iterations_from_epochs_and_minimum():
    config = TrainConfig(epochs=3, batch_size=16)
    assert config.num_iterations(40) == 9  # ceil(40 / 16) = 3 per epoch
    assert TrainConfig(epochs=2, batch_size=16, min_batches_per_epoch=5).num_iterations(40) == 10
    assert TrainConfig(epochs=2, batch_size=16, min_batches_per_epoch=2).num_iterations(40) == 6
    assert TrainConfig(iterations=7).num_iterations(40) == 7


def test_batch_order_walks_epochs_without_repeats():
    order = batch_order(10, 4, 5, torch.Generator().manual_seed(0))
    assert order.shape == (5, 4)
    flat = order.flatten().tolist()
    assert sorted(flat[:10]) == list(range(10))  # the first epoch sees every image once
    assert sorted(flat[10:20]) == list(range(10))


class _TwoGroupNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(1, 4, 1)
        self.b = torch.nn.Conv2d(1, 4, 1)

    def parameter_groups(self, lr, sfp_lr):
        return [{"params": self.a.parameters(), "lr": lr}, {"params": self.b.parameters(), "lr": sfp_lr}]

    def forward(self, x):
        logits = self.a(x) + self.b(x)  # 4 classes, both groups in the graph
        return ModelOutput(logits=logits, coarse_logits=logits)


def test_step_decay_applies_to_every_parameter_group(phantom):
    """Each group starts at its own rate and every ``lr_step`` iterations all of them are
    multiplied by ``lr_decay``: the rates are read at every optimiser step of a real fit."""
    trainer = Trainer(TrainConfig(lr=0.01, sfp_lr=1e-4, lr_step=2, lr_decay=0.9, iterations=7), CPU)
    optimizer = trainer.make_optimizer(_TwoGroupNet())
    assert [g["lr"] for g in optimizer.param_groups] == [0.01, 1e-4]
    assert optimizer.defaults["momentum"] == 0.9 and optimizer.defaults["weight_decay"] == 1e-4

    rates: list[list[float]] = []
    original = trainer.make_optimizer

    def recording(model):
        optimizer = original(model)
        step = optimizer.step

        def spy(*args, **kwargs):
            rates.append([group["lr"] for group in optimizer.param_groups])
            return step(*args, **kwargs)

        optimizer.step = spy
        return optimizer

    trainer.make_optimizer = recording
    images, labels = phantom
    plain = build_criterion({"heads": "plain"}, {})
    trainer.fit(_TwoGroupNet(), images, {"labels": labels}, plain, seed=0)
    expected = [[0.01 * 0.9 ** (s // 2), 1e-4 * 0.9 ** (s // 2)] for s in range(7)]
    assert len(rates) == 7
    for step, (got, want) in enumerate(zip(rates, expected)):
        assert got == pytest.approx(want, rel=1e-12), step
    assert rates[2][1] < rates[1][1] and rates[6][0] == pytest.approx(0.01 * 0.9**3)


def test_learning_rate_after_training_follows_the_schedule(phantom):
    images, labels = phantom
    model = build_model({"width": 4, "heads": "plain"}, 4, seed=0)
    trainer = Trainer(TrainConfig(iterations=5, batch_size=4, lr_step=2, lr_decay=0.5), CPU)
    seen = []
    original = trainer.make_optimizer

    def spy(m):
        optimizer = original(m)
        seen.append(optimizer)
        return optimizer

    trainer.make_optimizer = spy
    trainer.fit(model, images, {"labels": labels}, build_criterion({"heads": "plain"}, {}), seed=0)
    assert seen[0].param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**2)  # step 4 // 2 = 2 decays


def test_augmentation_moves_image_and_targets_together():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(16, 1, 8, 8)
    labels = torch.randint(0, 4, (16, 8, 8))
    out_images, out = augment_batch(images, {"labels": labels, "copy": images[:, 0]}, generator)
    symmetries = list(itertools.product([False, True], repeat=3))
    seen = set()
    for i in range(16):
        codes = [c for c in symmetries if torch.equal(symmetry(labels[i], *c), out["labels"][i])]
        matching = [c for c in codes if torch.equal(symmetry(images[i, 0], *c), out["copy"][i])]
        assert matching, i
        seen.add(matching[0])
    assert len(seen) > 3  # transforms vary within the batch
    assert out_images.shape == images.shape
    assert not torch.equal(out_images, images)


def test_non_square_batches_are_only_flipped():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (8, 6, 10))
    _, out = augment_batch(torch.rand(8, 1, 6, 10), {"labels": labels}, generator)
    assert out["labels"].shape == labels.shape
    flips = list(itertools.product([False, True], repeat=2))
    for i in range(8):
        assert any(torch.equal(symmetry(labels[i], False, *f), out["labels"][i]) for f in flips)


def test_full_epochs_factor_only_changes_the_full_model():
    config = TrainConfig(epochs=2, full_epochs_factor=2.5, batch_size=10)
    assert config.num_iterations(100) == 20
    assert config.num_iterations(100, "full") == 50
    assert TrainConfig(epochs=2, batch_size=10).num_iterations(100, "full") == 20


def test_stage_iterations_override_only_their_stage():
    config = TrainConfig(epochs=2, batch_size=10, iterations=30, initial_iterations=700, full_iterations=900)
    assert config.num_iterations(100, "round0") == 700
    assert config.num_iterations(100, "round") == 30
    assert config.num_iterations(100, "full") == 900
    by_epochs = TrainConfig(epochs=2, batch_size=10, full_iterations=900)
    assert by_epochs.num_iterations(100, "round0") == 20  # unset: as every round
    assert by_epochs.num_iterations(1000, "full") == 900
    with pytest.raises(ValueError, match="stage"):
        config.num_iterations(100, "final")


def test_lr_schedules_against_their_formulas():
    step = TrainConfig(lr_decay=0.5, lr_step=3)
    assert [lr_factor(step, t, 10) for t in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    poly = TrainConfig(lr_schedule="poly")
    for t, total in ((0, 10), (5, 10), (9, 10), (99, 100)):
        assert lr_factor(poly, t, total) == pytest.approx(((total - t) / total) ** 0.9)
    assert lr_factor(poly, 9, 10) < 0.13  # the last step of every training runs at ~0


def test_cooldown_falls_linearly_over_the_last_fraction():
    config = TrainConfig(lr_decay=0.5, lr_step=30, cooldown=0.2)  # 50 steps: 40 flat, 10 cooling
    factors = [lr_factor(config, t, 50) for t in range(50)]
    assert factors[:30] == [1.0] * 30 and factors[30:40] == [0.5] * 10
    assert factors[40:] == pytest.approx([0.5 * (50 - t) / 11 for t in range(40, 50)])
    assert all(a > b for a, b in zip(factors[39:], factors[40:]))  # strictly falling to the end
    assert factors[-1] == pytest.approx(0.5 / 11)
    assert [lr_factor(TrainConfig(cooldown=0.0), t, 50) for t in (0, 49)] == [1.0, 1.0]


def test_poly_schedule_changes_training_and_stays_deterministic(phantom):
    poly_a, _ = _fit(phantom, lr_schedule="poly")
    poly_b, _ = _fit(phantom, lr_schedule="poly")
    step, _ = _fit(phantom)
    assert all(torch.equal(a, b) for a, b in zip(poly_a.state_dict().values(), poly_b.state_dict().values()))
    assert any(
        not torch.equal(a, b) for a, b in zip(poly_a.state_dict().values(), step.state_dict().values())
    )


def test_compile_switch_is_ignored_on_the_cpu():
    """``train.compile`` only acts on CUDA: on the CPU the trained weights are unchanged."""
    import torch

    from alstrategies.models import build_criterion, build_model
    from alstrategies.training.trainer import TrainConfig, Trainer

    images = torch.rand(8, 1, 32, 32)
    labels = torch.randint(0, 4, (8, 32, 32))
    weights = []
    for compile_model in (False, True):
        model = build_model({"width": 4, "heads": "plain"}, 4, seed=0)
        config = TrainConfig(iterations=3, batch_size=4, compile=compile_model)
        Trainer(config, torch.device("cpu")).fit(
            model, images, {"labels": labels}, build_criterion({"heads": "plain"}, {}), 0
        )
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_sfp_group_learning_rate_decays_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training an SBCNet: both groups (exactly the SFP vs everything else) are multiplied by
    ``lr_decay`` every ``lr_step`` iterations, at every step and at the end."""
    from alstrategies.sbcal import distance_maps
    from alstrategies.sbcal.network import SBCNet

    iterations, lr_step, decay = 7, 2, 0.9
    images = torch.rand(6, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.zeros(6, 32, 32, dtype=torch.long)
    labels[:, 8:20, 8:20] = 1
    labels[:, 20:, 20:] = 3
    targets = {"labels": labels, "distance": distance_maps(labels, 4)}
    model = build_model({"width": 4, "heads": "sbc"}, 4, seed=0)
    assert isinstance(model, SBCNet)
    optimizers: list[torch.optim.Optimizer] = []
    step_lrs: list[dict[str, float]] = []
    original = Trainer.make_optimizer

    def spy(self: Trainer, m: torch.nn.Module) -> torch.optim.SGD:
        optimizer = original(self, m)
        optimizer.register_step_pre_hook(
            lambda opt, args, kwargs: step_lrs.append({g["name"]: g["lr"] for g in opt.param_groups})
        )
        optimizers.append(optimizer)
        return optimizer

    monkeypatch.setattr(Trainer, "make_optimizer", spy)
    config = TrainConfig(
        iterations=iterations,
        batch_size=2,
        lr=0.01,
        sfp_lr=1e-4,
        lr_step=lr_step,
        lr_decay=decay,
        augment=False,
    )
    Trainer(config, CPU).fit(model, images, targets, build_criterion({"heads": "sbc"}, {}), seed=0)

    assert len(optimizers) == 1
    groups = {g["name"]: g for g in optimizers[0].param_groups}
    assert set(groups) == {"backbone", "sfp"}
    sfp_ids = {id(p) for p in model.sfp.parameters()}
    other_ids = {id(p) for p in model.parameters()} - sfp_ids
    assert [id(p) for p in groups["sfp"]["params"]] and {id(p) for p in groups["sfp"]["params"]} == sfp_ids
    assert {id(p) for p in groups["backbone"]["params"]} == other_ids
    assert len(groups["sfp"]["params"]) + len(groups["backbone"]["params"]) == len(list(model.parameters()))
    initial = {"backbone": 0.01, "sfp": 1e-4}
    assert {name: g["initial_lr"] for name, g in groups.items()} == initial
    for name, value in initial.items():
        assert groups[name]["lr"] == pytest.approx(value * decay ** ((iterations - 1) // lr_step), rel=1e-12)
    assert len(step_lrs) == iterations
    for step, lrs in enumerate(step_lrs):
        for name, value in initial.items():
            assert lrs[name] == pytest.approx(value * decay ** (step // lr_step), rel=1e-12), (step, name)
