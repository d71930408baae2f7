"""MeanSTD and VAAL against references computed here.

MeanSTD runs on a network whose only dropout replays a fixed list of masks, so the T passes, and
hence the reference std, are known exactly. VAAL's VAE loss is read at its ``backward`` and
recomputed from the very tensors that the VAE and the discriminator produced in that step.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from alstrategies.baselines.mean_std import MeanSTDStrategy
from alstrategies.baselines.vaal import VAE, Discriminator, VAALStrategy
from alstrategies.models import build_model
from alstrategies.strategy import QueryContext
from alstrategies.types import ModelOutput


# -- MeanSTD ------------------------------------------------------------------------------------------
class ReplayedDropout(nn.Dropout):
    """A dropout module (switched to train mode by MC dropout) that multiplies its input by the
    next of a fixed cycle of masks instead of drawing one: any T consecutive calls see each of
    the T masks once."""

    def __init__(self, masks: torch.Tensor) -> None:
        super().__init__(p=0.5)
        self.masks = masks
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        mask = self.masks[self.calls % len(self.masks)]
        self.calls += 1
        return x * mask


class ReplayNet(nn.Module):
    """Logits ``(0, 3 z, 2 x - 3 z)`` with ``z = dropout(x)``: the std grows with the image."""

    def __init__(self, masks: torch.Tensor) -> None:
        super().__init__()
        self.dropout = ReplayedDropout(masks)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        z = self.dropout(x)
        logits = torch.cat([torch.zeros_like(x), 3 * z, 2 * x - 3 * z], dim=1)
        return ModelOutput(logits=logits, coarse_logits=logits)


def slow_mean_std(image: np.ndarray, masks: np.ndarray, reduction: str) -> float:
    """Per pixel and class the population std of the softmax over the passes, mean over classes,
    then ``reduction`` over pixels; plain numpy, one pass at a time."""
    passes = []
    for mask in masks:
        z = image * mask
        logits = np.stack([np.zeros_like(image), 3 * z, 2 * image - 3 * z]).astype(np.float64)
        e = np.exp(logits - logits.max(axis=0))
        passes.append(e / e.sum(axis=0))
    stacked = np.stack(passes)  # T x C x H x W
    mean = sum(passes) / len(passes)
    std = np.sqrt(sum((p - mean) ** 2 for p in passes) / len(passes)).mean(axis=0)
    assert np.allclose(std, stacked.std(axis=0).mean(axis=0))
    return float({"mean": std.mean, "max": std.max, "sum": std.sum}[reduction]())


@pytest.mark.parametrize("reduction", ["mean", "max"])
def test_mean_std_queries_the_highest_reference_std(reduction):
    generator = torch.Generator().manual_seed(0)
    passes, n, size = 6, 14, 6
    amplitude = torch.linspace(0.0, 1.5, n)[torch.randperm(n, generator=generator)]
    pool = amplitude[:, None, None, None] * torch.rand((n, 1, size, size), generator=generator)
    masks = 2.0 * (torch.rand((passes, size, size), generator=generator) < 0.5).float()
    labeled = np.array([2, 7, 11])
    model = ReplayNet(masks).eval()  # MC dropout switches the dropout on, and back off after
    context = QueryContext(
        model=model,
        pool_images=pool,
        labeled=labeled,
        unlabeled=np.setdiff1d(np.arange(n), labeled),
        num_classes=3,
        batch_size=4,  # 11 unlabeled images: batches of 4, 4 and 3
    )
    k = 4
    result = MeanSTDStrategy(passes=passes, reduction=reduction).query(context, k, np.random.default_rng(0))
    reference = np.array(
        [
            slow_mean_std(pool[i, 0].numpy().astype(np.float64), masks.numpy(), reduction)
            for i in context.unlabeled
        ]
    )
    np.testing.assert_array_equal(result.candidates, context.unlabeled)
    np.testing.assert_allclose(result.scores, reference, rtol=1e-5, atol=1e-7)
    order = np.argsort(-reference, kind="stable")
    assert reference[order[k - 1]] > reference[order[k]] * 1.01  # a clear top k
    assert sorted(result.indices.tolist()) == sorted(context.unlabeled[order[:k]].tolist())
    queried = np.isin(context.unlabeled, result.indices)
    assert reference[queried].min() >= reference[~queried].max()
    assert model.dropout.calls == passes * 3 and not model.dropout.training


# -- VAAL ---------------------------------------------------------------------------------------------
def _vaal_context(n: int = 12, labeled: int = 5) -> QueryContext:
    generator = torch.Generator().manual_seed(3)
    pool = torch.rand((n, 1, 32, 32), generator=generator)
    return QueryContext(
        model=build_model({"width": 4, "heads": "plain"}, 4, seed=0),
        pool_images=pool,
        labeled=np.arange(labeled),
        unlabeled=np.arange(labeled, n),
        num_classes=4,
    )


@pytest.fixture
def vae_step(monkeypatch):
    """Records, in call order, the VAE's forward inputs and outputs, the discriminator's logits
    and every loss that is backpropagated."""
    seen: dict[str, list] = {"vae": [], "disc": [], "loss": []}
    vae_forward, disc_forward, backward = VAE.forward, Discriminator.forward, torch.Tensor.backward

    def spy_vae(self, x):
        out = vae_forward(self, x)
        seen["vae"].append((x.detach().clone(), *(t.detach().clone() for t in out)))
        return out

    def spy_disc(self, mu):
        out = disc_forward(self, mu)
        seen["disc"].append(out.detach().clone())
        return out

    def spy_backward(self, *args, **kwargs):
        seen["loss"].append(float(self.detach()))
        return backward(self, *args, **kwargs)

    monkeypatch.setattr(VAE, "forward", spy_vae)
    monkeypatch.setattr(Discriminator, "forward", spy_disc)
    monkeypatch.setattr(torch.Tensor, "backward", spy_backward)
    return seen


def _reference_vae_loss(seen: dict, n_l: int, beta: float, weight: float, kld_reduction: str) -> dict:
    x, recon, mu, logvar = seen["vae"][0]
    logits = seen["disc"][0]  # the discriminator's pass inside the VAE step
    terms = -0.5 * (1 + logvar - mu**2 - logvar.exp())
    parts = {"l": slice(0, n_l), "u": slice(n_l, None)}
    reconstruction = sum(float(((recon[s] - x[s]) ** 2).mean()) for s in parts.values())
    if kld_reduction == "mean":
        kld = sum(float(terms[s].mean()) for s in parts.values())
    else:
        kld = sum(float(terms[s].sum()) for s in parts.values())
    fool = 0.0
    for s in parts.values():  # BCE(D(mu), 1) = mean softplus(-logit)
        fool += float(np.mean([math.log1p(math.exp(-v)) for v in logits[s].tolist()]))
    return {
        "loss": reconstruction + beta * kld + weight * fool,
        "reconstruction": reconstruction,
        "kld": kld,
        "fool": fool,
    }


@pytest.mark.parametrize("kld_reduction", ["mean", "sum"])
def test_vaal_vae_loss_is_reconstruction_plus_beta_kld_plus_lambda_fooling(vae_step, kld_reduction):
    beta, weight, batch = 0.7, 2.5, 4
    strategy = VAALStrategy(
        iterations=1,
        batch_size=batch,
        width=4,
        discriminator_width=16,
        beta=beta,
        adversary_weight=weight,
        kld_reduction=kld_reduction,
    )
    strategy.query(_vaal_context(), 3, np.random.default_rng(0))
    assert len(vae_step["vae"]) == 1 and len(vae_step["loss"]) == 2  # one VAE and one D update
    x = vae_step["vae"][0][0]
    assert x.shape == (2 * batch, 1, 64, 64)
    expected = _reference_vae_loss(vae_step, batch, beta, weight, kld_reduction)
    assert expected["fool"] > 0.5 and expected["kld"] > 1e-4  # every term weighs in
    assert vae_step["loss"][0] == pytest.approx(expected["loss"], rel=1e-5)
    history = strategy.history
    assert history.kld[0] == pytest.approx(0.5 * expected["kld"], rel=1e-5)
    assert history.adversarial[0] == pytest.approx(expected["fool"], rel=1e-5)
    assert history.reconstruction[0] == pytest.approx(0.5 * expected["reconstruction"], rel=1e-5)


def test_vaal_kld_reduction_sum_is_the_mean_times_batch_and_latent_size(vae_step):
    """The same seeded step under both reductions: the KL terms differ by n x latent_dim."""
    kld = {}
    for reduction in ("mean", "sum"):
        vae_step["vae"].clear()
        strategy = VAALStrategy(
            iterations=1, batch_size=4, width=4, discriminator_width=16, kld_reduction=reduction
        )
        strategy.query(_vaal_context(), 3, np.random.default_rng(0))
        kld[reduction] = strategy.history.kld[0]
    mu = vae_step["vae"][0][2]
    per_set = 4 * mu.shape[1]  # both sets have a batch of 4
    assert kld["sum"] == pytest.approx(per_set * kld["mean"], rel=1e-5)


def test_vaal_adversarial_term_reaches_the_vae():
    """One seeded round with and without the adversary: only the fooling term's gradient, which
    flows through the discriminator into mu, can make the two VAEs differ."""
    states = []
    for weight in (0.0, 2.5):
        strategy = VAALStrategy(
            iterations=1, batch_size=4, width=4, discriminator_width=16, adversary_weight=weight
        )
        strategy.query(_vaal_context(), 3, np.random.default_rng(0))
        states.append({k: v.clone() for k, v in strategy.vae.state_dict().items()})
    decoder = [k for k in states[0] if k.startswith("decoder") and k.endswith("weight")]
    encoder = [k for k in states[0] if k.startswith(("encoder", "fc_mu")) and k.endswith("weight")]
    assert all(torch.equal(states[0][k], states[1][k]) for k in decoder)  # the decoder never sees D
    assert any(not torch.equal(states[0][k], states[1][k]) for k in encoder)


def test_vaal_discriminator_loss_reference(vae_step):
    """The discriminator's BCE(D(mu_l), 1) + BCE(D(mu_u), 0), from its own logits."""
    strategy = VAALStrategy(iterations=1, batch_size=4, width=4, discriminator_width=16)
    strategy.query(_vaal_context(), 3, np.random.default_rng(0))
    logits = vae_step["disc"][1]  # the discriminator's own step
    target = torch.cat([torch.ones(4), torch.zeros(len(logits) - 4)])
    expected = sum(
        float(F.binary_cross_entropy_with_logits(logits[s], target[s])) for s in (slice(0, 4), slice(4, None))
    )
    assert vae_step["loss"][1] == pytest.approx(expected, rel=1e-5)
    assert strategy.history.discriminator[0] == pytest.approx(expected, rel=1e-5)
