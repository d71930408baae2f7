"""VAAL: variational adversarial active learning (Sinha et al., ICCV 2019; DESIGN section 4).

Every round a fresh beta-VAE and a fresh discriminator are trained on the labeled and the
unlabeled images (the segmentation model is not used). The VAE encodes an image into a latent
Gaussian (mean ``mu``); the discriminator ``D`` reads ``mu`` and predicts "labeled" (1) vs
"unlabeled" (0). The VAE minimises reconstruction + ``beta`` x KL on both sets plus
``adversary_weight`` x [BCE(D(mu_l), 1) + BCE(D(mu_u), 1)] (it tries to make every image look
labeled); the discriminator minimises BCE(D(mu_l), 1) + BCE(D(mu_u), 0). The images queried are
the unlabeled ones that the trained discriminator is most sure are unlabeled: the LOWEST
``D(mu)`` first.

Architecture (as in the authors' code, sinhasam/vaal, with a configurable width): images
resized to ``image_size`` (64, or 128 with one more stage) and standardised with the pool's
per-channel mean and std; encoder ``log2(image_size / 4)`` blocks of conv4x4 stride 2 + BN +
ReLU with ``width * 2^i`` channels down to 4 x 4; linear heads to ``mu`` and ``logvar``
(``latent_dim = 32``); a mirrored decoder (linear to 4 x 4, transposed conv4x4 stride 2 + BN +
ReLU blocks, the last one straight to the input channels); discriminator
``latent -> 512 -> 512 -> 1`` with ReLU and a sigmoid; Adam with learning rate 5e-4 for both;
``vae_steps`` VAE updates and ``adversary_steps`` discriminator updates per iteration. The
defaults keep a round at a few seconds on a 2-core CPU; ``docs/baselines.md`` compares them
with the reference's and shows how they were chosen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from alstrategies.errors import ConfigError
from alstrategies.seeding import seeded_torch, torch_seed
from alstrategies.strategy import DEFAULT_BETA, DEFAULT_SAMPLING, QueryContext, RankingStrategy, SamplingRule

IMAGE_SIZES = (64, 128)
KLD_REDUCTIONS = ("mean", "sum")
INITS = ("torch", "kaiming")


def _init_weights(module: nn.Module) -> None:
    """Kaiming-normal convolutions and linear layers, unit BatchNorm (the reference code's init)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.kaiming_normal_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class VAE(nn.Module):
    """Convolutional beta-VAE: ``image_size`` -> 4 x 4 by stride-2 blocks -> latent Gaussian."""

    def __init__(
        self,
        in_channels: int,
        image_size: int = 64,
        latent_dim: int = 32,
        width: int = 8,
        init: str = "torch",
    ) -> None:
        super().__init__()
        stages = int(math.log2(image_size // 4))
        if image_size < 8 or 4 * 2**stages != image_size:
            raise ValueError(f"VAE image_size must be 4 x a power of two, got {image_size}")
        channels = [width * 2**i for i in range(stages)]
        encoder: list[nn.Module] = []
        previous = in_channels
        for c in channels:
            encoder += [nn.Conv2d(previous, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            previous = c
        self.encoder = nn.Sequential(*encoder, nn.Flatten())
        flat = channels[-1] * 16
        self.fc_mu = nn.Linear(flat, latent_dim)
        self.fc_logvar = nn.Linear(flat, latent_dim)
        decoder: list[nn.Module] = [nn.Linear(latent_dim, flat), nn.Unflatten(1, (channels[-1], 4, 4))]
        outs = channels[-2::-1] + [in_channels]
        for i, (c_in, c_out) in enumerate(zip(channels[::-1], outs, strict=True)):
            decoder.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=i == stages - 1))
            if i < stages - 1:
                decoder += [nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        self.decoder = nn.Sequential(*decoder)
        if init == "kaiming":
            self.apply(_init_weights)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)``, each ``B x latent_dim``."""
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(reconstruction, mu, logvar)`` with one reparameterised sample."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decoder(z), mu, logvar


class Discriminator(nn.Module):
    """MLP ``latent -> hidden -> hidden -> 1``; :meth:`forward` returns the logit of "labeled"."""

    def __init__(self, latent_dim: int = 32, hidden: int = 512, init: str = "torch") -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, 1),
        )
        if init == "kaiming":
            self.apply(_init_weights)

    def forward(self, mu: torch.Tensor) -> torch.Tensor:
        return self.net(mu).squeeze(1)

    def probability(self, mu: torch.Tensor) -> torch.Tensor:
        """``D(mu)``: the probability that an image is labeled."""
        return torch.sigmoid(self(mu))


@dataclass
class VAALHistory:
    """Per-iteration training diagnostics of one VAAL round.

    ``reconstruction``: MSE of the VAE (mean of the labeled and unlabeled batches, last VAE
    step); ``kld``: its KL term; ``adversarial``: the VAE's fooling loss; ``discriminator``: the
    discriminator's BCE; ``accuracy``: the discriminator's balanced accuracy on the iteration's
    batches (threshold 0.5), measured before its update.
    """

    reconstruction: list[float] = field(default_factory=list)
    kld: list[float] = field(default_factory=list)
    adversarial: list[float] = field(default_factory=list)
    discriminator: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    iterations: int = 0
    seconds: float = 0.0

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {
            name: np.asarray(getattr(self, name), dtype=np.float64)
            for name in ("reconstruction", "kld", "adversarial", "discriminator", "accuracy")
        }


def _index_stream(
    n: int, batch_size: int, generator: torch.Generator, device: torch.device
) -> Iterator[torch.Tensor]:
    """Endless batches of ``min(batch_size, n)`` indices: epochs of fresh random permutations."""
    size = min(batch_size, n)
    buffer = torch.empty(0, dtype=torch.long)
    while True:
        while buffer.numel() < size:
            buffer = torch.cat([buffer, torch.randperm(n, generator=generator)])
        batch, buffer = buffer[:size], buffer[size:]
        yield batch.to(device)


class VAALStrategy(RankingStrategy):
    """VAAL: a beta-VAE + latent discriminator trained afresh each round; lowest D(mu) first.

    Options: ``iterations`` (0 = derive from ``epochs``: ``ceil(epochs x pool / batch_size)``, as
    the reference code derives it), ``epochs``, ``batch_size`` (per set: each iteration sees a
    labeled and an unlabeled batch), ``image_size`` (64 or 128), ``width`` (channels of the first
    VAE block; 128 in the reference), ``latent_dim``, ``beta``, ``adversary_weight`` (lambda),
    ``lr``, ``vae_steps``, ``adversary_steps``, ``kld_reduction`` (``"mean"``: KL averaged over
    batch and latent dimensions, on the scale of the per-pixel MSE; ``"sum"``: summed over both,
    as in the reference code), ``discriminator_width``, ``init`` (``"torch"``: PyTorch's default
    initialisation; ``"kaiming"``: the reference code's Kaiming-normal one). ``beta`` is the
    VAE's KL weight; the sampling exponent is ``sampling_beta`` (with ``sampling``, see
    :class:`~alstrategies.strategy.RankingStrategy`).

    After a query, :attr:`history` holds the round's :class:`VAALHistory` and :attr:`vae` /
    :attr:`discriminator` the trained networks (in eval mode).
    """

    name = "vaal"
    family = "diversity"  # representativeness: it never looks at the segmentation model
    source = "Sinha et al., ICCV 2019"
    forward_passes = "0 (a VAE and a discriminator trained per round)"

    def __init__(
        self,
        iterations: int = 0,
        epochs: float = 6.0,
        batch_size: int = 16,
        image_size: int = 64,
        width: int = 8,
        latent_dim: int = 32,
        beta: float = 1.0,
        adversary_weight: float = 1.0,
        lr: float = 5e-4,
        vae_steps: int = 1,
        adversary_steps: int = 1,
        kld_reduction: str = "mean",
        discriminator_width: int = 512,
        init: str = "torch",
        *,
        sampling: SamplingRule = DEFAULT_SAMPLING,
        sampling_beta: float = DEFAULT_BETA,
    ) -> None:
        super().__init__(sampling=sampling, sampling_beta=sampling_beta)
        if image_size not in IMAGE_SIZES:
            raise ConfigError(f"vaal image_size must be one of {IMAGE_SIZES}, got {image_size}")
        if kld_reduction not in KLD_REDUCTIONS:
            raise ConfigError(f"vaal kld_reduction must be one of {KLD_REDUCTIONS}, got {kld_reduction!r}")
        if init not in INITS:
            raise ConfigError(f"vaal init must be one of {INITS}, got {init!r}")
        for key, value in (
            ("batch_size", batch_size),
            ("width", width),
            ("latent_dim", latent_dim),
            ("vae_steps", vae_steps),
            ("adversary_steps", adversary_steps),
            ("discriminator_width", discriminator_width),
        ):
            if value < 1:
                raise ConfigError(f"vaal {key} must be at least 1, got {value}")
        if iterations < 0 or (iterations == 0 and epochs <= 0):
            raise ConfigError("vaal needs iterations > 0, or iterations = 0 and epochs > 0")
        self.iterations = iterations
        self.epochs = epochs
        self.batch_size = batch_size
        self.image_size = image_size
        self.width = width
        self.latent_dim = latent_dim
        self.beta = beta
        self.adversary_weight = adversary_weight
        self.lr = lr
        self.vae_steps = vae_steps
        self.adversary_steps = adversary_steps
        self.kld_reduction = kld_reduction
        self.discriminator_width = discriminator_width
        self.init = init
        self.history: VAALHistory | None = None
        self.vae: VAE | None = None
        self.discriminator: Discriminator | None = None

    # -- data ------------------------------------------------------------------------------
    def num_iterations(self, pool_size: int) -> int:
        """Training iterations of one round on a pool of ``pool_size`` images."""
        if self.iterations > 0:
            return self.iterations
        return max(1, math.ceil(self.epochs * pool_size / self.batch_size))

    def prepare(self, context: QueryContext, indices: np.ndarray) -> torch.Tensor:
        """The images ``indices`` resized to ``image_size`` x ``image_size``, on the model's device."""
        size = (self.image_size, self.image_size)
        out = []
        for _, images in context.batches(indices):
            antialias = images.shape[-2] > size[0] or images.shape[-1] > size[1]
            out.append(
                F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=antialias)
            )
        return torch.cat(out)

    # -- training --------------------------------------------------------------------------
    def _kld(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        terms = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
        return terms.mean() if self.kld_reduction == "mean" else terms.sum()

    def fit(
        self, labeled: torch.Tensor, unlabeled: torch.Tensor, seed: int
    ) -> tuple[VAE, Discriminator, VAALHistory]:
        """Train a fresh VAE and discriminator on standardised labeled / unlabeled images."""
        start = time.perf_counter()
        device = unlabeled.device
        history = VAALHistory()
        with seeded_torch(seed, device):
            vae = VAE(unlabeled.shape[1], self.image_size, self.latent_dim, self.width, self.init).to(device)
            disc = Discriminator(self.latent_dim, self.discriminator_width, self.init).to(device)
            generator = torch.Generator().manual_seed(seed)
            vae_opt = torch.optim.Adam(vae.parameters(), lr=self.lr)
            disc_opt = torch.optim.Adam(disc.parameters(), lr=self.lr)
            vae.train()
            disc.train()
            labeled_batches = _index_stream(labeled.shape[0], self.batch_size, generator, device)
            unlabeled_batches = _index_stream(unlabeled.shape[0], self.batch_size, generator, device)
            iterations = self.num_iterations(labeled.shape[0] + unlabeled.shape[0])
            for _ in range(iterations):
                for _ in range(self.vae_steps):
                    xl, xu = labeled[next(labeled_batches)], unlabeled[next(unlabeled_batches)]
                    n_l = xl.shape[0]
                    x = torch.cat([xl, xu])  # one pass, so that BatchNorm sees both sets alike
                    recon, mu, logvar = vae(x)
                    rec_l, rec_u = F.mse_loss(recon[:n_l], xl), F.mse_loss(recon[n_l:], xu)
                    kld_l, kld_u = self._kld(mu[:n_l], logvar[:n_l]), self._kld(mu[n_l:], logvar[n_l:])
                    logits = disc(mu)
                    fool = F.binary_cross_entropy_with_logits(
                        logits[:n_l], torch.ones_like(logits[:n_l])
                    ) + F.binary_cross_entropy_with_logits(logits[n_l:], torch.ones_like(logits[n_l:]))
                    loss = rec_l + rec_u + self.beta * (kld_l + kld_u) + self.adversary_weight * fool
                    vae_opt.zero_grad(set_to_none=True)
                    loss.backward()
                    vae_opt.step()
                for step in range(self.adversary_steps):
                    if step > 0:  # further discriminator steps see fresh batches
                        xl, xu = labeled[next(labeled_batches)], unlabeled[next(unlabeled_batches)]
                        n_l, x = xl.shape[0], torch.cat([xl, xu])
                    with torch.no_grad():
                        mu = vae.encode(x)[0]
                    logits = disc(mu)
                    target = torch.cat(
                        [torch.ones(n_l, device=device), torch.zeros(x.shape[0] - n_l, device=device)]
                    )
                    disc_loss = F.binary_cross_entropy_with_logits(
                        logits[:n_l], target[:n_l]
                    ) + F.binary_cross_entropy_with_logits(logits[n_l:], target[n_l:])
                    disc_opt.zero_grad(set_to_none=True)
                    disc_loss.backward()
                    disc_opt.step()
                    with torch.no_grad():
                        correct = (logits > 0) == target.bool()
                        accuracy = 0.5 * (correct[:n_l].float().mean() + correct[n_l:].float().mean())
                history.reconstruction.append(0.5 * (rec_l + rec_u).item())
                history.kld.append(0.5 * (kld_l + kld_u).item())
                history.adversarial.append(fool.item())
                history.discriminator.append(disc_loss.item())
                history.accuracy.append(accuracy.item())
            history.iterations = iterations
        vae.eval()
        disc.eval()
        history.seconds = time.perf_counter() - start
        return vae, disc, history

    # -- query -----------------------------------------------------------------------------
    @torch.no_grad()
    def discriminator_scores(
        self, vae: VAE, disc: Discriminator, images: torch.Tensor, batch_size: int = 256
    ) -> torch.Tensor:
        """``D(mu)`` logits of already prepared (resized, standardised) images, batch by batch."""
        vae.eval()
        disc.eval()
        return torch.cat([disc(vae.encode(chunk)[0]) for chunk in images.split(batch_size)])

    def training_sets(self, context: QueryContext) -> tuple[torch.Tensor, torch.Tensor]:
        """The labeled and unlabeled images, resized and standardised with the pool's statistics.

        With no labeled image yet the discriminator has nothing to tell apart: the unlabeled set
        stands in for both (a degenerate round in which D(mu) stays near 0.5).
        """
        unlabeled = self.prepare(context, context.unlabeled)
        if context.labeled.size:
            labeled = self.prepare(context, context.labeled)
            everything = torch.cat([labeled, unlabeled])
        else:
            labeled = everything = unlabeled
        mean = everything.mean(dim=(0, 2, 3), keepdim=True)
        std = everything.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
        return (labeled - mean) / std, (unlabeled - mean) / std

    def score(
        self, context: QueryContext, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Train a fresh VAE and discriminator (seeded from ``rng``) and score the unlabeled images.

        Args:
            context: The pool (the segmentation model is not used).
            rng: One torch seed is drawn from it for the round's training.

        Returns:
            ``(scores, {"discriminator": D(mu)})``: the score is ``-logit D(mu)`` (float64), so the
            highest score is the lowest ``D(mu)``, the image most surely unlabeled; unlike
            ``D(mu)`` itself the logit never saturates into ties.
        """
        labeled, unlabeled = self.training_sets(context)
        self.vae, self.discriminator, self.history = self.fit(labeled, unlabeled, torch_seed(rng))
        logits = self.discriminator_scores(self.vae, self.discriminator, unlabeled, context.batch_size)
        logits = logits.double().cpu()
        return (-logits).numpy(), {"discriminator": torch.sigmoid(logits).numpy()}
