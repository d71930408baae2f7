"""What a check is about and what it gives: :class:`Subject`, :class:`Check`, :class:`CheckResult`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from alstrategies.conformance.fixtures import NUM_CLASSES, tiny_model
from alstrategies.strategy import QueryStrategy


class NotApplicable(Exception):
    """Raised by a check whose rule does not concern this strategy (reported as skipped; internal)."""


@dataclass
class Subject:
    """The strategy under test: its class, the name it goes by, keyword options and model heads."""

    factory: type[QueryStrategy]
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    heads: str = "plain"
    registered: bool = True  # False for a class given directly (not looked up in STRATEGIES)

    def strategy(self) -> QueryStrategy:
        """A fresh instance with :attr:`options`."""
        return self.factory(**self.options)

    def model(self, num_classes: int = NUM_CLASSES) -> nn.Module:
        """A seeded width-4 U-Net (``heads = "plain"``) or SBCNet (``"sbc"``), in eval mode."""
        return tiny_model(self.heads, num_classes)


@dataclass(frozen=True)
class Check:
    """One rule of the contract: a function of a :class:`Subject` and a one-line description."""

    name: str
    description: str
    function: Callable[[Subject], None]
    per_heads: bool = True  # False: the rule does not involve a model (run once per strategy)

    def __call__(self, subject: Subject) -> None:
        self.function(subject)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check for one strategy and model heads (``None``: heads-independent)."""

    strategy: str
    check: str
    description: str
    heads: str | None
    status: Literal["pass", "fail", "skip"]
    message: str = ""

    @property
    def passed(self) -> bool:
        """True unless the check failed (a skipped check does not fail)."""
        return self.status != "fail"

    def line(self) -> str:
        """One line for a terminal: ``PASS random [plain] description``, then any message."""
        text = f"{self.status.upper():<4} {self.strategy} [{self.heads or 'any'}] {self.description}"
        return f"{text}: {self.message}" if self.message else text
