"""Named power-sampling variants: ``power_bald``, ``power_entropy`` and ``power_sbc_al``.

Kirsch et al. (TMLR 2023, "Stochastic Batch Acquisition") draw the batch without replacement
with probabilities proportional to ``score ** beta`` instead of taking the top k, which costs
nothing and avoids the redundant batches that top-k of a single-image score tends to give. Any
ranking strategy does this with ``query.sampling = "power"`` (or
``[strategies.<name>] sampling = "power"``); these variants fix the rule under their own
registry name, so that one run can compare e.g. ``bald`` and ``power_bald`` side by side and
the result files tell them apart. Each is a subclass of its base strategy that sets ``name``
and ``fixed_sampling`` and whose ``__init__`` repeats the base's options and ``sampling_beta``
(the exponent, ``query.beta``, 1 by default), but not ``sampling``: it passes
``fixed_sampling`` on instead.
"""

from __future__ import annotations

from alstrategies.baselines.bald import BALDStrategy
from alstrategies.baselines.uncertainty import MaxEntropyStrategy
from alstrategies.sbcal.scores import CosineKind
from alstrategies.sbcal.strategy import SBCALStrategy
from alstrategies.strategy import DEFAULT_BETA, Reduction, SamplingRule

_KIRSCH = "Kirsch et al., TMLR 2023"
_POWER: SamplingRule = "power"


class PowerBALDStrategy(BALDStrategy):
    """PowerBALD: BALD's scores, the batch drawn with probabilities proportional to score^beta."""

    name = "power_bald"
    fixed_sampling = _POWER
    source = f"{_KIRSCH}; {BALDStrategy.source}"

    def __init__(
        self, passes: int = 10, reduction: Reduction = "mean", *, sampling_beta: float = DEFAULT_BETA
    ) -> None:
        super().__init__(passes, reduction, sampling=_POWER, sampling_beta=sampling_beta)


class PowerEntropyStrategy(MaxEntropyStrategy):
    """Power entropy: max_entropy's scores, the batch drawn with probabilities proportional to score^beta."""

    name = "power_entropy"
    fixed_sampling = _POWER
    source = f"{_KIRSCH}; {MaxEntropyStrategy.source}"

    def __init__(self, reduction: Reduction = "mean", *, sampling_beta: float = DEFAULT_BETA) -> None:
        super().__init__(reduction, sampling=_POWER, sampling_beta=sampling_beta)


class PowerSBCALStrategy(SBCALStrategy):
    """Power SBC-AL: SBC-AL's CS, the batch drawn with probabilities proportional to (shifted) CS^beta."""

    name = "power_sbc_al"
    fixed_sampling = _POWER
    source = f"{_KIRSCH}; {getattr(SBCALStrategy, 'source', '') or 'Zhou et al., MICCAI 2024'}"

    def __init__(
        self,
        w_s: float = 0.8,
        w_b: float = 0.2,
        w_c: float = 0.6,
        w_d: float = 0.4,
        cosine: CosineKind = "standard",
        bcs_normalize: bool = True,
        *,
        sampling_beta: float = DEFAULT_BETA,
    ) -> None:
        super().__init__(
            w_s, w_b, w_c, w_d, cosine, bcs_normalize, sampling=_POWER, sampling_beta=sampling_beta
        )
