"""Which strategies a run compares, and which network each trains (DESIGN section 5)."""

from __future__ import annotations

from alstrategies.registry import STRATEGIES
from alstrategies.settings import Settings


def default_strategies(settings: Settings) -> list[str]:
    """Every registered strategy, the controls only with ``strategies.controls = true``."""
    names = STRATEGIES.names()
    if settings.strategies.controls:
        return names
    return [name for name in names if getattr(STRATEGIES.get(name), "family", "") != "control"]


def network_of(name: str, settings: Settings) -> str:
    """The network strategy ``name`` trains: "" (the config's ``model.heads``, shared by every
    strategy) with ``protocol.networks = "shared"``; with ``"paper"`` the heads the strategy
    requires (SBC-AL: ``"sbc"``) or the plain U-Net."""
    if settings.protocol.networks == "shared":
        return ""
    return getattr(STRATEGIES.get(name), "required_heads", None) or "plain"
