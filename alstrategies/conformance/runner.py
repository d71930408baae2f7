"""Running the checks on one strategy and reporting one :class:`CheckResult` per check and heads."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from typing import Any, Literal

import torch

from alstrategies.conformance.catalogue import CHECKS
from alstrategies.conformance.fixtures import HEADS
from alstrategies.conformance.loading import resolve
from alstrategies.conformance.subject import Check, CheckResult, NotApplicable, Subject
from alstrategies.strategy import QueryStrategy


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
