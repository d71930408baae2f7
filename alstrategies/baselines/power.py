"""Named power-sampling variants: ``power_bald``, ``power_entropy`` and ``power_sbc_al``.

Kirsch et al. (TMLR 2023, "Stochastic Batch Acquisition") draw the batch without replacement
with probabilities proportional to ``score ** beta`` instead of taking the top k, which costs
nothing and avoids the redundant batches that top-k of a single-image score tends to give. Any
ranking strategy does this with ``query.sampling = "power"`` (or
``[strategies.<name>] sampling = "power"``); these variants fix the rule under their own
registry name, so that one run can compare e.g. ``bald`` and ``power_bald`` side by side and
the result files tell them apart. Each is a subclass of its base strategy that only sets
``name`` and ``fixed_sampling``: it takes the base's options and ``sampling_beta`` (the
exponent, ``query.beta``, 1 by default), but no ``sampling``.
"""

from __future__ import annotations

from alstrategies.baselines.bald import BALDStrategy
from alstrategies.baselines.uncertainty import MaxEntropyStrategy
from alstrategies.sbcal.strategy import SBCALStrategy

_KIRSCH = "Kirsch et al., TMLR 2023"


class PowerBALDStrategy(BALDStrategy):
    """PowerBALD: BALD's scores, the batch drawn with probabilities proportional to score^beta."""

    name = "power_bald"
    fixed_sampling = "power"
    source = f"{_KIRSCH}; {BALDStrategy.source}"


class PowerEntropyStrategy(MaxEntropyStrategy):
    """Power entropy: max_entropy's scores, the batch drawn with probabilities proportional to score^beta."""

    name = "power_entropy"
    fixed_sampling = "power"
    source = f"{_KIRSCH}; {MaxEntropyStrategy.source}"


class PowerSBCALStrategy(SBCALStrategy):
    """Power SBC-AL: SBC-AL's CS, the batch drawn with probabilities proportional to (shifted) CS^beta."""

    name = "power_sbc_al"
    fixed_sampling = "power"
    source = f"{_KIRSCH}; {getattr(SBCALStrategy, 'source', '') or 'Zhou et al., MICCAI 2024'}"
