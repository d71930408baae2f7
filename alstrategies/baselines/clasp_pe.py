"""ClaSP PE: Class-stratified Scheduled Power Predictive Entropy (``clasp_pe``).

After C. T. Lüth, J. Traub, K.-C. Kahl, T. J. Bungert, L. Klein, L. Krämer, P. F. Jaeger,
K. Maier-Hein, F. Isensee, "Finally Outshining the Random Baseline: A Simple and Effective
Solution for Active Learning in 3D Biomedical Imaging", TMLR 2026 (arXiv:2601.13677), and its
reference implementation in nnActive (github.com/MIC-DKFZ/nnActive: the strategy registered as
``class_power_pe66_exp`` in ``nnactive/strategies/entropy_balanced.py``, which the paper's
analysis scripts label "ClaSP PE"; its helpers ``power_noising`` and ``exponential_schedule``
in ``nnactive/strategies/utils.py``; the class-wise entropy ``Probs.class_pred_entropy`` in
``nnactive/strategies/uncertainties.py``). nnActive queries 3D patches; here the unit is a 2D
slice, and a patch's box-filter mean becomes the mean over the slice's pixels.

**Scores** (one eval-mode pass; ``p_c(x)`` the softmax of class ``c`` at pixel ``x``, ``Omega``
the slice's pixels, ``H(x) = -sum_c p_c(x) log p_c(x)`` in nats):

- overall predictive entropy ``s(i) = 1/|Omega| sum_x H(x)`` (``max_entropy``'s score);
- class-wise predictive entropy ``s_c(i) = 1/|Omega| sum_x p_c(x) H(x)`` for each foreground
  class ``c = 1 .. C-1``: the entropy weighted by the probability of class ``c``, as nnActive
  computes it (``H * p_c`` per voxel, then the patch mean). ``sum_c s_c = s`` (background
  included). A soft weight rather than "the mean entropy over the pixels predicted ``c``" so
  that the score is defined, continuous and not dominated by a speck of a few pixels when the
  model predicts ``c`` on few or no pixels. A class predicted nowhere (no ``argmax``) still has
  ``p_c > 0`` almost everywhere: its stratum goes to the slices with the most uncertain mass of
  ``c``, where the model is closest to finding it; if ``s_c`` is 0 on every remaining slice
  (saturated softmax), the power draw below is uniform over them.

**Batch split.** Of the ``k`` slices, ``n_cls = floor(share * k)`` (``class_share``, default
``0.66``: nnActive's ``ratio_fg = 0.66``, "66% of the query budget" in its README) are split
evenly over the ``F = C - 1`` foreground classes: each gets ``n_cls // F``, and ``n_cls % F``
classes get one more. The classes are taken in a random order (one ``rng.permutation(F)``; the
first ``n_cls % F`` of that order get the extra slice, as nnActive gives the remainder to
randomly shuffled classes); each class draws its quota by ``s_c`` among the slices not yet
chosen, then the remaining ``k - n_cls`` (at least; more when a class runs out of slices) are
drawn by ``s`` among the rest. So the batch has exactly ``k`` distinct slices. (nnActive
shuffles the overall stratum in with the classes, per image; taking the classes first is our
choice for whole slices, so that a slice the overall share would take anyway cannot use up a
rare class's place.)

**Power noising.** Each stratum draws with :func:`alstrategies.sampling.sample_k` and
``sampling = "power"``: the ``q`` largest keys ``beta log s + G``, ``G ~ Gumbel(0, 1)`` i.i.d.,
i.e. without replacement with probability proportional to ``s ** beta``. nnActive's
``power_noising`` adds ``Gumbel(0, 1 / beta)`` to ``log s`` and takes the top; multiplying the
keys by ``beta > 0`` gives the same order, so the two are the same draw. Scores that are not
all positive are shifted first (:func:`alstrategies.sampling.positive_scores`; nnActive's
``log 0 = -inf`` would rank them last).

**Schedule.** ``beta_r = beta_start * (beta_end / beta_start) ** (r / R)`` for the query of
round ``r = 0 .. R - 1``, ``R`` the last round (which does not query), so the noise scale
``1 / beta`` decays exponentially: exploration early, top-k-like exploitation late. Defaults
``beta_start = 1``, ``beta_end = 100``: nnActive's ``exponential_schedule(query_steps, 1, 100)``
(``a * (b / a) ** linspace(0, 1, query_steps)``), indexed by the loop ``loop_val = 0 ..
query_steps - 2`` that queries; ``query_steps`` there counts the trainings (``R + 1`` here), so
its index ``loop_val / (query_steps - 1)`` is ``r / R`` and the value 100 itself is never used.
With the paper's ``query_steps = 5`` the betas are ``1, 3.16, 10, 31.6``. The round comes from
``QueryContext.round_index`` and ``last_round`` (the experiment loop sets both); a caller that
sets neither gets the progress ``r / R`` from the labeled fraction ``f = |labeled| / N``
instead, ``(f - f_0) / (f_R - f_0)`` clipped to ``[0, 1]`` with the default protocol's
``f_0 = 0.0667`` and ``f_R = 0.3333`` (exact for that protocol, whose budgets are evenly
spaced; other protocols should pass the round).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch

from alstrategies.errors import ConfigError
from alstrategies.ranking import eval_inference, reduce_pixels
from alstrategies.sampling import sample_k
from alstrategies.settings import ProtocolConfig
from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy

#: nnActive's defaults for ``class_power_pe66_exp``.
CLASS_SHARE = 0.66
BETA_START = 1.0
BETA_END = 100.0


def class_entropy_scores(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Overall and class-wise predictive entropy of a batch of slices.

    Args:
        logits: ``B x C x H x W`` logits.

    Returns:
        ``(s, s_c)``: ``s`` is ``B`` (the mean pixel entropy), ``s_c`` is ``B x C`` with column
        ``c`` the mean of ``p_c * H`` (column 0, background, included; the strategy ranks on
        columns ``1 ..``).
    """
    probs = torch.softmax(logits.float(), dim=1)
    entropy = torch.special.entr(probs).sum(dim=1)  # B x H x W, exact 0 for p = 0
    overall = reduce_pixels(entropy, "mean")
    classwise = (probs * entropy.unsqueeze(1)).flatten(2).mean(dim=2)
    return overall, classwise


def scheduled_beta(progress: float, start: float = BETA_START, end: float = BETA_END) -> float:
    """``start * (end / start) ** progress``: the power exponent at AL progress ``r / R`` in [0, 1]."""
    return float(start * (end / start) ** progress)


def query_progress(context: QueryContext) -> float:
    """``r / R`` of this query, from the context's round or else from its labeled fraction.

    ``r = round_index``, ``R = last_round`` when the context has both (``0`` when ``R = 0``);
    otherwise ``(f - f_0) / (f_R - f_0)`` with ``f = len(labeled) / pool size`` and the default
    protocol's fractions. Clipped to ``[0, 1]``.
    """
    if context.round_index is not None and context.last_round is not None:
        progress = context.round_index / context.last_round if context.last_round > 0 else 0.0
    else:
        protocol = ProtocolConfig()
        first, last = protocol.initial_fraction, protocol.final_fraction
        fraction = len(context.labeled) / context.pool_images.shape[0]
        progress = (fraction - first) / (last - first)
    return min(1.0, max(0.0, float(progress)))


def class_quotas(k: int, num_foreground: int, share: float, order: np.ndarray) -> np.ndarray:
    """Slices per foreground class: ``floor(share * k)`` split evenly, the remainder one each to
    the first classes of ``order`` (a permutation of ``0 .. num_foreground - 1``)."""
    quotas = np.zeros(num_foreground, dtype=np.int64)
    if num_foreground == 0:
        return quotas
    stratified = math.floor(share * k + 1e-9)
    base, extra = divmod(stratified, num_foreground)
    quotas += base
    quotas[order[:extra]] += 1
    return quotas


def stratified_power_draw(
    overall: np.ndarray,
    classwise: np.ndarray,
    k: int,
    share: float,
    beta: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The ClaSP PE batch: ``k`` distinct positions into the candidates (see the module docstring).

    Args:
        overall: ``n`` overall scores ``s``.
        classwise: ``n x F`` foreground class scores ``s_c``.
        k: Batch size, at most ``n``.
        share: The class-stratified share of ``k``.
        beta: The power exponent of this round.
        rng: The only source of randomness: one permutation, then one Gumbel draw per stratum.

    Returns:
        ``(positions, stratum)``: the chosen positions in draw order, and per candidate the
        stratum that took it (``c`` for foreground class ``c``, 0 for the overall share, -1 not
        chosen).
    """
    n, num_foreground = classwise.shape
    order = rng.permutation(num_foreground)
    quotas = class_quotas(k, num_foreground, share, order)
    stratum = np.full(n, -1, dtype=np.int64)
    chosen: list[np.ndarray] = []
    for c in order:
        free = np.flatnonzero(stratum < 0)
        quota = min(int(quotas[c]), free.size)
        if quota:
            picks = sample_k(free, classwise[free, c], quota, rng, "power", beta)
            stratum[picks] = c + 1
            chosen.append(picks)
    free = np.flatnonzero(stratum < 0)
    rest = k - int((stratum >= 0).sum())
    if rest:
        picks = sample_k(free, overall[free], rest, rng, "power", beta)
        stratum[picks] = 0
        chosen.append(picks)
    positions = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)
    return positions.astype(np.int64), stratum


class ClaSPPEStrategy(QueryStrategy):
    """ClaSP PE: class-stratified, power-noised predictive entropy with a decaying noise schedule.

    Args:
        class_share: Share of each query split evenly over the foreground classes by their
            class-wise entropy (default 0.66, nnActive's); the rest goes by the overall entropy.
        beta_start: Power exponent of the first query (default 1: the most noise).
        beta_end: Exponent the schedule reaches at the last round (default 100).

    Raises:
        ConfigError: ``class_share`` outside ``[0, 1]`` or a ``beta`` not finite and positive.
    """

    name = "clasp_pe"
    family = "uncertainty"
    source: ClassVar[str] = (
        "Lüth et al., Finally Outshining the Random Baseline, TMLR 2026 (arXiv:2601.13677); "
        "nnActive's class_power_pe66_exp (github.com/MIC-DKFZ/nnActive)"
    )
    forward_passes: ClassVar[str] = "1"

    def __init__(
        self, class_share: float = CLASS_SHARE, beta_start: float = BETA_START, beta_end: float = BETA_END
    ) -> None:
        if not 0.0 <= class_share <= 1.0:
            raise ConfigError(f"clasp_pe class_share must lie in [0, 1], got {class_share}")
        for label, value in (("beta_start", beta_start), ("beta_end", beta_end)):
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"clasp_pe {label} must be a finite number > 0, got {value}")
        self.class_share = float(class_share)
        self.beta_start = float(beta_start)
        self.beta_end = float(beta_end)

    def beta(self, context: QueryContext) -> float:
        """This query's power exponent (:func:`scheduled_beta` of :func:`query_progress`)."""
        return scheduled_beta(query_progress(context), self.beta_start, self.beta_end)

    def scores(self, context: QueryContext) -> tuple[np.ndarray, np.ndarray]:
        """``(s, s_c)`` of every unlabeled slice: ``N`` float64 and ``N x C`` float64 (column 0 background)."""
        overall: list[torch.Tensor] = []
        classwise: list[torch.Tensor] = []
        with eval_inference(context.model):
            for _, images in context.batches():
                with context.autocast():
                    logits = context.model(images).logits
                s, s_c = class_entropy_scores(logits)
                overall.append(s.cpu())
                classwise.append(s_c.cpu())
        return (
            torch.cat(overall).numpy().astype(np.float64),
            torch.cat(classwise).numpy().astype(np.float64),
        )

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        """The class strata, then the overall share, each drawn by power sampling at this round's beta."""
        overall, classwise = self.scores(context)
        positions, stratum = stratified_power_draw(
            overall, classwise[:, 1:], k, self.class_share, self.beta(context), rng
        )
        details = {f"class{c}_pe": classwise[:, c] for c in range(1, classwise.shape[1])}
        details["stratum"] = stratum
        return QueryResult(
            indices=context.unlabeled[positions],
            candidates=context.unlabeled.copy(),
            scores=overall,
            details=details,
        )
