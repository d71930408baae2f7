"""Running the checks: finding the strategy to check (a registered name, a ``module:Class`` path
or a class), running every check of :data:`~alstrategies.conformance.checks.CHECKS` on it with one
:class:`CheckResult` per check and model heads, and the ``alstrategies check`` command line."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Literal

import torch

from alstrategies.conformance.checks import CHECKS
from alstrategies.conformance.fixtures import HEADS, Check, CheckResult, NotApplicable, Subject
from alstrategies.errors import ConfigError, StrategyLoadError
from alstrategies.registry import STRATEGIES
from alstrategies.strategy import QueryStrategy


def load_class(path: str) -> type:
    """Import ``module:Class`` (the current directory is importable, as with ``python -m``)."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise StrategyLoadError(f"expected a registered strategy name or module:Class, got {path!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise StrategyLoadError(f"cannot import module {module_name!r} of {path!r}: {error}") from error
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise StrategyLoadError(f"module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise StrategyLoadError(f"{path!r} is {obj!r}, not a class")
    return obj


def resolve(name_or_class: str | type) -> Subject:
    """A :class:`Subject` for a registered name, a ``module:Class`` path or a class.

    Raises :class:`~alstrategies.registry.UnknownNameError` (listing the registered names) for
    an unknown name and :class:`StrategyLoadError` for a path or entry point that does not load.
    """
    if isinstance(name_or_class, type):
        return Subject(
            name_or_class, getattr(name_or_class, "name", "") or name_or_class.__name__, registered=False
        )
    if ":" in name_or_class:
        factory = load_class(name_or_class)
        return Subject(factory, getattr(factory, "name", "") or factory.__name__, registered=False)
    try:
        factory = STRATEGIES.get(name_or_class)
    except ImportError as error:
        raise StrategyLoadError(
            f"strategy {name_or_class!r} is registered but does not import: {error}"
        ) from error
    return Subject(factory, name_or_class)


def heads_for(factory: type) -> list[str]:
    """The model heads to check ``factory`` with: its ``required_heads`` only, else both."""
    required = getattr(factory, "required_heads", None)
    return [required] if required else list(HEADS)


def _outcome(check: Check, subject: Subject, heads: str | None) -> CheckResult:
    status: Literal["pass", "fail", "skip"] = "pass"
    message = ""
    try:
        with torch.random.fork_rng(devices=[]):  # the caller's global generator is left as it was
            check(subject)
    except NotApplicable as reason:
        status, message = "skip", str(reason)
    except AssertionError as error:
        status, message = "fail", str(error)
        if not message:
            frame = traceback.extract_tb(error.__traceback__)[-1]
            message = f"assertion failed at {frame.filename}:{frame.lineno}: {frame.line}"
    except Exception as error:
        status, message = "fail", f"{type(error).__name__}: {error}"
    return CheckResult(subject.name, check.name, check.description, heads, status, message)


def check_strategy(
    name_or_class: str | type,
    options: Mapping[str, Any] | None = None,
    heads: str | None = None,
    *,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run every check of :data:`CHECKS` on a strategy; one result per (check, model heads).

    ``name_or_class`` is a registered name, a ``module:Class`` path or a class; ``options`` are
    its keyword options; ``heads`` (``"plain"`` or ``"sbc"``) overrides the heads it is checked
    with (default: its ``required_heads``, else both). ``on_result`` sees each result as it comes.
    A failing check never stops the others.
    """
    subject = resolve(name_or_class)
    subject.options = dict(options or {})
    required = getattr(subject.factory, "required_heads", None)
    if heads is not None and heads not in HEADS:
        raise ValueError(f"heads must be one of {HEADS}, got {heads!r}")
    if heads is not None and required and heads != required:
        raise ValueError(f"strategy {subject.name!r} needs heads {required!r}, not {heads!r}")
    results: list[CheckResult] = []

    def record(result: CheckResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    registration = [check for check in CHECKS if not check.per_heads]
    for check in registration:
        record(_outcome(check, subject, None))
    if not (isinstance(subject.factory, type) and issubclass(subject.factory, QueryStrategy)):
        return results  # nothing else can run on a class that is not a strategy
    for model_heads in [heads] if heads else heads_for(subject.factory):
        subject.heads = model_heads
        for check in CHECKS:
            if check.per_heads:
                record(_outcome(check, subject, model_heads))
    return results


def _strategy_options(assignments: list[str] | None) -> dict:
    """``--option KEY=VALUE`` pairs as keyword options (values parsed as TOML literals)."""
    from alstrategies.config import parse_value

    options = {}
    for assignment in assignments or []:
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option expects KEY=VALUE (e.g. passes=2), got {assignment!r}")
        options[key.strip()] = parse_value(text.strip())
    return options


def _accepts(factory: type, option: str) -> bool:
    """Whether ``factory`` takes the keyword ``option`` (or any keyword, through ``**kwargs``)."""
    import inspect

    from alstrategies.config import _kwargs_of

    takes_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(factory).parameters.values())
    return takes_any or option in _kwargs_of(factory)


def check_command(names: list[str], assignments: list[str] | None, heads: str | None) -> int:
    """``alstrategies check NAMES [--option KEY=VALUE] [--heads H]``: every conformance check
    of each strategy, one line per result; 1 when any failed."""
    options = _strategy_options(assignments)
    # an unknown or unloadable name, or an option no NAME takes, stops here before any check runs
    factories = {name: resolve(name).factory for name in names}
    for name, factory in factories.items():
        needs = getattr(factory, "required_heads", None)
        if heads and needs and needs != heads:
            raise ConfigError(f"strategy {name!r} needs --heads {needs}, not {heads}")
    for option in options:
        if not any(_accepts(factory, option) for factory in factories.values()):
            raise ConfigError(f"no strategy of {', '.join(names)} takes the option {option!r}")
    failed = 0
    for name, factory in factories.items():
        results = check_strategy(
            name,
            {key: value for key, value in options.items() if _accepts(factory, key)},
            heads,
            on_result=lambda result: print(result.line(), flush=True),
        )
        counts = {status: sum(r.status == status for r in results) for status in ("pass", "fail", "skip")}
        failed += counts["fail"]
        print(f"{name}: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    return 1 if failed else 0
