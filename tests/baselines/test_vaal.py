"""VAAL: both networks learn in one round, the query follows the data, lowest D(mu) first."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies.baselines.vaal import VAE, Discriminator, VAALHistory, VAALStrategy
from alstrategies.data.synthetic import load_synthetic
from alstrategies.models import build_model
from alstrategies.strategy import QueryContext

SEED = 1


def _context(pool: torch.Tensor, labeled: np.ndarray, batch_size: int = 64) -> QueryContext:
    return QueryContext(
        model=build_model({"width": 4, "heads": "plain"}, 4, seed=0),
        pool_images=pool,
        labeled=np.asarray(labeled, dtype=np.int64),
        unlabeled=np.setdiff1d(np.arange(pool.shape[0]), labeled),
        num_classes=4,
        batch_size=batch_size,
    )


@pytest.fixture(scope="module")
def subpopulation_round():
    """One default VAAL round on the 48 x 48 phantom (384 slices) in which every tenth slice is
    flipped and inverted: an obviously different sub-population, absent from the labeled set."""
    pool = torch.from_numpy(load_synthetic(image_size=48).pool_images).clone()
    odd = np.arange(pool.shape[0]) % 10 == 3
    pool[odd] = 1 - pool[odd].flip(-1)
    labeled = np.sort(np.random.default_rng(0).choice(np.flatnonzero(~odd), 26, replace=False))
    context = _context(pool, labeled)
    k = int(odd[context.unlabeled].sum())
    strategy = VAALStrategy()
    torch.manual_seed(0)
    result = strategy.query(context, k, np.random.default_rng(SEED))
    return strategy, context, result, odd


def _early_late(values: list[float]) -> tuple[float, float]:
    n = max(1, len(values) // 5)
    return float(np.mean(values[:n])), float(np.mean(values[-n:]))


def test_round_trains_the_default_number_of_iterations(subpopulation_round):
    strategy, context, _, _ = subpopulation_round
    history = strategy.history
    assert isinstance(history, VAALHistory)
    assert history.iterations == math.ceil(6.0 * context.pool_images.shape[0] / 16) == 144
    arrays = history.as_arrays()
    assert all(values.shape == (144,) and np.isfinite(values).all() for values in arrays.values())


def test_vae_reconstruction_improves(subpopulation_round):
    early, late = _early_late(subpopulation_round[0].history.reconstruction)
    assert late < 0.75 * early, f"reconstruction MSE {early:.3f} -> {late:.3f}: the VAE did not learn"


def test_discriminator_accuracy_improves(subpopulation_round):
    """From chance at initialisation the discriminator's balanced accuracy climbs. It is an
    adversarial game: the VAE then learns to fool it, so the peak (running mean over 20
    iterations), not the last iteration, is compared with the start."""
    accuracy = np.asarray(subpopulation_round[0].history.accuracy)
    start = accuracy[:10].mean()
    peak = np.convolve(accuracy, np.ones(20) / 20, mode="valid").max()
    assert start < 0.6 and peak > start + 0.1, f"discriminator accuracy {start:.2f} -> peak {peak:.2f}"


def test_discriminator_labels_are_not_inverted(subpopulation_round):
    """After training D(mu) is high on the labeled images and low on the sub-population that the
    labeled set lacks (ordinary unlabeled images, drawn like the labeled ones, sit between)."""
    strategy, context, _, odd = subpopulation_round
    labeled, unlabeled = strategy.training_sets(context)
    d_labeled = torch.sigmoid(strategy.discriminator_scores(strategy.vae, strategy.discriminator, labeled))
    d_unlabeled = torch.sigmoid(
        strategy.discriminator_scores(strategy.vae, strategy.discriminator, unlabeled)
    )
    is_odd = torch.from_numpy(odd[context.unlabeled])
    assert d_labeled.mean() > d_unlabeled[~is_odd].mean() > d_unlabeled[is_odd].mean()
    assert d_labeled.mean() > d_unlabeled[is_odd].mean() + 0.05


def test_the_unseen_subpopulation_is_queried(subpopulation_round):
    _, context, result, odd = subpopulation_round
    base_rate = odd[context.unlabeled].mean()  # what random sampling would get: about 0.11
    queried_rate = odd[result.indices].mean()
    assert queried_rate >= 3 * base_rate, (
        f"{queried_rate:.2f} of the queried images are odd (base {base_rate:.2f})"
    )
    # and the whole ranking separates them: AUC of -D(mu) for odd vs ordinary unlabeled images
    d = result.details["discriminator"]
    is_odd = odd[result.candidates]
    auc = (d[~is_odd][:, None] > d[is_odd][None, :]).mean() + 0.5 * (
        d[~is_odd][:, None] == d[is_odd][None, :]
    ).mean()
    assert auc >= 0.75, f"AUC {auc:.2f}"


def test_query_takes_the_lowest_discriminator_outputs(subpopulation_round):
    _, _, result, _ = subpopulation_round
    d = result.details["discriminator"]
    order = np.argsort(d, kind="stable")
    k = result.indices.size
    np.testing.assert_array_equal(result.indices, result.candidates[order[:k]])
    assert (
        d[np.isin(result.candidates, result.indices)].max()
        <= d[~np.isin(result.candidates, result.indices)].min()
    )
    np.testing.assert_allclose(result.scores, -np.log(d / (1 - d)), rtol=1e-6, atol=1e-6)


class _MeanVAE(nn.Module):
    """mu = (image mean, 0, ..., 0): a stand-in with a known encoding."""

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu = torch.zeros(x.shape[0], 32)
        mu[:, 0] = x.mean(dim=(1, 2, 3))
        return mu, torch.zeros_like(mu)


class _IdentityDiscriminator(nn.Module):
    """logit D(mu) = 4 mu_0: brighter images look more "labeled"."""

    def forward(self, mu: torch.Tensor) -> torch.Tensor:
        return 4 * mu[:, 0]


def test_sort_order_with_known_networks(monkeypatch):
    """Independent of training: with D increasing in brightness, the darkest images are queried."""
    brightness = torch.tensor([0.9, 0.1, 0.5, 0.3, 0.8, 0.2, 0.7, 0.4, 0.6, 0.05])
    pool = brightness[:, None, None, None].expand(10, 1, 32, 32).contiguous()
    strategy = VAALStrategy()
    monkeypatch.setattr(
        strategy,
        "fit",
        lambda labeled, unlabeled, seed: (_MeanVAE(), _IdentityDiscriminator(), VAALHistory()),
    )
    context = _context(pool, labeled=np.array([0, 4]))
    result = strategy.query(context, 3, np.random.default_rng(0))
    assert result.indices.tolist() == [9, 1, 5]  # brightness 0.05, 0.1, 0.2: the lowest D(mu)
    d = result.details["discriminator"]
    assert np.all(np.diff(d[np.argsort(-result.scores)]) >= 0)


def _small_pool(n: int = 24) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand((n, 1, 32, 48), generator=generator)


def test_networks_are_reinitialised_every_round():
    pool = _small_pool()
    strategy = VAALStrategy(iterations=4)
    strategy.query(_context(pool, np.arange(6)), 3, np.random.default_rng(1))
    first_vae = strategy.vae
    second = strategy.query(_context(pool, np.arange(9)), 3, np.random.default_rng(2))
    assert strategy.vae is not first_vae
    fresh = VAALStrategy(iterations=4).query(_context(pool, np.arange(9)), 3, np.random.default_rng(2))
    np.testing.assert_array_equal(second.indices, fresh.indices)
    np.testing.assert_array_equal(second.scores, fresh.scores)


def test_seeded_by_the_generator_and_leaves_torch_rng_alone():
    pool = _small_pool()
    contexts = [_context(pool, np.arange(6)) for _ in range(2)]  # build_model reseeds torch
    torch.manual_seed(1)
    first = VAALStrategy(iterations=4).query(contexts[0], 5, np.random.default_rng(3))
    after = torch.rand(2)
    torch.manual_seed(1)
    assert torch.equal(torch.rand(2), after), "the query consumed the global torch generator"
    torch.manual_seed(2)
    second = VAALStrategy(iterations=4).query(contexts[1], 5, np.random.default_rng(3))
    np.testing.assert_array_equal(first.scores, second.scores)


def test_vae_and_discriminator_shapes():
    vae = VAE(1, 64, latent_dim=32, width=8)
    recon, mu, logvar = vae(torch.rand(3, 1, 64, 64))
    assert recon.shape == (3, 1, 64, 64) and mu.shape == logvar.shape == (3, 32)
    assert sum(isinstance(m, nn.Conv2d) for m in vae.encoder) == 4  # four stride-2 blocks at 64
    big = VAE(3, 128, latent_dim=16, width=4, init="kaiming")
    assert sum(isinstance(m, nn.Conv2d) for m in big.encoder) == 5  # one more stage at 128
    assert big(torch.rand(2, 3, 128, 128))[0].shape == (2, 3, 128, 128)
    disc = Discriminator(32)
    assert [m.out_features for m in disc.net if isinstance(m, nn.Linear)] == [512, 512, 1]
    assert disc(mu).shape == (3,) and ((disc.probability(mu) > 0) & (disc.probability(mu) < 1)).all()


def test_image_size_128_and_reference_options_run():
    strategy = VAALStrategy(
        iterations=2, image_size=128, width=4, kld_reduction="sum", init="kaiming", vae_steps=2
    )
    result = strategy.query(_context(_small_pool(), np.arange(6)), 4, np.random.default_rng(0))
    assert result.indices.size == 4 and strategy.history.iterations == 2


def test_iterations_follow_epochs_unless_set():
    assert VAALStrategy().num_iterations(384) == 144
    assert VAALStrategy(epochs=1, batch_size=32).num_iterations(100) == 4
    assert VAALStrategy(iterations=7).num_iterations(10_000) == 7


@pytest.mark.parametrize(
    "options",
    [
        {"image_size": 96},
        {"kld_reduction": "max"},
        {"init": "xavier"},
        {"batch_size": 0},
        {"iterations": -1},
        {"iterations": 0, "epochs": 0},
    ],
)
def test_bad_options_are_rejected(options):
    with pytest.raises(ValueError):
        VAALStrategy(**options)
