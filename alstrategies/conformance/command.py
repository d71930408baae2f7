"""The ``alstrategies check`` command: the conformance checks of named strategies, with
options given on the command line."""

from __future__ import annotations

from alstrategies.errors import ConfigError


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
    from alstrategies.conformance import check_strategy, resolve

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
