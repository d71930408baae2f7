"""The check of the class itself: a :class:`QueryStrategy` named as it is registered."""

from __future__ import annotations

import re

from alstrategies.conformance.subject import Subject
from alstrategies.registry import STRATEGIES
from alstrategies.strategy import FAMILIES, QueryStrategy

_NAME = re.compile(r"[A-Za-z0-9_-]+")


def check_registered_name(subject: Subject) -> None:
    """The class is a :class:`QueryStrategy` named as it is registered, of a known ``family``."""
    factory = subject.factory
    assert isinstance(factory, type) and issubclass(factory, QueryStrategy), (
        f"{factory!r} is not a subclass of alstrategies.strategy.QueryStrategy"
    )
    name = getattr(factory, "name", "")
    assert isinstance(name, str) and _NAME.fullmatch(name), (
        f"{factory.__name__}.name = {name!r}; set a class attribute name made of letters, digits, _ or -"
    )
    family = getattr(factory, "family", None)
    assert family in FAMILIES, (
        f"{factory.__name__}.family = {family!r}; set a class attribute family, one of {FAMILIES}"
    )
    if subject.registered:
        assert name == subject.name, (
            f"{factory.__name__}.name = {name!r}, but it is registered as {subject.name!r}; make them equal"
        )
        return
    try:
        other = STRATEGIES.get(name) if name in STRATEGIES.names() else factory
    except Exception:  # another plug-in that fails to load is not this strategy's problem
        return
    assert other is factory, (
        f"the name {name!r} is already registered to {other.__module__}.{other.__qualname__}; pick another"
    )
